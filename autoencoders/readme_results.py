"""The result blocks of ``autoencoders/README.md``: one function per cog block, each rendering runs published in
``results/autoencoders/``. The synthetic-lesion demo (``segment``) predates the validation split, so its
numbers are the last epoch's and the test-selected ones."""

from __future__ import annotations

from pathlib import Path

from common.results import RESULTS_ROOT, command, load_run, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "autoencoders"
README_TO_RESULTS = "../results/autoencoders"  # from autoencoders/README.md
TEST_SELECTED = "test-selected (course protocol, optimistic)"
ACCURACY_PARITY = 0.005  # bf16 keeps the CIFAR-10 test accuracy within half a point of fp32
REAL_SEGMENT = ("segment_brain_tumor", "segment_brain_tumor_aug")  # a run and its fine-tuned continuation
RIGHT = ("left", "right", "right", "right", "right", "right", "right")


def _figures(run: Path, *names: str) -> str:
    return "\n".join(f"![{run.name}: {n}]({README_TO_RESULTS}/{run.name}/{n})" for n in names if (run / n).is_file())


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _head(run: Path, config: dict, details: str) -> str:
    return (
        f"Run `results/autoencoders/{run.name}`, made with {command(config)} ({details}, device `{config['device']}`)"
    )


def cifar(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "cifar")
    head = (
        _head(
            run,
            config,
            f"seed {config['args']['seed']}, epochs: {len(m['history']['val_acc'])}, "
            f"{m['train_images']:,} training, "
            f"{m['val_images']:,} validation, {m['test_images']:,} test images",
        )
        + ":"
    )
    table = md_table(
        [
            [
                "`CifarCNN`",
                f"{m['parameters']:,}",
                f"**{_pct(m['test_acc'])}**",
                f"{_pct(m['val_acc'])} ({m['best_epoch']})",
                f"{_pct(m['test_selected_test_acc'])} (epoch {m['test_selected_epoch']})",
                f"{m['train_seconds']:,.0f} s",
            ]
        ],
        [
            "model",
            "parameters",
            "test accuracy (weights chosen on validation)",
            "validation accuracy (epoch)",
            TEST_SELECTED,
            "training time",
        ],
        RIGHT[:6],
    )
    return "\n\n".join(p for p in (head, table, _figures(run, "history.png")) if p)


def cifar_precision(results: Path = RESULTS) -> str:
    """The published CIFAR-10 run (fp32) beside the same command with ``--precision bf16``."""
    runs = [load_run(results / name) for name in ("cifar", "cifar-bf16")]
    rows = [
        [
            name,
            config["precision"],
            f"**{_pct(m['test_acc'])}**",
            f"{_pct(m['val_acc'])} ({m['best_epoch']})",
            _pct(m["test_selected_test_acc"]),
        ]
        for name, (config, m) in zip(("cifar", "cifar-bf16"), runs)
    ]
    gap = runs[1][1]["test_acc"] - runs[0][1]["test_acc"]
    return (
        md_table(
            rows,
            [
                "run",
                "precision",
                "test accuracy (weights chosen on validation)",
                "validation accuracy (epoch)",
                TEST_SELECTED,
            ],
            ("left", "left", "right", "right", "right"),
        )
        + f"\n\nTest accuracy difference {100 * gap:+.2f} points (target: within {100 * ACCURACY_PARITY:g})."
    )


def throughput(results: Path = RESULTS) -> str:
    """``python benchmark.py --throughput``: the CIFAR-10 CNN's training throughput per precision."""
    from common.speed import throughput_markdown

    config, m = load_run(results / "throughput")
    return (
        f"{command(config)} (batch {m['settings']['batch_size']}, {m['settings']['steps']} timed "
        f"steps per case and round). " + throughput_markdown(m["throughput"], "image", "images")
    )


def mnist(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "mnist")
    args, rows = config["args"], {(r["model"], r["task"]): r for r in m["table"]}
    head = _head(
        run,
        config,
        f"seed {args['seed']}, epochs per model and task: {args['epochs']}, denoising noise std {args['noise_std']:g}",
    )
    what = "test MSE (weights chosen on validation)"
    table = md_table(
        [
            [
                f"`{model}`",
                f"{rows[model, 'reconstruction']['parameters']:,}",
                f"{rows[model, 'reconstruction']['test_mse']:.5f}",
                f"{rows[model, 'denoising']['test_mse']:.5f}",
                f"{rows[model, 'reconstruction']['train_seconds']:,.0f} s + "
                f"{rows[model, 'denoising']['train_seconds']:,.0f} s",
            ]
            for model in ("LinearAutoEncoder", "AutoEncoder_CNN")
        ],
        [
            "model",
            "parameters",
            f"reconstruction {what}",
            f"denoising {what}",
            "training time (reconstruction + denoising)",
        ],
        RIGHT[:5],
    )
    lin, conv = rows["LinearAutoEncoder", "reconstruction"], rows["AutoEncoder_CNN", "reconstruction"]
    fewer = lin["parameters"] / conv["parameters"]
    ratio = f"The convolutional model has {fewer:.1f}x fewer parameters than the linear one."
    return "\n\n".join(
        [
            head[:-1] + "; test MSE per pixel against the clean test image):",
            table,
            ratio,
            _figures(run, "reconstruction.png", "denoising.png"),
        ]
    )


def _real_segment(run: Path) -> str:
    config, m = load_run(run)
    args = config["args"]
    start = (
        f" It starts from the weights `{args['init_from']}` (an earlier run, trained on the same training split)."
        if args.get("init_from")
        else ""
    )
    augmented = " The training slices are augmented (`--augment`)." if args.get("augment") else ""
    head = _head(
        run,
        config,
        f"{config['train_slices']} train / {config['val_slices']} validation / "
        f"{config['test_slices']} test slices, "
        "split per tumour type by contiguous blocks of file numbers with "
        f"{config['split']['guard']} file(s) dropped on each side of every "
        f"border; {args['size']}x{args['size']}, "
        f"seed {args['seed']}",
    )
    head += (
        f".{start}{augmented} The weights are those of epoch {m['best_epoch']} (best validation "
        f"Dice, {m['val_dice']:.3f}); "
        "the test split was scored once, with them:"
    )
    bold = lambda name, x: f"**{x:.3f}**" if name == "overall" else f"{x:.3f}"  # noqa: E731
    table = md_table(
        [
            [name, str(v["slices"]), bold(name, v["dice"]), bold(name, v["iou"])]
            for name, v in m["test_per_type"].items()
        ],
        ["test slices", "count", "Dice", "IoU"],
        RIGHT[:4],
    )
    epochs = len(m["history"]["val_dice"])
    note = (
        f"`SegmentationNet`, {m['parameters']:,} parameters, {epochs} epochs, {m['train_seconds']:,.0f} s of training."
    )
    return "\n\n".join([head, table, note, _figures(run, "test_cases.png", "history.png")])


def segment(results: Path = RESULTS, names: tuple[str, ...] = REAL_SEGMENT) -> str:
    return "\n\n".join(_real_segment(results / name) for name in names)


def segment_synthetic(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "segment")
    args = config["args"]
    head = (
        "**SYNTHETIC lesions, not the brain-tumour dataset.** "
        + _head(
            run,
            config,
            f"{args['synthetic']} real MNI152 slices with drawn-in lesions, {config['train_slices']} train / "
            f"{config['test_slices']} test, {args['size']}x{args['size']}, seed {args['seed']}",
        )
        + "; an earlier version of the code named its folder `segment`, today it is `segment_synthetic`:"
    )
    table = md_table(
        [
            [
                "`SegmentationNet`",
                f"{m['parameters']:,}",
                str(len(m["history"]["test_dice"])),
                f"{m['final_test_dice']:.3f}",
                f"{m['final_test_iou']:.3f}",
                f"{m['best_test_dice']:.3f} ({m['best_epoch']})",
                f"{m['train_seconds']:,.0f} s",
            ]
        ],
        [
            "model",
            "parameters",
            "epochs",
            "final-epoch test Dice",
            "final-epoch test IoU",
            "test-selected (optimistic) test Dice (epoch)",
            "training time",
        ],
        RIGHT,
    )
    return "\n\n".join(
        [
            head,
            "This run was made before the validation split existed: the last epoch's "
            "test scores and the "
            "test-selected (optimistic) best test Dice.",
            table,
            _figures(run, "samples.png", "test_cases.png", "history.png"),
        ]
    )


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: one line per task, test numbers of the weights chosen on validation."""
    (_, cif), (_, mni) = load_run(results / "cifar"), load_run(results / "mnist")
    mse = {(r["model"], r["task"]): f"{r['test_mse']:.5f}" for r in mni["table"]}
    rows = [["`cifar`", f"test accuracy {_pct(cif['test_acc'])} with {cif['parameters']:,} parameters"]]
    rows += [
        [
            f"`mnist` {task}",
            f"test MSE {mse['LinearAutoEncoder', task]} linear, {mse['AutoEncoder_CNN', task]} convolutional",
        ]
        for task in ("reconstruction", "denoising")
    ]
    rows += [
        [
            f"`segment` (`{name}`)",
            f"test Dice {m['test_per_type']['overall']['dice']:.3f}, IoU "
            f"{m['test_per_type']['overall']['iou']:.3f} "
            f"on the brain-tumour slices",
        ]
        for name, (_, m) in ((n, load_run(results / n)) for n in REAL_SEGMENT)
    ]
    return md_table(rows, ["run", "headline (test split)"])
