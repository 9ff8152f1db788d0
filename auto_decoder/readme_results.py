"""The result blocks of ``auto_decoder/README.md``: the scoring classifier, the table of every run with its
command (as its ``config.json`` records it), the verdicts of each VAD, and the top table."""

from __future__ import annotations

from pathlib import Path

from auto_decoder import summary
from common.results import RESULTS_ROOT, command, load_run, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "auto_decoder"


def classifier(results: Path = RESULTS) -> str:
    config, m = load_run(results / "classifier")
    real = m["real_test_images"]
    return (
        f"**Classifier used for scoring**: {command(config)} ({m['epochs']} epochs on "
        f"{m['train_size']:,} training images, "
        f"{m['val_size']:,} more held out to choose the epoch: epoch {m['best_epoch']}; "
        f"{m['train_seconds']:.0f} s on "
        f"{config['device']}): test accuracy **{m['test_accuracy']:.3f}**. On the "
        f"{config['dataset']['test_size']:,} real test "
        f"images, {real['confident_share']:.3f} of the predictions have confidence >= 0.9, and the "
        f"entropy of the predicted classes "
        f"is {real['class_entropy_bits']:.2f} bits. That is the ceiling for the sample scores "
        f"below. The Fréchet distance between "
        f"{m['frechet_floor_images']:,} real training images and the test images, in this "
        f"classifier's feature space, is "
        f"**{m['frechet_floor']:.2f}**: the floor for the Fréchet distances below."
    )


def runs(results: Path = RESULTS) -> str:
    found = summary.load_runs(results)
    lines = [
        f"* `{name}`: {command(config)} (seed {config['args']['seed']}, {config['device']}, "
        f"{config['dataset']['train_size']:,} training images)"
        for name, (_, config) in found.items()
    ]
    return summary.markdown_table([summary.row(name, *mc) for name, mc in found.items()]) + "\n\n" + "\n".join(lines)


def verdicts(results: Path = RESULTS) -> str:
    return "\n".join(f"* {line}" for line in summary.verdicts(summary.load_runs(results)))


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: on all training images, the auto-decoder, the VAD chosen on the
    validation images' Fréchet distance, and the VAE chosen the same way."""
    runs = summary.load_runs(results)
    size = max(m["train_size"] for m, _ in runs.values())
    vads = [summary.chosen(runs, f"vad-{family}", size) for family in ("gaussian", "laplace", "logistic")]
    picked = [
        summary.chosen(runs, "ad", size),
        min(vads, key=lambda nm: nm[1]["sample_quality"]["val_frechet_distance"]),
        summary.chosen(runs, "vae", size),
    ]
    return summary.markdown_table(
        [summary.row(name, m, runs[name][1]) for name, m in picked],
        ["run", "train_size", "kl", "test_bce", "test_psnr", "fd", "confident"],
    )
