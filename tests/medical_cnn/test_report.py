"""report.ipynb runs headless on an empty folder and on tiny run folders; readme_results renders the README blocks."""

import json
import re
import shlex
import shutil
from pathlib import Path

from medical_cnn import readme_results

ABSOLUTE = re.compile(r"(?<![.\w])/(tmp|work|home|root)/")  # a path that does not start with ../
REPORT = Path(__file__).resolve().parents[2] / "medical_cnn" / "report.ipynb"


def outputs_text(nb) -> str:
    return "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
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
    for expected in (
        "pneumoniamnist",
        "mobilenet ahead in",
        "unet-noskip",
        "diverged",
        "aug-affine",
        "skipped",
        "DRIVE",
    ):
        assert expected in text
    images = [
        out["data"]["image/png"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
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
    blocks = {
        name: getattr(readme_results, name)(results) for name in ("conv", "classify", "segment_skip", "segment_lr")
    }
    metrics = json.loads((results / "classify-pneumoniamnist" / "metrics.json").read_text())
    assert (
        f"{metrics['mobilenet']['test_acc']:.3f}" in blocks["classify"]
        and f"{metrics['mlp']['parameters']:,}" in blocks["classify"]
    )
    config = json.loads((results / "classify-pneumoniamnist" / "config.json").read_text())
    assert f"Made with `{shlex.join(config['argv'])}`" in blocks["classify"]  # the command as run_folder recorded it
    skip = json.loads((results / "segment-skip" / "metrics.json").read_text())["variants"]["unet-noskip"]["test"]
    assert f"{skip['dice_mean']:.3f}" in blocks["segment_skip"]
    conv = json.loads((results / "conv" / "metrics.json").read_text())
    assert f"{conv['max_abs_error_vs_correlate2d']:.1e}" in blocks["conv"]
    assert "diverged" in blocks["segment_lr"] and re.search(
        r"\| Adam learning rate +\| +0.1 \| +0.001 \|", blocks["segment_lr"]
    )
    assert "/tmp" not in "".join(blocks.values())


def test_classify_seeds_table_has_mean_and_std_over_the_seeds(quick_runs, tmp_path):
    root, _ = quick_runs
    for dataset in readme_results.CLASSIFY_GRID:
        for seed, acc in ((0, 0.70), (1, 0.80), (2, 0.90)):
            folder = tmp_path / (f"classify-{dataset}" + (f"-seed{seed}" if seed else ""))
            shutil.copytree(root / "classify-pneumoniamnist_quick", folder)
            metrics = json.loads((folder / "metrics.json").read_text())
            metrics["mobilenet"]["test_acc"] = acc
            (folder / "metrics.json").write_text(json.dumps(metrics))
    grid = readme_results.classify_seeds(tmp_path)
    assert "0.800 +- 0.100" in grid and "0.700, 0.800, 0.900" in grid
    mlp = json.loads((root / "classify-pneumoniamnist_quick" / "metrics.json").read_text())["mlp"]["test_acc"]
    assert f"pneumoniamnist: MobileNet above the MLP in {sum(a > mlp for a in (0.7, 0.8, 0.9))} of 3 seed(s)" in grid


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
    block = readme_results.segment_precision(results)
    assert re.search(r"\| segment-parity-fp32 \| fp32 +\| +0.801 \|", block) and re.search(
        r"\| segment-parity-bf16 \| bf16 +\| +0.805 \|", block
    )
    assert "difference +0.0044" in block
