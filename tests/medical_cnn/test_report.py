"""report.ipynb runs headless on an empty folder and on tiny run folders; readme_results renders the README blocks."""
import json
import re
import shutil
from pathlib import Path

from medical_cnn import readme_results

ABSOLUTE = re.compile(r"(?<![.\w])/(tmp|work|home|root)/")  # a path that does not start with ../
REPORT = Path(__file__).resolve().parents[2] / "medical_cnn" / "report.ipynb"


def outputs_text(nb) -> str:
    return "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )


def test_report_notebook_on_an_empty_folder_says_how_to_make_the_runs(execute_notebook, tmp_path):
    nb = execute_notebook(REPORT, env={"REPORT_RUNS": tmp_path})
    text = outputs_text(nb)
    assert "0 finished run(s)" in text and "python main.py conv" in text and "--study augment" in text
    assert not ABSOLUTE.search(text)  # paths are printed relative


def test_report_notebook_reads_the_tiny_runs(quick_runs, execute_notebook):
    root, _ = quick_runs
    nb = execute_notebook(REPORT, env={"REPORT_RUNS": root})
    text = outputs_text(nb)
    assert "no finished run" not in text
    for expected in ("pneumoniamnist", "mobilenet ahead in", "unet-noskip", "diverged", "aug-affine", "skipped", "DRIVE"):
        assert expected in text
    images = [out["data"]["image/png"] for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert len(images) >= 8
    assert sum(len(i) for i in images) < 1_500_000  # figures are shrunk, so the saved notebook stays small
    assert not ABSOLUTE.search(text)  # paths are printed relative


def published(quick_runs, tmp_path, names):
    """A results folder like results/medical_cnn/ holding the quick runs under their real names."""
    root, _ = quick_runs
    for name in names:
        shutil.copytree(root / f"{name}_quick", tmp_path / name)
    return tmp_path


def test_readme_blocks_quote_the_published_numbers(quick_runs, tmp_path):
    results = published(quick_runs, tmp_path, ["conv", "classify-pneumoniamnist", "segment-skip", "segment-lr"])
    blocks = readme_results.render_blocks(results)
    assert set(blocks) == set(readme_results.RUNS) | {"classify_seeds", "segment_precision", "segment_speed"}
    assert "--precision fp32 --name segment-parity-fp32" in blocks["segment_precision"]  # the parity pair is not there
    metrics = json.loads((results / "classify-pneumoniamnist" / "metrics.json").read_text())
    assert f"{metrics['mobilenet']['test_acc']:.3f}" in blocks["classify"] and f"{metrics['mlp']['parameters']:,}" in blocks["classify"]
    assert "python main.py classify --data-dir <your MedMNIST folder> --dataset pneumoniamnist --quick" in blocks["classify"]
    skip = json.loads((results / "segment-skip" / "metrics.json").read_text())["variants"]["unet-noskip"]["test"]
    assert f"{skip['dice_mean']:.3f}" in blocks["segment_skip"]
    conv = json.loads((results / "conv" / "metrics.json").read_text())
    assert f"{conv['max_abs_error_vs_correlate2d']:.1e}" in blocks["conv"]
    assert "diverged" in blocks["segment_lr"] and "| 0.1 | 0.001 |" in blocks["segment_lr"]
    # the cross-dataset table: the one published seed of PneumoniaMNIST, the command for the missing datasets
    grid = blocks["classify_seeds"]
    wins = int(metrics["mobilenet"]["test_acc"] > metrics["mlp"]["test_acc"])
    assert f"| MobileNet | {metrics['mobilenet']['test_acc']:.3f} |" in grid and f"MobileNet above the MLP in {wins} of 1 seed(s)" in grid
    assert "--dataset brain_tumor_mri_64 --seed S --name classify-brain_tumor_mri_64-seedS" in grid
    # a run that is not published renders as the commands that make and publish it
    assert blocks["segment_augment"].startswith("*Not published yet.*")
    assert "--study augment`" in blocks["segment_augment"]
    assert "python -m common.publish medical_cnn/runs/segment-augment" in blocks["segment_augment"]
    assert "/tmp" not in "".join(blocks.values())


def test_precision_block_compares_the_two_parity_runs(quick_runs, tmp_path):
    results = published(quick_runs, tmp_path, [])
    root, _ = quick_runs
    for name, precision, dice in (("segment-parity-fp32", "fp32", 0.8008), ("segment-parity-bf16", "bf16", 0.8052)):
        shutil.copytree(root / "segment-lr_quick", results / name)
        config = json.loads((results / name / "config.json").read_text())
        metrics = json.loads((results / name / "metrics.json").read_text())
        first = next(k for k, v in metrics["variants"].items() if v["test"])  # one trained variant, as in the real pair
        metrics["variants"] = {first: metrics["variants"][first]}
        metrics["variants"][first]["test"]["dice_mean"] = dice
        (results / name / "config.json").write_text(json.dumps({**config, "precision": precision}))
        (results / name / "metrics.json").write_text(json.dumps(metrics))
    block = readme_results.render_blocks(results)["segment_precision"]
    assert "| segment-parity-fp32 | fp32 | 0.801 |" in block and "| segment-parity-bf16 | bf16 | 0.805 |" in block
    assert "difference +0.0044" in block
