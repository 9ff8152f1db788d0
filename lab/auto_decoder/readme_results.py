"""The result blocks of ``auto_decoder/README.md``, rendered from the runs published in ``results/auto_decoder/``
with the table rows of ``summary.py``, which the report notebook shows as well."""

from pathlib import Path

from auto_decoder import summary
from lab.results import RESULTS_ROOT, load_run, made_with, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "auto_decoder"
TOP = ["run", "train_size", "kl", "test_bce", "test_psnr", "fd", "confident"]
CLASSIFIER = {
    "test accuracy": "**{test_accuracy:.3f}**",
    "validation accuracy (chosen epoch)": "{val_accuracy:.3f} ({best_epoch} of {epochs})",
    "images: train / validation / test": "{train_size:,} / {val_size:,} / {test_size:,}",
    "real test images: confident share, class entropy": "{real_test_images[confident_share]:.3f}, "
    "{real_test_images[class_entropy_bits]:.2f} bits",
    "Fréchet distance floor (training images)": "**{frechet_floor:.2f}** ({frechet_floor_images:,})",
}


def classifier(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "classifier")
    table = md_table([[f.format(**m) for f in CLASSIFIER.values()]], list(CLASSIFIER))
    return f"{made_with(run, config, m.get('train_seconds'))}\n\n{table}"


def runs(results: Path = RESULTS) -> str:
    """Every ad/vad/vae run: its :func:`made_with` line, then its row of ``summary``'s table."""
    found = summary.load_runs(results)
    lines = "\n".join(f"* {made_with(results / name, config)}" for name, (_, config) in found.items())
    return f"{lines}\n\n{summary.markdown_table([summary.row(name, *mc) for name, mc in found.items()])}"


def headline(results: Path = RESULTS) -> str:
    """The top table: on all training images, the ad, vad (any family) and vae run chosen on the validation FD."""
    found = summary.load_runs(results)
    size = max(m["train_size"] for m, _ in found.values())
    kinds = {name: ({**m, "model": m["model"].split("-")[0]}, c) for name, (m, c) in found.items()}  # vad-*: vad
    picked = [c[0] for c in (summary.chosen(kinds, kind, size) for kind in ("ad", "vad", "vae")) if c]
    rows = [summary.row(name, *found[name]) for name in picked]
    vae = next((r["fd"] for r in rows if found[r["run"]][0]["model"] == "vae"), None)
    cells = [[summary.cell(k, r[k]) for k in TOP] + [f"{r['fd'] / vae:.3f}" if r["fd"] and vae else "–"] for r in rows]
    ratio = f"Fréchet distance ÷ the VAE's (target for the VAD: ≤ {summary.VAE_FD_RATIO:g})"
    return md_table(cells, [*(summary.COLUMNS[k][0] for k in TOP), ratio])
