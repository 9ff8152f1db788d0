"""report.ipynb and readme_results.py on an empty folder and on fixture runs."""

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from autoencoders import readme_results
from common.runs import load_json

REPORT = Path(readme_results.__file__).resolve().parent / "report.ipynb"
PUBLISHED = {
    "cifar_quick": "cifar",
    "mnist_quick": "mnist",
    "stl10-ae_quick": "stl10-ae",
    "segment_quick": "segment_brain_tumor",
    "segment_synthetic_quick": "segment_synthetic",
}


@pytest.fixture(scope="module")
def published(quick_runs, tmp_path_factory) -> Path:
    """The quick runs under the names the README and the report look for, small files only (as published)."""
    root = tmp_path_factory.mktemp("results") / "autoencoders"
    for quick, name in PUBLISHED.items():
        shutil.copytree(quick_runs / quick, root / name, ignore=shutil.ignore_patterns("*.pt", "*.pth"))
    return root


def outputs_text(nb) -> tuple[str, int]:
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    return text, sum("image/png" in o.get("data", {}) for o in outputs)


def test_report_runs_on_published_runs(published, execute_notebook):
    text, images = outputs_text(execute_notebook(REPORT, env={"REPORT_RUNS": published}))
    assert (
        "AutoEncoder_CNN" in text
        and "SYNTHETIC" in text
        and "final_test_acc" in text
        and "test_selected_test_acc" in text
    )
    assert "pituitary" in text  # the per-type test scores of the brain-tumour run
    assert images >= 6
    assert re.search(r"(^|[\s'\"(:])/(tmp|work|root|home)", text) is None, text  # only relative paths


def test_report_on_an_empty_folder_says_how_to_make_the_runs(tmp_path, execute_notebook):
    text, images = outputs_text(execute_notebook(REPORT, env={"REPORT_RUNS": tmp_path}))
    assert "python main.py cifar" in text and "python -m common.publish" in text and images == 0


def test_readme_blocks_show_the_published_numbers(published):
    blocks = {
        "cifar": readme_results.cifar(published),
        "mnist": readme_results.mnist(published),
        "segment": readme_results.segment(published, ("segment_brain_tumor",)),
    }
    cifar = load_json(published / "cifar" / "metrics.json")
    assert f"**{100 * cifar['test_acc']:.2f} %**" in blocks["cifar"]
    assert (
        f"made with `{shlex.join(load_json(published / 'cifar' / 'config.json')['argv'])}`" in blocks["cifar"]
    )  # as run_folder recorded it
    assert f"{100 * cifar['test_selected_test_acc']:.2f} % (epoch {cifar['test_selected_epoch']})" in blocks["cifar"]
    assert (
        "test-selected (course protocol, optimistic)" in blocks["cifar"] and "chosen on validation" in blocks["cifar"]
    )
    row = next(r for r in load_json(published / "mnist" / "metrics.json")["table"] if r["model"] == "AutoEncoder_CNN")
    assert (
        f"{row['test_mse']:.5f}" in blocks["mnist"]
        and "14,425" in blocks["mnist"]
        and "chosen on validation" in blocks["mnist"]
    )
    real = load_json(published / "segment_brain_tumor" / "metrics.json")["test_per_type"]
    cells = [
        [c.strip() for c in line.split("|")[1:-1]] for line in blocks["segment"].splitlines() if line.startswith("| ")
    ]
    for name in ("meningioma", "glioma", "pituitary"):
        assert [name, str(real[name]["slices"]), f"{real[name]['dice']:.3f}", f"{real[name]['iou']:.3f}"] in cells
    assert "SYNTHETIC" not in blocks["segment"] and "test_cases.png" in blocks["segment"]
    assert "](../results/autoencoders/mnist/denoising.png)" in blocks["mnist"]


def test_precision_block_compares_the_bf16_run_with_the_fp32_one(published, tmp_path):
    results = tmp_path / "autoencoders"
    shutil.copytree(published, results)
    shutil.copytree(results / "cifar", results / "cifar-bf16")
    for name, precision, acc in (("cifar", "fp32", 0.8560), ("cifar-bf16", "bf16", 0.8512)):
        config, metrics = load_json(results / name / "config.json"), load_json(results / name / "metrics.json")
        (results / name / "config.json").write_text(json.dumps({**config, "precision": precision}))
        (results / name / "metrics.json").write_text(json.dumps({**metrics, "test_acc": acc}))
    block = readme_results.cifar_precision(results)
    assert re.search(r"\| cifar +\| fp32 +\| +\*\*85.60 %\*\*", block) and re.search(
        r"\| cifar-bf16 \| bf16 +\| +\*\*85.12 %\*\*", block
    )
    assert "difference -0.48 points" in block
