"""The result blocks of ``autoencoders/README.md``, rendered from the runs published in ``results/autoencoders/``.

Column sets for :func:`table`: header -> format string of a run's metrics (or ``"table"`` rows), ``{c[..]}`` of config.
"""

from pathlib import Path

from lab.autoencoders.benchmark import CIFAR_TARGET
from lab.results import RESULTS_ROOT, load_run, made_with, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "autoencoders"
REAL_SEGMENT = ("segment_brain_tumor", "segment_brain_tumor_aug")  # a run and its fine-tuned continuation
FIGURE = "![{0}: {1}](../results/autoencoders/{0}/{1})"
CIFAR = {"images (train / validation / test)": "{train_images:,} / {val_images:,} / {test_images:,}"}
CIFAR |= {"precision": "{c[precision]}", "parameters": "{parameters:,}", "validation accuracy": "{val_acc:.2%}"}
CIFAR |= {"epoch chosen on validation": "{best_epoch} of {c[args][epochs]}"}
CIFAR |= {f"test accuracy (target {CIFAR_TARGET:.0%})": "**{test_acc:.2%}**"}
CIFAR |= {"test-selected (course protocol, optimistic)": "{test_selected_test_acc:.2%} (epoch {test_selected_epoch})"}
MNIST = {"model": "`{model}`", "task": "{task}", "parameters": "{parameters:,}", "validation MSE": "{val_mse:.5f}"}
MNIST |= {"test MSE (weights chosen on validation)": "**{test_mse:.5f}**", "training time": "{train_seconds:.0f} s"}
SEGMENT = {
    "slices (train / val / test)": "{train_slices} / {val_slices} / {test_slices}",
    "parameters": "{parameters:,}",
}
SEGMENT |= {"validation Dice (chosen epoch)": "{val_dice:.3f} ({best_epoch} of {c[args][epochs]})"}
TYPES = ("overall", "meningioma", "glioma", "pituitary")
SEGMENT |= {
    f"test {t} Dice / IoU": f"{{test_per_type[{t}][dice]:.3f}} / {{test_per_type[{t}][iou]:.3f}}" for t in TYPES
}
SYNTHETIC = {"slices (train / test)": "{c[train_slices]} / {c[test_slices]}", "parameters": "{parameters:,}"}
SYNTHETIC |= {"last-epoch test Dice / IoU (epoch)": "{final_test_dice:.3f} / {final_test_iou:.3f} ({c[args][epochs]})"}
SYNTHETIC |= {"test-selected (optimistic) test Dice (epoch)": "{best_test_dice:.3f} ({best_epoch})"}
HEADLINE = {"cifar": "test accuracy {test_acc:.2%}", "mnist": "{task} test MSE {test_mse:.5f} (`{model}`)"}
HEADLINE |= dict.fromkeys(REAL_SEGMENT, "test Dice {test_dice:.3f}, IoU {test_iou:.3f} on the brain-tumour slices")


def _cell(spec: str, config: dict, row: dict) -> str:
    try:
        return spec.format(c=config, **row)
    except (KeyError, IndexError, ValueError):  # a run made before that number was recorded
        return "–"


def table(names: tuple[str, ...], columns: dict, figures: tuple[str, ...] = (), results: Path = RESULTS) -> str:
    """Each published run of ``names``: its :func:`made_with` line, its rows of ``columns``, its ``figures``."""
    runs = [(results / n, *load_run(results / n)) for n in names if (results / n / "metrics.json").is_file()]
    recs = [(r, c, {**m, **x}) for r, c, m in runs for x in m.get("table", [{}])]  # a row per "table" row, else one
    rows = [[f"`{r.name}`", *(_cell(f, c, x) for f in columns.values())] for r, c, x in recs]
    figs = [FIGURE.format(r.name, f) for r, _, _ in runs for f in figures if (r / f).is_file()]
    lines = [made_with(r, c, m.get("train_seconds")) for r, c, m in runs]
    return "\n\n".join([*lines, md_table(rows, ["run", *columns]), *figs])


def throughput(results: Path = RESULTS) -> str:
    from lab.speed import throughput_markdown

    config, m = load_run(run := results / "throughput")
    return f"{made_with(run, config)} " + throughput_markdown(m["throughput"], "image", "images")


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: the test scores of the weights each run chose on validation."""
    runs = {n: load_run(results / n) for n in HEADLINE if (results / n / "metrics.json").is_file()}
    rows = [[f"`{n}`", _cell(HEADLINE[n], c, {**m, **x})] for n, (c, m) in runs.items() for x in m.get("table", [{}])]
    return md_table(rows, ["run", "headline (test split)"])
