"""The result blocks of ``medical_cnn/README.md``: one function per cog block, each rendering runs published in
``results/medical_cnn/``, starting with the command that made them as their ``config.json`` records it."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

from common.results import RESULTS_ROOT, command, load_run, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "medical_cnn"
# The MLP-vs-MobileNet comparison: dataset -> seeds (seed 0 is ``classify-<dataset>``,
# others ``classify-<dataset>-seed<S>``).
CLASSIFY_GRID = {"pneumoniamnist": (0, 1, 2), "brain_tumor_mri": (0, 1, 2), "brain_tumor_mri_64": (0, 1, 2)}
PARITY_RUNS = ("segment-parity-fp32", "segment-parity-bf16")
DICE_PARITY = 0.005  # bf16 keeps the test Dice within this of fp32
DRIVE_TARGET = 0.81  # issue 14: the best configuration of the full-length studies, test Dice inside the field of view


def f3(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def made_with(config: dict, metrics: dict) -> str:
    return (
        f"Made with {command(config)} ({config['device']}, PyTorch {config['torch']}, {config['cpu_threads']} CPU "
        f"thread{'s' * (config['cpu_threads'] != 1)}; {metrics['wall_seconds']:.0f} s)."
    )


def conv(results: Path = RESULTS) -> str:
    config, m = load_run(results / "conv")
    rows, sizes = m["timings"], sorted({r["size"] for r in m["timings"]})
    size = 512 if 512 in sizes else sizes[-1]
    at = sorted((r for r in rows if r["size"] == size), key=lambda r: r["kernel"])
    ms = lambda key: [f"{1000 * r[key]:.1f}" for r in at]  # noqa: E731
    table = md_table(
        [
            ["ours (ms)", *ms("ours_s")],
            ["`correlate2d` (ms)", *ms("scipy_correlate2d_s")],
            ["`convolve2d` (ms)", *ms("scipy_convolve2d_s")],
            ["ours / `correlate2d`", *(f"{r['ratio_to_correlate2d']:.2f}" for r in at)],
        ],
        [f"{size}x{size}, kernel", *(str(r["kernel"]) for r in at)],
        ("left", *["right"] * len(at)),
    )
    ratios, naive = [r["ratio_to_correlate2d"] for r in rows], [r for r in rows if r.get("naive_s") is not None]
    at_naive = [r for r in naive if r["size"] == max(r["size"] for r in naive)]
    return "\n".join(
        [
            made_with(config, m),
            "",
            f"`discrete_2d_convolution` against "
            f'`scipy.signal.correlate2d(mode="same")`, best of '
            f"{config['args']['repeats']}, float64; maximum absolute difference "
            f"{m['max_abs_error_vs_correlate2d']:.1e} over all cases:",
            "",
            table,
            "",
            f"Ours takes {min(r['ratio_to_correlate2d'] for r in at):.2f}x to "
            f"{max(r['ratio_to_correlate2d'] for r in at):.2f}x of "
            f"`correlate2d`'s time at {size}x{size} (target: within 3x) and {min(ratios):.2f}x to "
            f"{max(ratios):.2f}x over all sizes "
            f"{sizes[0]} to {sizes[-1]}. The naive pixel loop takes "
            f"{1000 * min(r['naive_s'] for r in at_naive):.0f} to "
            f"{1000 * max(r['naive_s'] for r in at_naive):.0f} ms at "
            f"{at_naive[0]['size']}x{at_naive[0]['size']} (ours: "
            f"{1000 * min(r['ours_s'] for r in at_naive):.1f} to {1000 * max(r['ours_s'] for r in at_naive):.1f} ms).",
        ]
    )


def classify(results: Path = RESULTS) -> str:
    config, m = load_run(results / "classify-pneumoniamnist")
    dataset, args = config["dataset"], config["args"]
    names = {"mlp": f"MLP ({', '.join(map(str, args['hidden_sizes']))})", "mobilenet": "MobileNet"}
    best = max(m[k]["test_acc"] for k in names)
    rows = [
        [
            names[k],
            f"{m[k]['parameters']:,}",
            f"{f3(m[k]['best_val_acc'])} ({m[k]['best_epoch']})",
            f"**{f3(m[k]['test_acc'])}**" if m[k]["test_acc"] == best else f3(m[k]["test_acc"]),
            f3(m[k]["test_auc"]),
        ]
        for k in names
    ]
    gap, n_test = m["mobilenet"]["test_acc"] - m["mlp"]["test_acc"], dataset["samples"]["test"]
    return "\n".join(
        [
            made_with(config, m),
            "",
            f"Dataset **{dataset['name']}** ({dataset['channels']} channel(s), {dataset['classes']} classes; "
            f"{' / '.join(f'{split} {n:,}' for split, n in dataset['samples'].items())} images); Adam lr "
            f"{args['lr']:g}, batch "
            f"{args['batch_size']}, {args['epochs']} epoch{'s' * (args['epochs'] != 1)}, shifts up to "
            f"{args['shift']} px, class-balanced loss: {'yes' if args['balanced'] else 'no'}.",
            "",
            md_table(
                rows,
                ["model", "parameters", "best val acc (epoch)", "test accuracy", "test AUC"],
                ("left", *["right"] * 4),
            ),
            "",
            f"MobileNet is {abs(gap) * 100:.1f} points {'above' if gap > 0 else 'below'} the MLP on the "
            f"test split ({round(abs(gap) * n_test)} "
            f'of {n_test:,} images): the target "MobileNet above the MLP" is '
            f"**{'met' if gap > 0 else 'not met'}** in this run.",
        ]
    )


def _mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} +- {statistics.stdev(values):.3f}"


def classify_seeds(results: Path = RESULTS) -> str:
    """MLP against MobileNet per dataset: test accuracy and AUC, mean +- std over the seeds."""
    rows, verdicts = [], []
    for dataset, seeds in CLASSIFY_GRID.items():
        runs = [load_run(results / (f"classify-{dataset}" + (f"-seed{s}" if s else ""))) for s in seeds]
        d = runs[0][0]["dataset"]
        acc = {k: [m[k]["test_acc"] for _, m in runs] for k in ("mlp", "mobilenet")}
        rows += [
            [
                f"{dataset} ({'x'.join(map(str, d['image_size']))}, {d['classes']} classes, test "
                f"{d['samples']['test']:,})",
                label,
                _mean_std(acc[k]),
                _mean_std([m[k]["test_auc"] for _, m in runs]),
                ", ".join(f"{a:.3f}" for a in acc[k]),
                str(len(runs)),
            ]
            for k, label in (("mlp", "MLP"), ("mobilenet", "MobileNet"))
        ]
        verdicts.append(
            f"{dataset}: MobileNet above the MLP in "
            f"{sum(b > a for a, b in zip(acc['mlp'], acc['mobilenet']))} of {len(runs)} "
            f"seed(s)"
        )
    headers = ["dataset", "model", "test accuracy (mean +- std)", "test AUC (mean +- std)", "per seed", "seeds"]
    return (
        md_table(rows, headers, ("left", "left", "right", "right", "left", "right"))
        + "\n\n"
        + "; ".join(verdicts)
        + "."
    )


def segment_skip(results: Path = RESULTS) -> str:
    config, m = load_run(results / "segment-skip")
    args, variants = config["args"], m["variants"]
    rows = [
        [
            name,
            f"{f3(v['test']['dice_mean'])} +- {f3(v['test']['dice_std'])}",
            f3(v["test"]["dice_pooled"]),
            f3(v["test"]["auc"]),
            f"{f3(v['best_val_dice'])} ({v['best_iteration']:,})",
            f"{v['parameters']:,}",
        ]
        for name, v in variants.items()
    ]
    headers = [
        "model",
        "test Dice (mean +- std over images)",
        "pooled Dice",
        "AUC",
        "best val Dice (iteration)",
        "parameters",
    ]
    return "\n".join(
        [
            made_with(config, m),
            "",
            f"{args['iters']:,} iterations of {args['batch_size']} random "
            f"{args['patch_size']}x{args['patch_size']} patches, "
            f"`--base-channels {args['base_channels']}`; validation images (held out of training): "
            f"{', '.join(config['dataset']['images']['val'])}; test images: "
            f"{len(config['dataset']['images']['test'])}.",
            "",
            md_table(rows, headers, ("left", *["right"] * 5)),
            "",
            "The skip connections change the mean test Dice by "
            f"{100 * (variants['unet-skip']['test']['dice_mean'] - variants['unet-noskip']['test']['dice_mean']):+.1f} "
            f"points.",
        ]
    )


def _study_table(metrics: dict, label: str, column) -> str:
    """One column per variant: test Dice, last training loss, best val Dice, status."""
    vs = metrics["variants"].values()  # a diverged variant has no test scores and may have no loss yet
    rows = [
        ["test Dice (mean over images)", *(f3((v.get("test") or {}).get("dice_mean")) for v in vs)],
        [
            "training loss, last interval",
            *(f"{v['history']['train_loss'][-1]:.3f}" if v["history"].get("train_loss") else "n/a" for v in vs),
        ],
        ["best val Dice", *(f3(v["best_val_dice"]) if v["status"] == "ok" else "n/a" for v in vs)],
        ["status", *(v["status"] for v in vs)],
    ]
    return md_table(rows, [label, *(column(v) for v in vs)], ("left", *["right"] * len(vs)))


def _conclusion(metrics: dict, label) -> str:
    """The variant validation picks, its test Dice against the target, and the best test Dice for comparison."""
    variants = {name: v for name, v in metrics["variants"].items() if v["status"] == "ok" and v.get("test")}
    chosen = max(variants, key=lambda n: variants[n]["best_val_dice"])
    top = max(variants, key=lambda n: variants[n]["test"]["dice_mean"])
    dice = variants[chosen]["test"]["dice_mean"]
    text = (
        f"Validation Dice picks {label(variants[chosen])} (best val Dice "
        f"{variants[chosen]['best_val_dice']:.3f}); its test Dice in the "
        f"field of view is {dice:.3f}, {'at or above' if dice >= DRIVE_TARGET else 'below'} the "
        f"{DRIVE_TARGET:.2f} target."
    )
    if top != chosen:
        best = variants[top]["test"]["dice_mean"]
        text += f" The highest test Dice, {best:.3f}, is {label(variants[top])}'s (not used to choose)."
    return text


def segment_lr(results: Path = RESULTS, folder: str = "segment-lr") -> str:
    config, m = load_run(results / folder)
    diverged = [f"{v['lr']:g}" for v in m["variants"].values() if v["status"] == "diverged"]
    schedule = (
        "a half-cosine decay of the learning rate to 0"
        if config["args"]["lr_schedule"] == "cosine"
        else "a constant learning rate"
    )
    return "\n".join(
        [
            made_with(config, m),
            "",
            _study_table(m, "Adam learning rate", lambda v: f"{v['lr']:g}"),
            "",
            f"{config['args']['iters']:,} iterations per run, {schedule}. "
            + _conclusion(m, lambda v: f"learning rate {v['lr']:g}")
            + f" Diverged (non-finite loss): {', '.join(diverged) or 'none'}.",
        ]
    )


def segment_long(results: Path = RESULTS) -> str:
    return segment_lr(results, "segment-long")


def segment_augment(results: Path = RESULTS) -> str:
    config, m = load_run(results / "segment-augment")
    return "\n".join(
        [
            made_with(config, m),
            "",
            _study_table(m, "augmentation", lambda v: v["augmentation"]),
            "",
            f"{config['args']['iters']:,} iterations per run, learning rate {config['args']['lr']:g}. "
            + _conclusion(m, lambda v: f"augmentation `{v['augmentation']}`"),
        ]
    )


def segment_pretrained(results: Path = RESULTS) -> str:
    config, m = load_run(results / "segment-pretrained")
    home_free = lambda text: re.sub(r"\S*(/\.cache/torch/)", r"~\1", text)  # noqa: E731  (the run's own home folder is no one else's)
    rows = [
        [
            name,
            v["status"],
            f3((v.get("test") or {}).get("dice_mean")),
            f"{v['parameters']:,}" if v.get("parameters") else "n/a",
            home_free(v.get("reason", "")),
        ]
        for name, v in m["variants"].items()
    ]
    return made_with(config, m) + "\n\n" + md_table(rows, ["variant", "status", "test Dice", "parameters", "note"])


def segment_precision(results: Path = RESULTS) -> str:
    """The same segment run in fp32 and in bf16: test Dice and AUC of the validation-selected weights."""
    runs = [load_run(results / folder) for folder in PARITY_RUNS]
    rows = [
        [
            folder,
            config["precision"],
            f3(v["test"]["dice_mean"]),
            f3(v["test"]["auc"]),
            f3(v["best_val_dice"]),
            str(v["best_iteration"]),
        ]
        for folder, (config, m) in zip(PARITY_RUNS, runs)
        for v in m["variants"].values()
    ]
    dice = [v["test"]["dice_mean"] for _, m in runs for v in m["variants"].values()]
    return "\n\n".join(
        [
            f"{made_with(*runs[0])} The bf16 run is {command(runs[1][0])}.",
            md_table(
                rows,
                ["run", "precision", "test Dice (FOV)", "test AUC", "best validation Dice", "best iteration"],
                ("left", "left", *["right"] * 4),
            ),
            f"Test Dice difference {dice[1] - dice[0]:+.4f} (target: within {DICE_PARITY:g}).",
        ]
    )


def segment_speed(results: Path = RESULTS) -> str:
    """``python bench.py``: the DRIVE U-Net's training throughput per precision."""
    from common.speed import throughput_markdown

    config, m = load_run(results / "bench")
    s = m["settings"]
    return (
        f"{command(config)} ({s['patch_size']} x {s['patch_size']} patches, batch {s['batch_size']}, base channels "
        f"{s['base_channels']}, {s['steps']} timed steps per case and round). "
        + throughput_markdown(m["throughput"], "patch", "patches")
    )


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: one line per experiment, test numbers."""
    conv_m, cls, skip, long = (
        load_run(results / name)[1] for name in ("conv", "classify-pneumoniamnist", "segment-skip", "segment-long")
    )
    at512 = [r["ratio_to_correlate2d"] for r in conv_m["timings"] if r["size"] == 512]
    chosen = max(long["variants"].values(), key=lambda v: v["best_val_dice"])
    skip = {k: v["test"]["dice_mean"] for k, v in skip["variants"].items()}
    return md_table(
        [
            ["`conv`", f"ours takes {min(at512):.2f}x to {max(at512):.2f}x of `correlate2d`'s time at 512x512"],
            [
                "`classify` (pneumoniamnist)",
                f"test accuracy MLP {cls['mlp']['test_acc']:.3f}, MobileNet {cls['mobilenet']['test_acc']:.3f}",
            ],
            [
                "`segment --study skip`",
                f"test Dice {skip['unet-skip']:.3f} with skip connections, {skip['unet-noskip']:.3f} without",
            ],
            [
                "`segment-long`",
                f"test Dice {chosen['test']['dice_mean']:.3f} at learning rate "
                f"{chosen['lr']:g} (chosen on validation; "
                f"target {DRIVE_TARGET:.2f})",
            ],
        ],
        ["run", "headline (test split)"],
    )
