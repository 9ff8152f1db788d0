"""The README blocks that lab/medical_cnn/readme_results.py renders from published runs
(the starter leaves this file out: it tests the lab)."""

import json
import re
import shlex
import shutil
from pathlib import Path

from lab.medical_cnn import readme_results

ABSOLUTE = re.compile(r"(?<![.\w])/(tmp|work|home|root)/")  # a path that does not start with ../


REPORT = Path(__file__).resolve().parents[2] / "medical_cnn" / "report.ipynb"


def published(quick_runs, tmp_path, names):
    """A results folder like results/medical_cnn/ holding the quick runs under their real names."""
    root, _ = quick_runs
    for name in names:
        shutil.copytree(root / f"{name}_quick", tmp_path / name)
    return tmp_path


def edit(folder, config=None, metrics=None):
    """Change a published run's config.json and metrics.json in place (each a function of the loaded JSON)."""
    for name, change in (("config", config), ("metrics", metrics)):
        if change:
            path = folder / f"{name}.json"
            path.write_text(json.dumps(change(json.loads(path.read_text()))))


def load(folder):
    return json.loads((folder / "config.json").read_text()), json.loads((folder / "metrics.json").read_text())


def row(block, *cells):
    """The table line of ``block`` whose first cells are ``cells``, in order (None when there is none)."""
    pattern = r"^\| " + r" +\| ".join(map(re.escape, cells)) + r" +\|.*$"
    match = re.search(pattern, block, re.M)
    return match and match.group(0)


def parity_runs(quick_runs, results, dice=(("fp32", 0.8008), ("bf16", 0.8052))):
    """Two one-variant segment runs named like the fp32/bf16 pair, with the given test Dice."""
    root, _ = quick_runs
    for precision, value in dice:
        folder = results / f"segment-parity-{precision}"
        shutil.copytree(root / "segment-lr_quick", folder)
        first = next(k for k, v in load(folder)[1]["variants"].items() if v["test"])  # one trained variant
        keep = lambda m, first=first, value=value: {  # noqa: E731
            **m,
            "variants": {first: {**m["variants"][first], "test": {**m["variants"][first]["test"], "dice_mean": value}}},
        }
        edit(folder, metrics=keep)


def test_conv_block_has_every_timing_and_the_command(quick_runs, tmp_path):
    results = published(quick_runs, tmp_path, ["conv"])
    config, metrics = load(results / "conv")
    block = readme_results.conv(results)
    assert block.startswith(f"Run `conv/`, made with `{shlex.join(config['argv'])}` (")
    for r in metrics["timings"]:
        line = row(block, f"{r['size']:,}", str(r["kernel"]), f"{r['ratio_to_correlate2d']:.3f}")
        assert line and f"| {1000 * r['ours_s']:.3f}" in line and f"| {1000 * r['scipy_correlate2d_s']:.3f}" in line
        assert ("n/a" in line) == (r.get("naive_s") is None)
    assert block.count("\n| ") == len(metrics["timings"]) + 1  # header and one line per timing
    assert "/tmp" not in block


def test_classify_block_has_each_seed_and_mean_and_std(quick_runs, tmp_path):
    root, _ = quick_runs
    for dataset in readme_results.DATASETS:
        for seed, acc in zip(readme_results.SEEDS, (0.70, 0.80, 0.90)):
            folder = tmp_path / (f"classify-{dataset}" + (f"-seed{seed}" if seed else ""))
            shutil.copytree(root / "classify-pneumoniamnist_quick", folder)
            edit(
                folder,
                config=lambda c, seed=seed: {**c, "argv": [*c["argv"], "--seed", str(seed)]},
                metrics=lambda m, acc=acc: {**m, "mobilenet": {**m["mobilenet"], "test_acc": acc}},
            )
    block = readme_results.classify(tmp_path)
    config, metrics = load(root / "classify-pneumoniamnist_quick")
    assert block.count("made with") == 9 and f"made with `{shlex.join([*config['argv'], '--seed', '2'])}`" in block
    assert "Run `classify-brain_tumor_mri_64-seed2/`" in block
    for dataset in readme_results.DATASETS:
        mobilenet = row(block, dataset, "mobilenet", f"{metrics['mobilenet']['parameters']:,}")
        assert mobilenet and re.search(r"0\.700 +\| 0\.800 +\| 0\.900 +\| 0\.800 +\| 0\.100 +\|", mobilenet)
        mlp = row(block, dataset, "mlp", f"{metrics['mlp']['parameters']:,}", f"{metrics['mlp']['test_acc']:.3f}")
        assert mlp and f"| {metrics['mlp']['test_auc']:.3f} " in mlp and "| 0.000 " in mlp  # three equal seeds: std 0


def test_segment_block_shows_each_variant_and_n_a_for_a_diverged_or_skipped_one(quick_runs, tmp_path):
    results = published(quick_runs, tmp_path, ["segment-skip", "segment-lr", "segment-pretrained"])
    config, metrics = load(results / "segment-skip")
    skip = readme_results.segment("segment-skip", results=results)
    assert skip.startswith(f"Run `segment-skip/`, made with `{shlex.join(config['argv'])}` (")
    for name, v in metrics["variants"].items():
        cells = [f"{v['test'][k]:.3f}" for k in ("dice_mean", "dice_std", "dice_pooled", "auc")]
        assert row(skip, name, "ok", *cells, f"{v['best_val_dice']:.3f}", f"{v['best_iteration']:,}")
    for pick in metrics["variants"]:  # the variant with the best validation Dice is marked, whatever its test Dice
        best = lambda m, pick=pick: {  # noqa: E731
            **m,
            "variants": {k: {**v, "best_val_dice": 0.9 if k == pick else 0.1} for k, v in m["variants"].items()},
        }
        edit(results / "segment-skip", metrics=best)
        block = readme_results.segment("segment-skip", results=results)
        assert [k for k in metrics["variants"] if row(block, k).rstrip(" |").endswith("yes")] == [pick]
    lr = readme_results.segment("segment-lr", results=results)
    variants = load(results / "segment-lr")[1]["variants"]
    diverged = [k for k, v in variants.items() if v["status"] == "diverged"]
    assert diverged and all(row(lr, k, "diverged", "n/a", "n/a", "n/a", "n/a") for k in diverged)
    assert not row(lr, diverged[0]).rstrip(" |").endswith("yes")  # a diverged variant is never the pick
    pretrained = readme_results.segment("segment-pretrained", results=results)
    assert row(pretrained, "smp-pretrained", "skipped", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a")
    assert "/tmp" not in skip + lr + pretrained


def test_precision_block_and_headline_compare_the_two_parity_runs(quick_runs, tmp_path):
    names = ["conv", "classify-pneumoniamnist", "segment-skip", "segment-long"]
    results = published(quick_runs, tmp_path, names)
    parity_runs(quick_runs, results)
    block = readme_results.segment("segment-parity-fp32", "segment-parity-bf16", results=results)
    assert block.count("made with") == 2 and "`segment-parity-bf16/`" in block
    assert re.search(r"^\| segment-parity-fp32: \S+ +\| ok +\| 0\.801 ", block, re.M)
    assert re.search(r"^\| segment-parity-bf16: \S+ +\| ok +\| 0\.805 ", block, re.M)
    top = readme_results.headline(results)
    assert row(top, "`segment-parity-*`", "test Dice, bf16 - fp32", "+0.0044")
    cls, long = load(results / "classify-pneumoniamnist")[1], load(results / "segment-long")[1]
    accuracies = f"{cls['mlp']['test_acc']:.3f} / {cls['mobilenet']['test_acc']:.3f}"
    assert row(top, "`classify-pneumoniamnist`", "test accuracy, MLP / MobileNet", accuracies)
    pick = max((v for v in long["variants"].values() if v["test"]), key=lambda v: v["best_val_dice"])
    assert row(top, "`segment-long`", "test Dice of validation's pick", f"{pick['test']['dice_mean']:.3f}")
