"""The result blocks of autoencoders/README.md, rendered from the published runs in ``results/autoencoders``.

    python -m common.readme --write autoencoders    # rewrite the blocks
    python -m common.readme --check autoencoders    # the tests: README == results

Blocks: ``cifar`` (run ``cifar``), ``mnist`` (run ``mnist``), ``segment`` (the brain-tumour set: a run
``segment``, or any published ``segment*`` run on the real data) and ``segment_synthetic`` (the offline
demo on SYNTHETIC lesions: run ``segment_synthetic``, or a run ``segment`` whose config says it used
the synthetic data). STL-10 is not rendered (not run here).

Headline numbers are the test scores of the weights chosen on the validation split. Runs made before
the validation split existed (their metrics have no ``val_*`` key) only have test-selected or
final-epoch numbers; they are rendered and labelled as such.
"""

from __future__ import annotations

import json
from pathlib import Path

README_TO_RESULTS = "../results/autoencoders"  # from autoencoders/README.md
SHOWN_FLAGS = ("epochs", "batch_size", "lr", "weight_decay", "noise_std", "val_fraction", "synthetic", "size", "guard", "sample_every",
               "seed", "augment", "init_from")  # fmt: skip
TEST_SELECTED = "test-selected (course protocol, optimistic)"


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
            if isinstance(args[key], bool):
                parts.append(f"--{key.replace('_', '-')}")
                continue
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


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def render_cifar(results: Path) -> str:
    found = _run(results, "cifar")
    if found is None:
        return missing("cifar", "python main.py cifar --data-dir DATA")
    run, config, args, m = found
    epochs = len(m["history"].get("val_acc", m["history"].get("test_acc", [])))
    val = f"{m['val_images']:,} validation, " if "val_images" in m else ""
    head = (f"Run `results/autoencoders/{run.name}`, made with `{command('cifar', args, 'DATA')}` "
            f"(seed {args['seed']}, epochs: {epochs}, {m['train_images']:,} training, {val}"
            f"{m['test_images']:,} test images, device `{config['device']}`):")  # fmt: skip
    if "val_acc" in m:
        table = ("| model | parameters | test accuracy (weights chosen on validation) | validation accuracy (epoch) "
                 f"| {TEST_SELECTED} | training time |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
                 f"| `CifarCNN` | {m['parameters']:,} | **{_pct(m['test_acc'])}** | {_pct(m['val_acc'])} ({m['best_epoch']}) "
                 f"| {_pct(m['test_selected_test_acc'])} (epoch {m['test_selected_epoch']}) | {m['train_seconds']:,.0f} s |")  # fmt: skip
    else:
        table = ("This run was made before the validation split existed: it has only the last epoch's and the "
                 f"{TEST_SELECTED} test accuracy.\n\n"
                 f"| model | parameters | final-epoch test accuracy | {TEST_SELECTED} | training time |\n"
                 "| --- | ---: | ---: | ---: | ---: |\n"
                 f"| `CifarCNN` | {m['parameters']:,} | {_pct(m['final_test_acc'])} | {_pct(m['best_test_acc'])} "
                 f"| {m['train_seconds']:,.0f} s |")  # fmt: skip
    return "\n\n".join(p for p in (head, table, _figures(run, "history.png")) if p)


ACCURACY_PARITY = 0.005  # bf16 keeps the CIFAR-10 test accuracy within half a point of fp32


def render_cifar_precision(results: Path) -> str:
    """The published CIFAR-10 run (fp32) beside the same command with ``--precision bf16``."""
    found = [_run(results, name) for name in ("cifar", "cifar-bf16")]
    if not all(found):
        return missing("cifar-bf16", "python main.py cifar --data-dir DATA --precision bf16 --name cifar-bf16")
    rows = [f"| {run.name} | {config.get('precision', 'fp32')} | **{_pct(m['test_acc'])}** | {_pct(m['val_acc'])} ({m['best_epoch']}) "
            f"| {_pct(m['test_selected_test_acc'])} |" for run, config, _, m in found]
    gap = found[1][3]["test_acc"] - found[0][3]["test_acc"]
    return "\n".join(["| run | precision | test accuracy (weights chosen on validation) | validation accuracy (epoch) "
                      f"| {TEST_SELECTED} |", "| --- | --- | ---: | ---: | ---: |", *rows, "",
                      f"Test accuracy difference {100 * gap:+.2f} points (target: within {100 * ACCURACY_PARITY:g})."])


def render_throughput(results: Path) -> str:
    """``python benchmark.py --throughput``: the CIFAR-10 CNN's training throughput per precision."""
    from common.speed import throughput_markdown

    path = results / "throughput" / "metrics.json"
    if not path.is_file():
        return ("_Not published yet: run `cd autoencoders && python benchmark.py --throughput`, then "
                "`python -m common.publish autoencoders/runs/throughput`._")
    m = _load(path)
    return (f"`python benchmark.py --throughput` (batch {m['settings']['batch_size']}, {m['settings']['steps']} timed steps "
            "per case and round). " + throughput_markdown(m["throughput"], "image", "images"))


def render_mnist(results: Path) -> str:
    found = _run(results, "mnist")
    if found is None:
        return missing("mnist", "python main.py mnist --data-dir DATA")
    run, config, args, m = found
    rows = {(r["model"], r["task"]): r for r in m["table"]}
    head = (f"Run `results/autoencoders/{run.name}`, made with `{command('mnist', args, 'DATA')}` (seed {args['seed']}, "
            f"epochs per model and task: {args['epochs']}, denoising noise std {args['noise_std']:g}, device `{config['device']}`; "
            "test MSE per pixel against the clean test image):")  # fmt: skip
    selected = all("val_mse" in r for r in m["table"])
    what = "test MSE (weights chosen on validation)" if selected else "final-epoch test MSE"
    lines = [f"| model | parameters | reconstruction {what} | denoising {what} | training time (reconstruction + denoising) |",
             "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    if not selected:
        head += ("\n\nThis run was made before the validation split existed: its numbers are the last epoch's, "
                 "chosen by neither validation nor test.")  # fmt: skip
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


def _segment_table(m: dict) -> str:
    """One row of the segmentation table: validation-selected test Dice/IoU, or (earlier runs) the final and test-selected ones."""
    epochs = len(m["history"].get("val_dice", m["history"].get("test_dice", [])))
    if "val_dice" in m:
        return ("| model | parameters | epochs | test Dice | test IoU | chosen epoch (validation Dice) | training time |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
                f"| `SegmentationNet` | {m['parameters']:,} | {epochs} | **{m['test_dice']:.3f}** | **{m['test_iou']:.3f}** "
                f"| {m['best_epoch']} ({m['val_dice']:.3f}) | {m['train_seconds']:,.0f} s |")  # fmt: skip
    return ("This run was made before the validation split existed: the last epoch's test scores and the "
            "test-selected (optimistic) best test Dice.\n\n"
            f"| model | parameters | epochs | final-epoch test Dice | final-epoch test IoU | test-selected (optimistic) test Dice (epoch) "
            "| training time |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            f"| `SegmentationNet` | {m['parameters']:,} | {epochs} | {m['final_test_dice']:.3f} "
            f"| {m['final_test_iou']:.3f} | {m['best_test_dice']:.3f} ({m['best_epoch']}) | {m['train_seconds']:,.0f} s |")  # fmt: skip


def _slices(config: dict) -> str:
    val = f"{config['val_slices']} validation / " if "val_slices" in config else ""
    return f"{config['train_slices']} train / {val}{config['test_slices']} test"


def render_segment_synthetic(results: Path) -> str:
    found = synthetic_run(results)
    if found is None:
        return missing("segment_synthetic", "python main.py segment --synthetic 200 --epochs 8")
    run, config, args, m = found
    head = (f"**SYNTHETIC lesions, not the brain-tumour dataset.** Run `results/autoencoders/{run.name}`, made with "
            f"`{command('segment', args, None)}` ({args['synthetic']} real MNI152 slices with drawn-in lesions, "
            f"{_slices(config)}, {args['size']}x{args['size']}, "
            f"seed {args['seed']}, device `{config['device']}`)" + _folder_note(run, args) + ":")  # fmt: skip
    return "\n\n".join(p for p in (head, _segment_table(m), _figures(run, "samples.png", "test_cases.png", "history.png")) if p)


def real_segment_runs(results: Path) -> list[tuple[Path, dict, dict, dict]]:
    """The published brain-tumour runs (not SYNTHETIC, with per-type test scores): ``segment`` first, then the
    other ``segment*`` folders by name (e.g. a run and its fine-tuned continuation)."""
    names = ["segment"] + sorted(p.name for p in results.glob("segment*") if p.name != "segment") if results.is_dir() else []
    found = [_run(results, name) for name in names]
    return [f for f in found if f is not None and not f[2].get("synthetic") and "test_per_type" in f[3]]


def _real_segment(run: Path, config: dict, args: dict, m: dict) -> str:
    split = config.get("split", {})
    start = (f" It starts from the weights `{args['init_from']}` (an earlier run, trained on the same training split)."
             if args.get("init_from") else "")
    augmented = " The training slices are augmented (`--augment`)." if args.get("augment") else ""
    head = (f"Run `results/autoencoders/{run.name}`, made with `{command('segment', args, 'BRAIN_TUMOR')}` "
            f"({_slices(config)} slices, split per tumour type by contiguous blocks of file numbers with "
            f"{split.get('guard', args.get('guard'))} file(s) dropped on each side of every border; {args['size']}x{args['size']}, "
            f"seed {args['seed']}, device `{config['device']}`).{start}{augmented} The weights are those of epoch {m['best_epoch']} "
            f"(best validation Dice, {m['val_dice']:.3f}); the test split was scored once, with them:")  # fmt: skip
    lines = ["| test slices | count | Dice | IoU |", "| --- | ---: | ---: | ---: |"]
    for name, v in m["test_per_type"].items():
        bold = "**" if name == "overall" else ""
        lines.append(f"| {name} | {v['slices']} | {bold}{v['dice']:.3f}{bold} | {bold}{v['iou']:.3f}{bold} |")
    note = f"`SegmentationNet`, {m['parameters']:,} parameters, {len(m['history']['val_dice'])} epochs, {m['train_seconds']:,.0f} s of training."
    return "\n\n".join(p for p in (head, "\n".join(lines), note, _figures(run, "test_cases.png", "history.png")) if p)


def render_segment(results: Path) -> str:
    found = real_segment_runs(results)
    if not found:
        return missing("segment", "python main.py segment --data-dir BRAIN_TUMOR")
    return "\n\n".join(_real_segment(*f) for f in found)


def render_blocks(results: Path) -> dict[str, str]:
    """Every result block of the README, from the published runs in ``results``."""
    results = Path(results)
    return {"cifar": render_cifar(results), "cifar_precision": render_cifar_precision(results),
            "throughput": render_throughput(results), "mnist": render_mnist(results), "segment": render_segment(results),
            "segment_synthetic": render_segment_synthetic(results)}  # fmt: skip
