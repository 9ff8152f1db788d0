"""The README blocks that lab/autoencoders/readme_results.py renders from published runs
(the starter leaves this file out: it tests the lab)."""

import json
import shlex
import shutil
from pathlib import Path

from common.runs import load_json
from lab.autoencoders import readme_results

REPORT = Path(__file__).resolve().parents[2] / "autoencoders" / "report.ipynb"


def cells(block: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``block``, as lists of stripped cells."""
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in block.splitlines() if line.startswith("| ")]
    return rows[1:]  # the header row is first


def test_readme_blocks_show_the_published_numbers(published):
    cifar = readme_results.table(("cifar", "cifar-bf16"), readme_results.CIFAR, ("history.png",), published)
    m = load_json(published / "cifar" / "metrics.json")
    argv = load_json(published / "cifar" / "config.json")["argv"]  # as run_folder recorded it
    assert f"Run `cifar/`, made with `{shlex.join(argv)}`" in cifar
    row = ["`cifar`", f"{m['train_images']:,} / {m['val_images']:,} / {m['test_images']:,}"]
    row += [load_json(published / "cifar" / "config.json")["precision"], f"{m['parameters']:,}", f"{m['val_acc']:.2%}"]
    row += [f"{m['best_epoch']} of 2", f"**{m['test_acc']:.2%}**"]  # --epochs 2
    row += [f"{m['test_selected_test_acc']:.2%} (epoch {m['test_selected_epoch']})"]
    assert cells(cifar) == [row]  # and no row for the bf16 run, which is not published here
    assert "test-selected (course protocol, optimistic)" in cifar and "epoch chosen on validation" in cifar
    assert "](../results/autoencoders/cifar/history.png)" in cifar and "cifar-bf16" not in cifar

    mnist = readme_results.table(("mnist",), readme_results.MNIST, ("denoising.png", "missing.png"), published)
    expected = [
        [
            "`mnist`",
            f"`{r['model']}`",
            r["task"],
            f"{r['parameters']:,}",
            f"{r['val_mse']:.5f}",
            f"**{r['test_mse']:.5f}**",
        ]
        for r in load_json(published / "mnist" / "metrics.json")["table"]
    ]
    assert [row[:6] for row in cells(mnist)] == expected and len(expected) == 4
    assert "14,425" in mnist and "test MSE (weights chosen on validation)" in mnist
    assert "](../results/autoencoders/mnist/denoising.png)" in mnist and "missing.png" not in mnist

    names = ("segment_brain_tumor", "segment_brain_tumor_aug")  # the second is not published here
    segment = readme_results.table(names, readme_results.SEGMENT, ("test_cases.png",), published)
    m = load_json(published / "segment_brain_tumor" / "metrics.json")
    row = ["`segment_brain_tumor`", f"{m['train_slices']} / {m['val_slices']} / {m['test_slices']}"]
    row += [f"{m['parameters']:,}", f"{m['val_dice']:.3f} ({m['best_epoch']} of 2)"]
    row += [f"{m['test_per_type'][t]['dice']:.3f} / {m['test_per_type'][t]['iou']:.3f}" for t in readme_results.TYPES]
    assert cells(segment) == [row] and set(m["test_per_type"]) == set(readme_results.TYPES)
    assert "test glioma Dice / IoU" in segment and "SYNTHETIC" not in segment and "test_cases.png" in segment


def test_headline_shows_each_published_run_and_dashes_for_missing_numbers(published, tmp_path):
    rows = cells(readme_results.headline(published))
    cifar = load_json(published / "cifar" / "metrics.json")
    assert rows[0] == ["`cifar`", f"test accuracy {cifar['test_acc']:.2%}"] and len(rows) == 6  # no `_aug` run here
    mse = {(r["model"], r["task"]): r["test_mse"] for r in load_json(published / "mnist" / "metrics.json")["table"]}
    assert ["`mnist`", f"denoising test MSE {mse['AutoEncoder_CNN', 'denoising']:.5f} (`AutoEncoder_CNN`)"] in rows
    seg = load_json(published / "segment_brain_tumor" / "metrics.json")
    assert rows[-1][1].startswith(f"test Dice {seg['test_dice']:.3f}, IoU {seg['test_iou']:.3f}")
    # a run made before a number was recorded (the synthetic demo's old metrics) shows a dash, not an error
    results = tmp_path / "autoencoders"
    shutil.copytree(published / "cifar", results / "cifar")
    metrics = load_json(results / "cifar" / "metrics.json")
    del metrics["test_selected_test_acc"]
    (results / "cifar" / "metrics.json").write_text(json.dumps(metrics))
    row = cells(readme_results.table(("cifar",), readme_results.CIFAR, results=results))[0]
    assert row[-1] == "–" and row[-2] == f"**{metrics['test_acc']:.2%}**"
    # the demo's columns are those of its old run (no validation split); today's run has other numbers
    synthetic = cells(readme_results.table(("segment_synthetic",), readme_results.SYNTHETIC, results=published))
    config, m = (load_json(published / "segment_synthetic" / f) for f in ("config.json", "metrics.json"))
    assert synthetic == [
        ["`segment_synthetic`", f"{config['train_slices']} / {config['test_slices']}", f"{m['parameters']:,}", "–", "–"]
    ]


def test_precision_block_compares_the_bf16_run_with_the_fp32_one(published, tmp_path):
    results = tmp_path / "autoencoders"
    shutil.copytree(published, results)
    shutil.copytree(results / "cifar", results / "cifar-bf16")
    for name, precision, acc in (("cifar", "fp32", 0.8560), ("cifar-bf16", "bf16", 0.8512)):
        config, metrics = load_json(results / name / "config.json"), load_json(results / name / "metrics.json")
        (results / name / "config.json").write_text(json.dumps({**config, "precision": precision}))
        (results / name / "metrics.json").write_text(json.dumps({**metrics, "test_acc": acc}))
    block = readme_results.table(("cifar", "cifar-bf16"), readme_results.CIFAR, results=results)
    assert [[r[0], r[2], r[6]] for r in cells(block)] == [
        ["`cifar`", "fp32", "**85.60%**"],
        ["`cifar-bf16`", "bf16", "**85.12%**"],
    ]
    assert "Run `cifar/`, made with" in block and "Run `cifar-bf16/`, made with" in block
