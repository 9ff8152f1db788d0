"""The result blocks of ``medical_cnn/README.md``, rendered from the published runs in ``results/medical_cnn/``.

    python -m common.readme --write medical_cnn     # after publishing runs with python -m common.publish

:func:`render_blocks` returns one Markdown block per README section. Each names the command
that made its run (rebuilt from the run's ``config.json``); a run that is not published yet
renders as a line giving the command to make it and the one to publish it.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

# README block -> (run folder, command line that makes it)
RUNS = {
    "conv": ("conv", "conv"),
    "classify": ("classify-pneumoniamnist", "classify --data-dir <your MedMNIST folder> --dataset pneumoniamnist"),
    "segment_skip": ("segment-skip", "segment --data-dir <your DRIVE folder> --study skip"),
    "segment_lr": ("segment-lr", "segment --data-dir <your DRIVE folder> --study lr"),
    "segment_augment": ("segment-augment", "segment --data-dir <your DRIVE folder> --study augment"),
    "segment_long": ("segment-long", "segment --data-dir <your DRIVE folder> --study lr --lrs 0.003 0.001 --iters 8000 --lr-schedule cosine --name segment-long"),
    "segment_pretrained": ("segment-pretrained", "segment --data-dir <your DRIVE folder> --study pretrained --iters 100 --eval-every 50 --encoder-weights imagenet"),
}
# The MLP-vs-MobileNet comparison over real MedMNIST-format files and seeds: dataset -> seeds. Seed 0 is the
# default run folder ``classify-<dataset>``, other seeds ``classify-<dataset>-seed<S>`` (made with --seed S --name ...).
CLASSIFY_GRID = {"pneumoniamnist": (0, 1, 2), "brain_tumor_mri": (0, 1, 2), "brain_tumor_mri_64": (0, 1, 2)}
DATA_PLACEHOLDER = {"classify": "<your MedMNIST folder>", "segment": "<your DRIVE folder>"}
# Flags that do not change the numbers (where, under which name, on which device), shown in the table instead.
ALWAYS_SHOWN = {"dataset", "study"}  # shown even at their defaults, so each command says what it ran
NOT_COMMAND_FLAGS = {"help", "results_root", "name", "resume", "overwrite", "device", "data_dir", "download"}


def load_run(results: Path, folder: str) -> tuple[dict, dict] | None:
    """(config, metrics) of a published run, or None when it is not there."""
    run = results / folder
    if not (run / "metrics.json").is_file() or not (run / "config.json").is_file():
        return None
    return json.loads((run / "config.json").read_text()), json.loads((run / "metrics.json").read_text())


def is_default(value, default) -> bool:
    """``value`` as read back from JSON equals the parser's ``default`` (lists and paths compared as JSON has them)."""
    if isinstance(default, Path):
        return value == str(default)
    if isinstance(default, (list, tuple)):
        return value == list(default)
    return value == default


def command_of(config: dict) -> str:
    """The command line that makes a run like this one: its sub-command and every flag that differs from the default."""
    from common.cli import COMMON_DEFAULTS
    from medical_cnn.main import QUICK, build_parser

    args, command = config["args"], config["command"]
    parts = ["python main.py", command]
    if command in DATA_PLACEHOLDER:
        parts += ["--data-dir", DATA_PLACEHOLDER[command]]
    for action in build_parser().commands[command]._actions:
        value = args.get(action.dest)
        if action.dest in NOT_COMMAND_FLAGS or not action.option_strings or value is None:
            continue
        if args.get("quick") and action.dest in QUICK[command]:
            continue  # set by --quick
        default = COMMON_DEFAULTS.get(action.dest) if action.default == argparse.SUPPRESS else action.default
        if is_default(value, default) and action.dest not in ALWAYS_SHOWN:
            continue
        flag = action.option_strings[-1]
        if isinstance(value, bool):
            parts.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            parts += [flag, *(f"{v:g}" if isinstance(v, float) else str(v) for v in (value if isinstance(value, list) else [value]))]
    return " ".join(parts)


def made_with(config: dict, metrics: dict) -> str:
    threads = config.get("cpu_threads")
    where = f"{config.get('device', '?')}, PyTorch {config.get('torch', '?')}" + (f", {threads} CPU thread{'s' * (threads != 1)}" if threads else "")
    return f"Made with `{command_of(config)}` ({where}; {metrics.get('wall_seconds', float('nan')):.0f} s)."


def missing(block: str) -> str:
    folder, command = RUNS[block]
    return (f"*Not published yet.* Make it with `cd medical_cnn && python main.py {command}`, then publish it with "
            f"`python -m common.publish medical_cnn/runs/{folder}`.")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def f3(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# --------------------------------------------------------------------------- conv
def render_conv(config: dict, metrics: dict) -> str:
    rows = metrics["timings"]
    sizes = sorted({r["size"] for r in rows})
    size = 512 if 512 in sizes else sizes[-1]
    at = sorted((r for r in rows if r["size"] == size), key=lambda r: r["kernel"])
    ms = lambda key: [f"{1000 * r[key]:.1f}" for r in at]  # noqa: E731
    text = [made_with(config, metrics), "",
            f"`discrete_2d_convolution` against `scipy.signal.correlate2d(mode=\"same\")`, best of {config['args']['repeats']}, float64; "
            f"maximum absolute difference {metrics['max_abs_error_vs_correlate2d']:.1e} over all cases:", "",
            table([f"{size}x{size}, kernel", *(str(r["kernel"]) for r in at)],
                  [["ours (ms)", *ms("ours_s")], ["`correlate2d` (ms)", *ms("scipy_correlate2d_s")], ["`convolve2d` (ms)", *ms("scipy_convolve2d_s")],
                   ["ours / `correlate2d`", *(f"{r['ratio_to_correlate2d']:.2f}" for r in at)]]), ""]
    ratios = [r["ratio_to_correlate2d"] for r in rows]
    sentence = (f"Ours takes {min(r['ratio_to_correlate2d'] for r in at):.2f}x to {max(r['ratio_to_correlate2d'] for r in at):.2f}x of "
                f"`correlate2d`'s time at {size}x{size} (target: within 3x) and {min(ratios):.2f}x to {max(ratios):.2f}x over all sizes "
                f"{sizes[0]} to {sizes[-1]}.")
    naive = [r for r in rows if r.get("naive_s") is not None]
    if naive:
        largest = max(r["size"] for r in naive)
        at_naive = [r for r in naive if r["size"] == largest]
        sentence += (f" The naive pixel loop takes {1000 * min(r['naive_s'] for r in at_naive):.0f} to {1000 * max(r['naive_s'] for r in at_naive):.0f} ms "
                     f"at {largest}x{largest} (ours: {1000 * min(r['ours_s'] for r in at_naive):.1f} to {1000 * max(r['ours_s'] for r in at_naive):.1f} ms).")
    return "\n".join(text + [sentence])


# --------------------------------------------------------------------------- classify
def render_classify(config: dict, metrics: dict) -> str:
    dataset, args = config["dataset"], config["args"]
    samples = " / ".join(f"{split} {n:,}" for split, n in dataset["samples"].items())
    names = {"mlp": f"MLP ({', '.join(map(str, args['hidden_sizes']))})", "mobilenet": "MobileNet" + (f" ({args['resize']}x{args['resize']} input)" if args.get("resize") else "")}
    best = max(metrics[m]["test_acc"] for m in names)
    rows = [[names[m], f"{metrics[m]['parameters']:,}", f"{f3(metrics[m]['best_val_acc'])} ({metrics[m]['best_epoch']})",
             f"**{f3(metrics[m]['test_acc'])}**" if metrics[m]["test_acc"] == best else f3(metrics[m]["test_acc"]), f3(metrics[m]["test_auc"])] for m in names]
    gap = metrics["mobilenet"]["test_acc"] - metrics["mlp"]["test_acc"]
    n_test = dataset["samples"]["test"]
    verdict = "met" if gap > 0 else "not met"
    return "\n".join([
        made_with(config, metrics), "",
        f"Dataset **{dataset['name']}** ({dataset['channels']} channel(s), {dataset['classes']} classes; {samples} images); "
        f"Adam lr {args['lr']:g}, batch {args['batch_size']}, {args['epochs']} epoch{'s' * (args['epochs'] != 1)}, shifts up to {args['shift']} px, "
        f"class-balanced loss: {'yes' if args['balanced'] else 'no'}.", "",
        table(["model", "parameters", "best val acc (epoch)", "test accuracy", "test AUC"], rows), "",
        f"MobileNet is {abs(gap) * 100:.1f} points {'above' if gap > 0 else 'below'} the MLP on the test split "
        f"({round(abs(gap) * n_test)} of {n_test:,} images): the target \"MobileNet above the MLP\" is **{verdict}** in this run.",
    ])


def classify_folder(dataset: str, seed: int) -> str:
    return f"classify-{dataset}" + (f"-seed{seed}" if seed else "")


def mean_std(values: list[float]) -> str:
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return f"{mean:.3f} +- {std:.3f}" if len(values) > 1 else f"{mean:.3f}"


def render_classify_grid(results: Path) -> str:
    """MLP against MobileNet per dataset: test accuracy and AUC, mean +- std over the published seeds."""
    rows, verdicts, commands = [], [], []
    for dataset, seeds in CLASSIFY_GRID.items():
        runs = {s: run for s in seeds if (run := load_run(results, classify_folder(dataset, s)))}
        if not runs:
            commands.append(f"`python main.py classify --data-dir <your MedMNIST folder> --dataset {dataset} --seed S --name classify-{dataset}-seedS` (seed 0: the default name)")
            continue
        config = next(iter(runs.values()))[0]
        size = "x".join(map(str, config["dataset"].get("image_size", []))) or "?"
        accs = {m: [metrics[m]["test_acc"] for _, metrics in runs.values()] for m in ("mlp", "mobilenet")}
        for m, label in (("mlp", "MLP"), ("mobilenet", "MobileNet")):
            aucs = [metrics[m]["test_auc"] for _, metrics in runs.values() if metrics[m]["test_auc"] is not None]
            rows.append([f"{dataset} ({size}, {config['dataset']['classes']} classes, test {config['dataset']['samples']['test']:,})", label,
                         mean_std(accs[m]), mean_std(aucs) if aucs else "n/a", ", ".join(f"{a:.3f}" for a in accs[m]), len(runs)])
        wins = sum(b > a for a, b in zip(accs["mlp"], accs["mobilenet"]))
        verdicts.append(f"{dataset}: MobileNet above the MLP in {wins} of {len(runs)} seed(s)")
    lines = [table(["dataset", "model", "test accuracy (mean +- std)", "test AUC (mean +- std)", "per seed", "seeds"], rows)] if rows else []
    if verdicts:
        lines += ["", "; ".join(verdicts) + "."]
    if commands:
        lines += ["", "Not published yet: " + "; ".join(commands) + "."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- segment
def test_of(variant: dict) -> dict:
    return variant.get("test") or {}


def render_skip(config: dict, metrics: dict) -> str:
    variants, args = metrics["variants"], config["args"]
    rows = [[name, f"{f3(test_of(v).get('dice_mean'))} +- {f3(test_of(v).get('dice_std'))}", f3(test_of(v).get("dice_pooled")), f3(test_of(v).get("auc")),
             f"{f3(v.get('best_val_dice'))} ({v.get('best_iteration', 0):,})", f"{v.get('parameters', 0):,}"] for name, v in variants.items()]
    lines = [made_with(config, metrics), "",
             f"{args['iters']:,} iterations of {args['batch_size']} random {args['patch_size']}x{args['patch_size']} patches, "
             f"`--base-channels {args['base_channels']}`; validation images (held out of training): "
             f"{', '.join(config['dataset']['images']['val'])}; test images: {len(config['dataset']['images']['test'])}.", "",
             table(["model", "test Dice (mean +- std over images)", "pooled Dice", "AUC", "best val Dice (iteration)", "parameters"], rows)]
    skip, noskip = test_of(variants.get("unet-skip", {})).get("dice_mean"), test_of(variants.get("unet-noskip", {})).get("dice_mean")
    if skip is not None and noskip is not None:
        lines += ["", f"The skip connections change the mean test Dice by {100 * (skip - noskip):+.1f} points."]
    return "\n".join(lines)


def sweep_table(metrics: dict, label: str, column) -> str:
    """A table with one column per variant: test Dice, last training loss, best val Dice, status."""
    variants = metrics["variants"]
    last_loss = lambda v: f"{v['history']['train_loss'][-1]:.3f}" if v.get("history", {}).get("train_loss") else "n/a"  # noqa: E731
    rows = [["test Dice (mean over images)", *(f3(test_of(v).get("dice_mean")) for v in variants.values())],
            ["training loss, last interval", *(last_loss(v) for v in variants.values())],
            ["best val Dice", *(f3(v.get("best_val_dice")) if v.get("status") == "ok" else "n/a" for v in variants.values())],
            ["status", *(v.get("status", "?") for v in variants.values())]]
    return table([label, *(column(name, v) for name, v in variants.items())], rows)


DRIVE_TARGET = 0.81  # issue 14: the best configuration of the full-length studies, test Dice inside the field of view


def conclusion(metrics: dict, label) -> str:
    """The variant that validation picks, its test Dice against the target, and the best test Dice for comparison."""
    variants = {name: v for name, v in metrics["variants"].items() if v.get("status") == "ok" and test_of(v)}
    if not variants:
        return "No variant finished with a test score."
    chosen = max(variants, key=lambda n: variants[n]["best_val_dice"])
    top = max(variants, key=lambda n: test_of(variants[n])["dice_mean"])
    dice = test_of(variants[chosen])["dice_mean"]
    text = (f"Validation Dice picks {label(variants[chosen])} (best val Dice {variants[chosen]['best_val_dice']:.3f}); its test Dice in the "
            f"field of view is {dice:.3f}, {'at or above' if dice >= DRIVE_TARGET else 'below'} the {DRIVE_TARGET:.2f} target.")
    if top != chosen:
        text += f" The highest test Dice, {test_of(variants[top])['dice_mean']:.3f}, is {label(variants[top])}'s (not used to choose)."
    return text


def render_lr(config: dict, metrics: dict) -> str:
    text = sweep_table(metrics, "Adam learning rate", lambda name, v: f"{v['lr']:g}")
    diverged = [f"{v['lr']:g}" for v in metrics["variants"].values() if v.get("status") == "diverged"]
    schedule = "a half-cosine decay of the learning rate to 0" if config["args"].get("lr_schedule") == "cosine" else "a constant learning rate"
    return "\n".join([made_with(config, metrics), "", text, "",
                      f"{config['args']['iters']:,} iterations per run, {schedule}. " + conclusion(metrics, lambda v: f"learning rate {v['lr']:g}")
                      + f" Diverged (non-finite loss): {', '.join(diverged) if diverged else 'none'}."])


def render_augment(config: dict, metrics: dict) -> str:
    text = sweep_table(metrics, "augmentation", lambda name, v: v["augmentation"])
    return "\n".join([made_with(config, metrics), "", text, "",
                      f"{config['args']['iters']:,} iterations per run, learning rate {config['args']['lr']:g}. "
                      + conclusion(metrics, lambda v: f"augmentation `{v['augmentation']}`")])


def render_pretrained(config: dict, metrics: dict) -> str:
    home_free = lambda text: re.sub(r"\S*(/\.cache/torch/)", r"~\1", text)  # noqa: E731  (the run's own home folder is no one else's)
    rows = [[name, v.get("status"), f3(test_of(v).get("dice_mean")), f"{v['parameters']:,}" if v.get("parameters") else "n/a", home_free(v.get("reason", ""))]
            for name, v in metrics["variants"].items()]
    return "\n".join([made_with(config, metrics), "", table(["variant", "status", "test Dice", "parameters", "note"], rows)])


RENDER = {"conv": render_conv, "classify": render_classify, "segment_skip": render_skip, "segment_lr": render_lr,
          "segment_augment": render_augment, "segment_long": render_lr, "segment_pretrained": render_pretrained}


PARITY_RUNS = ("segment-parity-fp32", "segment-parity-bf16")
DICE_PARITY = 0.005  # bf16 keeps the test Dice within this of fp32


def render_precision(results: Path) -> str:
    """The same segment run in fp32 and in bf16: test Dice and AUC of the validation-selected weights."""
    runs = [load_run(results, folder) for folder in PARITY_RUNS]
    if not all(runs):
        return ("*Not published yet.* Make it with `cd medical_cnn && python main.py segment --data-dir DRIVE --study lr "
                "--lrs 0.001 --precision fp32 --name segment-parity-fp32` (and the same with `bf16`), then publish both.")
    rows, dice = [], []
    for folder, (config, metrics) in zip(PARITY_RUNS, runs):
        (variant,) = metrics["variants"].values()
        dice.append(variant["test"]["dice_mean"])
        rows.append([folder, config["precision"], f3(variant["test"]["dice_mean"]), f3(variant["test"]["auc"]),
                     f3(variant["best_val_dice"]), variant["best_iteration"]])
    return "\n\n".join([made_with(*runs[0]) + " The bf16 run is the same command with `--precision bf16`.", table(["run", "precision", "test Dice (FOV)", "test AUC", "best validation Dice",
                                                      "best iteration"], rows),
                         f"Test Dice difference {dice[1] - dice[0]:+.4f} (target: within {DICE_PARITY:g})."])


def render_speed(results: Path) -> str:
    """``python bench.py``: the DRIVE U-Net's training throughput per precision."""
    from common.speed import throughput_markdown

    path = results / "bench" / "metrics.json"
    if not path.is_file():
        return "*Not published yet.* Make it with `cd medical_cnn && python bench.py`, then `python -m common.publish medical_cnn/runs/bench`."
    m = json.loads(path.read_text())
    s = m["settings"]
    return (f"`python bench.py` ({s['patch_size']} x {s['patch_size']} patches, batch {s['batch_size']}, base channels "
            f"{s['base_channels']}, {s['steps']} timed steps per case and round). "
            + throughput_markdown(m["throughput"], "patch", "patches"))


def render_blocks(results: Path) -> dict[str, str]:
    """Every README block: the published run rendered, or the commands that make and publish it."""
    blocks = {}
    for block, (folder, _) in RUNS.items():
        run = load_run(Path(results), folder)
        blocks[block] = RENDER[block](*run) if run else missing(block)
    blocks["classify_seeds"] = render_classify_grid(Path(results))
    blocks["segment_precision"] = render_precision(Path(results))
    blocks["segment_speed"] = render_speed(Path(results))
    return blocks
