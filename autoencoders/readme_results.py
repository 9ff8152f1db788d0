"""The result blocks of autoencoders/README.md, rendered from the published runs in ``results/autoencoders``.

    python -m common.readme --write autoencoders    # rewrite the blocks
    python -m common.readme --check autoencoders    # the tests: README == results

Blocks: ``cifar`` (run ``cifar``), ``mnist`` (run ``mnist``) and ``segment_synthetic`` (the offline
demo on SYNTHETIC lesions: run ``segment_synthetic``, or a run ``segment`` whose config says it used
the synthetic data). Only these runs are rendered; STL-10 and the real brain-tumour data are not run here.
"""

from __future__ import annotations

import json
from pathlib import Path

README_TO_RESULTS = "../results/autoencoders"  # from autoencoders/README.md
SHOWN_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "noise_std", "synthetic", "size", "sample_every", "seed")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _args(config: dict) -> dict:
    """The run's arguments: under ``"args"`` (current runs) or at the top level (runs of the earlier code)."""
    return config.get("args", config)


def command(task: str, args: dict, data: str | None) -> str:
    """``python main.py TASK ...`` with every option that differs from today's default."""
    from autoencoders.main import TASKS, build_parser

    defaults = vars(build_parser().parse_args([task]))
    defaults["epochs"] = 1 if args.get("quick") else TASKS[task][2]["epochs"]
    parts = ["python main.py", task] + ([f"--data-dir {data}"] if data else [])
    for key in SHOWN_FLAGS:
        if key in args and key in defaults and args[key] != defaults[key]:
            parts.append(f"--{key.replace('_', '-')} {args[key]:g}" if isinstance(args[key], float) else f"--{key.replace('_', '-')} {args[key]}")
    return " ".join(parts + (["--quick"] if args.get("quick") else []))


def missing(name: str, cmd: str) -> str:
    return (f"_No published run `{name}` yet: make it with `cd autoencoders && {cmd}`, then publish it from the "
            f"repository root with `python -m common.publish autoencoders/runs/{name}`._")


def _figures(run: Path, *names: str) -> str:
    return "\n".join(f"![{run.name}: {n}]({README_TO_RESULTS}/{run.name}/{n})" for n in names if (run / n).is_file())


def _run(results: Path, name: str) -> tuple[Path, dict, dict, dict] | None:
    """``(folder, config, arguments, metrics)`` of the published run ``name``, or ``None``."""
    run = results / name
    if not (run / "metrics.json").is_file():
        return None
    config = _load(run / "config.json")
    return run, config, _args(config), _load(run / "metrics.json")


def render_cifar(results: Path) -> str:
    found = _run(results, "cifar")
    if found is None:
        return missing("cifar", "python main.py cifar --data-dir DATA")
    run, config, args, m = found
    head = (f"Run `results/autoencoders/{run.name}`, made with `{command('cifar', args, 'DATA')}` "
            f"(seed {args['seed']}, epochs: {len(m['history']['test_acc'])}, {m['train_images']:,} training and "
            f"{m['test_images']:,} test images, device `{config['device']}`):")  # fmt: skip
    table = ("| model | parameters | final test accuracy | best test accuracy over the epochs | training time |\n"
             "| --- | ---: | ---: | ---: | ---: |\n"
             f"| `CifarCNN` | {m['parameters']:,} | {100 * m['final_test_acc']:.2f} % | {100 * m['best_test_acc']:.2f} % "
             f"| {m['train_seconds']:,.0f} s |")  # fmt: skip
    return "\n\n".join(p for p in (head, table, _figures(run, "history.png")) if p)


def render_mnist(results: Path) -> str:
    found = _run(results, "mnist")
    if found is None:
        return missing("mnist", "python main.py mnist --data-dir DATA")
    run, config, args, m = found
    rows = {(r["model"], r["task"]): r for r in m["table"]}
    head = (f"Run `results/autoencoders/{run.name}`, made with `{command('mnist', args, 'DATA')}` (seed {args['seed']}, "
            f"epochs per model and task: {args['epochs']}, denoising noise std {args['noise_std']:g}, device `{config['device']}`; "
            "test MSE per pixel against the clean test image):")  # fmt: skip
    lines = ["| model | parameters | reconstruction test MSE | denoising test MSE | training time (reconstruction + denoising) |",
             "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for model in ("LinearAutoEncoder", "AutoEncoder_CNN"):
        rec, den = rows[(model, "reconstruction")], rows[(model, "denoising")]
        lines.append(f"| `{model}` | {rec['parameters']:,} | {rec['test_mse']:.5f} | {den['test_mse']:.5f} "
                     f"| {rec['train_seconds']:,.0f} s + {den['train_seconds']:,.0f} s |")  # fmt: skip
    lin, conv = rows[("LinearAutoEncoder", "reconstruction")], rows[("AutoEncoder_CNN", "reconstruction")]
    ratio = f"The convolutional model has {lin['parameters'] / conv['parameters']:.1f}x fewer parameters than the linear one."
    return "\n\n".join(p for p in (head, "\n".join(lines), ratio, _figures(run, "reconstruction.png", "denoising.png")) if p)


def synthetic_run(results: Path) -> tuple[Path, dict, dict, dict] | None:
    """The published segmentation run on SYNTHETIC lesions, if any (a real-data run is never returned)."""
    for name in ("segment_synthetic", "segment"):
        found = _run(results, name)
        if found is not None and "SYNTHETIC" in found[1].get("dataset", "") and found[2].get("synthetic"):
            return found
    return None


def _folder_note(run: Path, args: dict) -> str:
    """Say so when the published folder is not the one the command writes today (runs of the earlier code)."""
    expected = "segment_synthetic" + ("_quick" if args.get("quick") else "")
    if run.name in (expected, args.get("name"), args.get("run_name")):  # the default, or the folder asked for by name
        return ""
    return f"; an earlier version of the code named its folder `{run.name}`, today it is `{expected}`"


def render_segment_synthetic(results: Path) -> str:
    found = synthetic_run(results)
    if found is None:
        return missing("segment_synthetic", "python main.py segment --synthetic 200 --epochs 8")
    run, config, args, m = found
    head = (f"**SYNTHETIC lesions, not the brain-tumour dataset.** Run `results/autoencoders/{run.name}`, made with "
            f"`{command('segment', args, None)}` ({args['synthetic']} real MNI152 slices with drawn-in lesions, "
            f"{config['train_slices']} train / {config['test_slices']} test, {args['size']}x{args['size']}, "
            f"seed {args['seed']}, device `{config['device']}`)" + _folder_note(run, args) + ":")  # fmt: skip
    table = ("| model | parameters | epochs | final test Dice | final test IoU | best test Dice (epoch) | training time |\n"
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
             f"| `SegmentationNet` | {m['parameters']:,} | {len(m['history']['test_dice'])} | {m['final_test_dice']:.3f} "
             f"| {m['final_test_iou']:.3f} | {m['best_test_dice']:.3f} ({m['best_epoch']}) | {m['train_seconds']:,.0f} s |")  # fmt: skip
    return "\n\n".join(p for p in (head, table, _figures(run, "samples.png", "history.png")) if p)


def render_blocks(results: Path) -> dict[str, str]:
    """Every result block of the README, from the published runs in ``results``."""
    results = Path(results)
    return {"cifar": render_cifar(results), "mnist": render_mnist(results), "segment_synthetic": render_segment_synthetic(results)}
