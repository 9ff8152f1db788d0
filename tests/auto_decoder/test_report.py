"""report.ipynb runs on an empty folder and on run folders; readme_results renders the published numbers."""

import re
import shlex
from pathlib import Path

from auto_decoder import readme_results
from auto_decoder.summary import EXPECTED
from common.results import publish
from common.runs import load_json

NOTEBOOK = Path(__file__).resolve().parents[2] / "auto_decoder" / "report.ipynb"


def outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(
                o.get("text", "")
                + str(o.get("data", {}).get("text/plain", ""))
                + str(o.get("data", {}).get("text/markdown", ""))
            )
    return "".join(parts)


def absolute_paths(text: str) -> list[str]:
    return re.findall(r"(?:^|[\s'\"(=])(/[\w.-]+/\S*)", text)


def test_report_on_an_empty_folder_says_which_commands_make_the_runs(tmp_path, execute_notebook):
    text = outputs(execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tmp_path}))
    assert "0 model runs" in text and "python main.py vad --family laplace" in text
    assert absolute_paths(text) == []  # relative paths only


def test_report_on_tiny_runs(tiny_runs, execute_notebook):
    nb = execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tiny_runs})
    text = outputs(nb)
    m = load_json(tiny_runs / "vad-gaussian-n256_quick" / "metrics.json")
    assert "ad-n256_quick" in text and f"{m['test_reconstruction_loss']:.4f}" in text
    images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert images >= 4 * 3  # four figures of each of the three model runs (plus the loss curves)
    assert absolute_paths(text) == []


def published(tiny_runs: Path, tmp_path: Path, names) -> Path:
    results = tmp_path / "results"
    for name in names:
        publish(tiny_runs / name, "auto_decoder", results_root=results)
    return results / "auto_decoder"


def test_readme_blocks_show_the_published_numbers(tiny_runs, tmp_path):
    results = published(tiny_runs, tmp_path, ["classifier_quick", "ad-n256_quick", "vad-gaussian-n256_quick"])
    (results / "classifier_quick").rename(results / "classifier")
    blocks = {name: getattr(readme_results, name)(results) for name in ("classifier", "runs", "verdicts")}
    clf = load_json(results / "classifier" / "metrics.json")
    assert f"**{clf['test_accuracy']:.3f}**" in blocks["classifier"]
    assert (
        f"**{clf['frechet_floor']:.2f}**" in blocks["classifier"]
        and f"epoch {clf['best_epoch']}" in blocks["classifier"]
    )
    m = load_json(results / "vad-gaussian-n256_quick" / "metrics.json")
    row = next(line for line in blocks["runs"].splitlines() if line.startswith("| vad-gaussian-n256_quick"))
    assert f"{m['test_reconstruction_loss']:.4f}" in row and f"{m['train_latent_std']:.2f}" in row
    q = m["sample_quality"]
    cells = [c.strip() for c in row.split("|")]
    i = cells.index(f"{m['train_psnr']:.2f}")
    assert cells[i : i + 4] == [
        f"{m['train_psnr']:.2f}",
        f"{m['test_psnr']:.2f}",
        f"{q['frechet_distance']:.2f}",
        f"{q['frechet_floor']:.2f}",
    ]
    assert f"{m['epochs_trained']} (fixed)" in cells
    argv = load_json(results / "vad-gaussian-n256_quick" / "config.json")["argv"]  # as run_folder recorded it
    assert f"* `vad-gaussian-n256_quick`: `{shlex.join(argv)}`" in blocks["runs"]
    assert f"{m['sample_quality']['confident_share']:.3f}" in blocks["verdicts"]


def test_expected_full_set_commands_parse_to_their_run_names():
    """The README's commands make exactly the runs it expects (a typo in EXPECTED would not)."""
    from auto_decoder.main import parse

    for name, argv in EXPECTED.items():
        args = parse([*argv, "--data-dir", "DATA"])
        assert args.name == name
        if name.endswith("-full"):
            assert args.subset == 0 and args.val_size > 0 and args.epochs < 150
