"""report.ipynb and readme_results.py on an empty folder and on fixture runs."""
import json
import re
import shutil
from pathlib import Path

import pytest

from autoencoders import readme_results
from common.runs import load_json

REPORT = Path(readme_results.__file__).resolve().parent / "report.ipynb"
PUBLISHED = {"cifar_quick": "cifar", "mnist_quick": "mnist", "stl10-ae_quick": "stl10-ae", "segment_quick": "segment",
             "segment_synthetic_quick": "segment_synthetic"}


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
    assert "AutoEncoder_CNN" in text and "SYNTHETIC" in text and "final_test_acc" in text and "test_selected_test_acc" in text
    assert "pituitary" in text  # the per-type test scores of the brain-tumour run
    assert images >= 6
    assert re.search(r"(^|[\s'\"(:])/(tmp|work|root|home)", text) is None, text  # only relative paths


def test_report_on_an_empty_folder_says_how_to_make_the_runs(tmp_path, execute_notebook):
    text, images = outputs_text(execute_notebook(REPORT, env={"REPORT_RUNS": tmp_path}))
    assert "python main.py cifar" in text and "python -m common.publish" in text and images == 0


def test_readme_blocks_show_the_published_numbers(published):
    blocks = readme_results.render_blocks(published)
    assert set(blocks) == {"cifar", "cifar_precision", "throughput", "mnist", "segment", "segment_synthetic"}
    assert "--precision bf16 --name cifar-bf16" in blocks["cifar_precision"]  # only the fp32 run is published
    cifar = load_json(published / "cifar" / "metrics.json")
    assert f"**{100 * cifar['test_acc']:.2f} %**" in blocks["cifar"] and "--quick" in blocks["cifar"]
    assert f"{100 * cifar['test_selected_test_acc']:.2f} % (epoch {cifar['test_selected_epoch']})" in blocks["cifar"]
    assert "test-selected (course protocol, optimistic)" in blocks["cifar"] and "chosen on validation" in blocks["cifar"]
    row = next(r for r in load_json(published / "mnist" / "metrics.json")["table"] if r["model"] == "AutoEncoder_CNN")
    assert f"{row['test_mse']:.5f}" in blocks["mnist"] and "14,425" in blocks["mnist"] and "chosen on validation" in blocks["mnist"]
    seg = load_json(published / "segment_synthetic" / "metrics.json")
    assert f"**{seg['test_dice']:.3f}**" in blocks["segment_synthetic"] and "SYNTHETIC" in blocks["segment_synthetic"]
    real = load_json(published / "segment" / "metrics.json")["test_per_type"]
    for name in ("overall", "meningioma", "glioma", "pituitary"):
        assert f"| {name} | {real[name]['slices']} |" in blocks["segment"]
    assert f"{real['glioma']['dice']:.3f} | {real['glioma']['iou']:.3f}" in blocks["segment"]
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
    block = readme_results.render_blocks(results)["cifar_precision"]
    assert "| cifar | fp32 | **85.60 %**" in block and "| cifar-bf16 | bf16 | **85.12 %**" in block
    assert "difference -0.48 points" in block


def test_readme_blocks_of_missing_runs_give_the_commands(tmp_path):
    blocks = readme_results.render_blocks(tmp_path)
    assert "python main.py cifar" in blocks["cifar"] and "python -m common.publish autoencoders/runs/cifar" in blocks["cifar"]
    assert "--synthetic" in blocks["segment_synthetic"]
    assert "python main.py segment --data-dir BRAIN_TUMOR" in blocks["segment"] and "No published run `segment`" in blocks["segment"]


def test_readme_labels_the_numbers_of_runs_made_before_the_validation_split(published, tmp_path):
    """Old-format runs (no val_* keys) render their test-selected / final-epoch numbers, labelled as such."""
    root = tmp_path / "autoencoders"
    shutil.copytree(published / "cifar", root / "cifar")
    m = load_json(root / "cifar" / "metrics.json")
    old = {k: m[k] for k in ("parameters", "train_images", "test_images", "train_seconds")}
    old.update(final_test_acc=0.8123, best_test_acc=0.8456, history={"test_acc": [0.8, 0.8456, 0.8123], "train_loss": [1, 1, 1]})
    (root / "cifar" / "metrics.json").write_text(json.dumps(old))
    block = readme_results.render_blocks(root)["cifar"]
    assert "| 81.23 % | 84.56 % |" in block and "test-selected (course protocol, optimistic)" in block
    assert "before the validation split" in block and "epochs: 3" in block and "chosen on validation" not in block


def test_readme_reads_runs_of_the_earlier_code_and_never_shows_real_segmentation(published, tmp_path):
    """The earlier code wrote the arguments at the top level of config.json and named the synthetic run `segment`."""
    root = tmp_path / "autoencoders"
    shutil.copytree(published / "segment_synthetic", root / "segment")
    config = load_json(root / "segment" / "config.json")
    flat = {**config.pop("args"), **config, "run_name": None}
    (root / "segment" / "config.json").write_text(json.dumps(flat))
    assert "results/autoencoders/segment`" in readme_results.render_blocks(root)["segment_synthetic"]
    flat.update(synthetic=0, dataset="Figshare brain-tumour .mat files in data (3064 slices)")
    (root / "segment" / "config.json").write_text(json.dumps(flat))
    assert "No published run" in readme_results.render_blocks(root)["segment_synthetic"]
