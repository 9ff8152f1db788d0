"""The result blocks of ``medical_cnn/README.md``, rendered by cog from the runs published in ``results/medical_cnn/``:
each is its runs' provenance lines (:func:`lab.results.made_with`) and one table; the headline is a table only."""

from statistics import mean, stdev

from lab.results import RESULTS_ROOT, load_run, made_with, md_table, show  # noqa: F401  (show: for the README)
from lab.speed import throughput_markdown

RESULTS, MODELS = RESULTS_ROOT / "medical_cnn", ("mlp", "mobilenet")
DATASETS, SEEDS = ("pneumoniamnist", "brain_tumor_mri", "brain_tumor_mri_64"), (0, 1, 2)  # classify-<d>[-seed<s>]
DRIVE_TARGET, DICE_PARITY = 0.81, 0.005  # test Dice in the field of view; bf16 keeps fp32's within this
HEADLINE = "conv classify-pneumoniamnist segment-skip segment-long segment-parity-fp32 segment-parity-bf16".split()
SEGMENT = "status dice_mean dice_std dice_pooled auc best_val_dice best_iteration loss parameters".split()


def block(results, names: list[str], rows: list[list], headers: str) -> str:
    """Provenance lines of the named runs, then a table: None as n/a, floats to 3 decimals, ints with commas."""
    lines = [made_with(results / n, c, m.get("wall_seconds")) for n in names for c, m in [load_run(results / n)]]
    cells = [[{float: "{:.3f}", int: "{:,}", type(None): "n/a"}.get(type(c), "{}").format(c) for c in r] for r in rows]
    return "\n\n".join([*lines, md_table(cells, headers.split("|"))])


def chosen(m: dict) -> dict | None:
    """The variant of a segment run with test scores that validation Dice picks."""
    return max((v for v in m["variants"].values() if v.get("test")), key=lambda v: v["best_val_dice"], default=None)


def headline(results=RESULTS) -> str:
    """The table at the top of the README: one measure per experiment, with its target."""
    conv, cls, skip, long, fp32, bf16 = (load_run(results / name)[1] for name in HEADLINE)
    skip, fp32, bf16 = ([v["test"]["dice_mean"] for v in m["variants"].values()] for m in (skip, fp32, bf16))
    acc = " / ".join(f"{cls[k]['test_acc']:.3f}" for k in MODELS)
    rows = [
        ["`conv`", "worst time over `correlate2d`'s, 512x512", conv["worst_ratio_at_512"], "at most 3"],
        ["`conv`", "largest difference to `correlate2d`", f"{conv['max_abs_error_vs_correlate2d']:.1e}", ""],
        ["`classify-pneumoniamnist`", "test accuracy, MLP / MobileNet", acc, "MobileNet above"],
        ["`segment-skip`", "test Dice, with / without skips", f"{skip[0]:.3f} / {skip[1]:.3f}", ""],
        ["`segment-long`", "test Dice of validation's pick", chosen(long)["test"]["dice_mean"], f">= {DRIVE_TARGET}"],
        ["`segment-parity-*`", "test Dice, bf16 - fp32", f"{bf16[0] - fp32[0]:+.4f}", f"within {DICE_PARITY}"],
    ]
    return block(results, [], rows, "run|measure|value|target")


def conv(results=RESULTS) -> str:
    """Milliseconds per call of ours, scipy's and the naive loop, and our time over ``correlate2d``'s."""
    ms, t = "ours_s scipy_correlate2d_s scipy_convolve2d_s naive_s".split(), load_run(results / "conv")[1]["timings"]
    rows = [[r["size"], r["kernel"], r["ratio_to_correlate2d"], *(r.get(k) and 1000 * r[k] for k in ms)] for r in t]
    headers = "image size|kernel|ours / `correlate2d`|ours (ms)|`correlate2d` (ms)|`convolve2d` (ms)|naive loop (ms)"
    return block(results, ["conv"], rows, headers)


def classify(results=RESULTS) -> str:
    """MLP against MobileNet per dataset: test accuracy per seed, its mean and std, and test AUC's mean and std."""
    rows, names = [], [f"classify-{d}" + (f"-seed{s}" if s else "") for d in DATASETS for s in SEEDS]
    for i, dataset in enumerate(DATASETS):
        ms = [load_run(results / name)[1] for name in names[i * len(SEEDS) : (i + 1) * len(SEEDS)]]
        for k in MODELS:
            acc, auc = ([m[k][key] for m in ms] for key in ("test_acc", "test_auc"))
            rows.append([dataset, k, ms[0][k]["parameters"], *acc, mean(acc), stdev(acc), mean(auc), stdev(auc)])
    seeds = "|".join(f"seed {s}" for s in SEEDS)
    return block(results, names, rows, f"dataset|model|parameters|test accuracy, {seeds}|mean|std|test AUC, mean|std")


def segment(*names: str, results=RESULTS) -> str:
    """Every variant of the named segment runs, one row each, marking the one validation Dice picks in each run."""
    rows = []
    for n, m in ((n, load_run(results / n)[1]) for n in names):
        for k, v in m["variants"].items():
            flat = {**v, **(v.get("test") or {}), "loss": ((v.get("history") or {}).get("train_loss") or [None])[-1]}
            rows.append([f"{n}: {k}" if len(names) > 1 else k, *map(flat.get, SEGMENT), "yes" * (v is chosen(m))])
    headers = "variant|status|test Dice|std over images|pooled Dice|AUC|best val Dice|at iteration|training loss, last"
    return block(results, names, rows, f"{headers}|parameters|chosen on validation (target: test Dice {DRIVE_TARGET})")


def segment_speed(results=RESULTS) -> str:
    """``python -m lab.medical_cnn.bench``: the DRIVE U-Net's training throughput per precision."""
    config, m = load_run(results / "bench")
    return f"{made_with(results / 'bench', config)}\n\n" + throughput_markdown(m["throughput"], "patch", "patches")
