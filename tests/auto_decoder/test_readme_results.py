"""The README blocks that lab/auto_decoder/readme_results.py renders from published runs
(the starter leaves this file out: it tests the lab)."""

import shlex
from pathlib import Path

from common.runs import load_json
from lab.auto_decoder import readme_results
from lab.results import publish

NOTEBOOK = Path(__file__).resolve().parents[2] / "auto_decoder" / "report.ipynb"


def published(tiny_runs: Path, tmp_path: Path, names) -> Path:
    results = tmp_path / "results"
    for name in names:
        publish(tiny_runs / name, "auto_decoder", results_root=results)
    return results / "auto_decoder"


def cells(block: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``block``, as lists of stripped cells."""
    return [[c.strip() for c in line.split("|")[1:-1]] for line in block.splitlines() if line.startswith("| ")][1:]


def test_readme_blocks_show_the_published_numbers(tiny_runs, tmp_path):
    names = [
        "classifier_quick",
        "ad-n256_quick",
        "vad-gaussian-n256_quick",
        "vad-logistic-n256_quick",
        "vae-n256_quick",
    ]
    results = published(tiny_runs, tmp_path, names)
    (results / "classifier_quick").rename(results / "classifier")
    clf, config = load_json(results / "classifier" / "metrics.json"), load_json(results / "classifier" / "config.json")
    block = readme_results.classifier(results)
    assert block.startswith(f"Run `classifier/`, made with `{shlex.join(config['argv'])}` (device `")
    real = clf["real_test_images"]
    assert cells(block) == [
        [
            f"**{clf['test_accuracy']:.3f}**",
            f"{clf['val_accuracy']:.3f} ({clf['best_epoch']} of {clf['epochs']})",
            f"{clf['train_size']:,} / {clf['val_size']:,} / {clf['test_size']:,}",
            f"{real['confident_share']:.3f}, {real['class_entropy_bits']:.2f} bits",
            f"**{clf['frechet_floor']:.2f}** ({clf['frechet_floor_images']:,})",
        ]
    ]

    block = readme_results.runs(results)
    m = load_json(results / "vad-gaussian-n256_quick" / "metrics.json")
    row = next(r for r in cells(block) if r[0] == "vad-gaussian-n256_quick")
    assert f"{m['test_reconstruction_loss']:.4f}" in row and f"{m['train_latent_std']:.2f}" in row
    q = m["sample_quality"]
    i = row.index(f"{m['train_psnr']:.2f}")
    assert row[i : i + 5] == [
        f"{m['train_psnr']:.2f}",
        f"{m['test_psnr']:.2f}",
        f"{q['frechet_distance']:.2f}",
        f"{q['frechet_floor']:.2f}",
        "–",  # no validation images held out, so no validation Fréchet distance
    ]
    assert f"{m['epochs_trained']} (fixed)" in row and len(cells(block)) == 4  # ad, two VADs, VAE; not the classifier
    argv = load_json(results / "vad-gaussian-n256_quick" / "config.json")["argv"]  # as run_folder recorded it
    assert f"* Run `vad-gaussian-n256_quick/`, made with `{shlex.join(argv)}` (device `" in block


def test_headline_shows_the_runs_chosen_on_validation_and_their_distance_to_the_vae(tiny_runs, tmp_path):
    results = published(tiny_runs, tmp_path, ["ad-n256_quick", "vad-gaussian-n256_quick", "vae-n256_quick"])
    fd = {
        n: load_json(results / n / "metrics.json")["sample_quality"]["frechet_distance"]
        for n in ["ad-n256_quick", "vad-gaussian-n256_quick", "vae-n256_quick"]
    }
    rows = cells(readme_results.headline(results))
    assert [r[0] for r in rows] == ["ad-n256_quick", "vad-gaussian-n256_quick", "vae-n256_quick"]
    assert [r[5] for r in rows] == [f"{fd[n]:.2f}" for n in fd]
    assert [r[-1] for r in rows] == [f"{fd[n] / fd['vae-n256_quick']:.3f}" for n in fd]
    (results / "vae-n256_quick" / "metrics.json").unlink()  # no VAE: no ratio, and no error
    rows = cells(readme_results.headline(results))
    assert [r[0] for r in rows] == ["ad-n256_quick", "vad-gaussian-n256_quick"] and {r[-1] for r in rows} == {"–"}
