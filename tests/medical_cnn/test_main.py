"""main.py sub-commands on tiny fixtures: run folders, resumable checkpoints, one-line errors that change no run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from common.runs import load_checkpoint
from medical_cnn import augment, classify, segment
from medical_cnn import main as cli

REPO = Path(__file__).resolve().parents[2]


def test_conv_run_matches_scipy_and_writes_figures(quick_runs):
    root, metrics = quick_runs
    m = metrics["conv_quick"]
    assert len(m["timings"]) == 4 and m["max_abs_error_vs_correlate2d"] < 1e-9
    assert all(r["ours_s"] > 0 and r["scipy_correlate2d_s"] > 0 for r in m["timings"])
    assert (root / "conv_quick" / "timings.png").is_file() and (root / "conv_quick" / "filters.png").is_file()
    assert json.loads((root / "conv_quick" / "metrics.json").read_text())["timings"] == m["timings"]


def test_quick_runs_never_use_the_real_runs_folders(quick_runs):
    root, _ = quick_runs
    assert sorted(p.name for p in root.iterdir()) == sorted(
        f"{name}_quick"
        for name in (
            "conv",
            "classify-pneumoniamnist",
            "segment-skip",
            "segment-augment",
            "segment-pretrained",
            "segment-lr",
            "segment-long",
        )
    )


def test_classify_run_names_the_dataset_and_the_trained_mlp_beats_chance(quick_runs):
    root, metrics = quick_runs
    m = metrics["classify-pneumoniamnist_quick"]
    config = json.loads((root / "classify-pneumoniamnist_quick" / "config.json").read_text())
    assert (
        m["dataset"] == config["dataset"]["name"] == "pneumoniamnist" and config["args"]["dataset"] == "pneumoniamnist"
    )
    assert config["dataset"]["channels"] == 1 and config["dataset"]["classes"] == 2 and config["device"] == "cpu"
    # the fixture's two classes differ in brightness: one epoch is enough for the MLP (chance: 0.5)
    assert m["mlp"]["test_acc"] >= 0.9 and m["mlp"]["test_auc"] >= 0.9
    for name in ("mlp", "mobilenet"):
        assert len(m[name]["history"]["val_acc"]) == 1
        log = (root / "classify-pneumoniamnist_quick" / f"log_{name}.csv").read_text().splitlines()
        assert log[0] == "epoch,train_loss,train_acc,val_loss,val_acc" and len(log) == 2
        assert set(load_checkpoint(root / "classify-pneumoniamnist_quick" / f"{name}.pt")) >= {
            "model",
            "optimizer",
            "step",
            "best_model",
        }
    assert (root / "classify-pneumoniamnist_quick" / "curves.png").is_file()


def test_classify_resume_continues_from_the_checkpoint(medmnist_dir, tmp_path):
    args = [
        "classify",
        "--data-dir",
        str(medmnist_dir),
        "--dataset",
        "pneumoniamnist",
        "--results-root",
        str(tmp_path),
        "--device",
        "cpu",
        "--quick",
    ]
    first = cli.main(args)
    again = cli.main([*args, "--resume"])  # all epochs done: no training, same weights, same test score
    assert again["mlp"]["history"] == first["mlp"]["history"]
    assert again["mlp"]["test_acc"] == first["mlp"]["test_acc"]
    replaced = cli.main([*args, "--overwrite", "--seed", "1"])
    assert json.loads((tmp_path / "classify-pneumoniamnist_quick" / "config.json").read_text())["args"]["seed"] == 1
    assert replaced["mlp"]["history"] != first["mlp"]["history"]


def test_segment_skip_study_scores_inside_the_fov(quick_runs):
    root, metrics = quick_runs
    variants = metrics["segment-skip_quick"]["variants"]
    assert set(variants) == {"unet-skip", "unet-noskip"}
    for v in variants.values():
        assert v["status"] == "ok" and 0.0 <= v["test"]["dice_mean"] <= 1.0 and len(v["test"]["dice_per_image"]) == 2
    for figure in ("curves.png", "predictions.png"):
        assert (root / "segment-skip_quick" / figure).is_file()
    log = (root / "segment-skip_quick" / "log_unet-skip.csv").read_text().splitlines()  # one row per validation
    assert log[0] == "iteration,train_loss,val_dice" and len(log) > 1
    config = json.loads((root / "segment-skip_quick" / "config.json").read_text())
    assert config["dataset"]["name"] == "DRIVE" and config["dataset"]["images"]["test"] == ["01", "02"]


def test_lr_sweep_records_a_diverged_run_and_goes_on(quick_runs):
    _, metrics = quick_runs
    variants = metrics["segment-lr_quick"]["variants"]
    assert variants["lr-0.1"]["status"] == "diverged" and variants["lr-0.1"]["test"] is None
    assert variants["lr-0.001"]["status"] == "ok" and variants["lr-0.001"]["test"] is not None


def test_augment_study_runs_every_strategy_with_a_figure(quick_runs):
    root, metrics = quick_runs
    assert set(metrics["segment-augment_quick"]["variants"]) == {"aug-none", "aug-flip", "aug-affine", "aug-intensity"}
    assert (root / "segment-augment_quick" / "augmentations.png").is_file()


def test_pretrained_study_says_when_it_is_skipped(quick_runs):
    _, metrics = quick_runs
    variants = metrics["segment-pretrained_quick"]["variants"]
    assert variants["smp-scratch"]["status"] == "ok"
    assert (
        variants["smp-pretrained"]["status"] == "skipped"
        and "--encoder-weights" in variants["smp-pretrained"]["reason"]
    )


def test_segmentation_training_learns_the_fixture_vessels(drive_dir, tmp_path):
    """A few dozen steps must beat the untrained network: the loop, the loss and the scoring work together."""
    tiny = [
        "segment",
        "--data-dir",
        str(drive_dir),
        "--device",
        "cpu",
        "--results-root",
        str(tmp_path),
        "--study",
        "skip",
        "--patch-size",
        "32",
        "--batch-size",
        "4",
        "--base-channels",
        "4",
        "--val-images",
        "1",
        "--lr",
        "1e-2",
    ]
    untrained = cli.main([*tiny, "--iters", "1", "--eval-every", "1", "--lr", "1e-9", "--name", "untrained"])
    trained = cli.main([*tiny, "--iters", "30", "--eval-every", "30", "--name", "trained"])
    before, after = untrained["variants"]["unet-skip"]["test"], trained["variants"]["unet-skip"]["test"]
    assert after["auc"] > 0.9 and after["auc"] > before["auc"] + 0.1


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` with its bytes (folders too, so a new empty one shows)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def _corrupt_npz(ctx):
    (ctx.tmp / "medmnist").mkdir()
    (ctx.tmp / "medmnist" / "pneumoniamnist.npz").write_bytes(b"not a zip file")
    return ["classify", "--data-dir", str(ctx.tmp / "medmnist"), "--dataset", "pneumoniamnist"]


def _classify(ctx, *more):
    return ["classify", "--data-dir", str(ctx.medmnist), "--dataset", "pneumoniamnist", "--device", "cpu", *more]


BAD_INPUT = [
    ("iters-0", lambda c: ["segment", "--iters", "0"], "whole number >= 1"),
    ("epochs-0", lambda c: ["classify", "--epochs", "0"], "whole number >= 1"),
    ("negative-lr", lambda c: ["classify", "--lr", "-1"], "number > 0"),
    ("unknown-study", lambda c: ["segment", "--study", "everything"], "invalid choice"),
    ("bad-device-name", lambda c: ["conv", "--device", "gpu"], "expected auto"),
    ("cuda-absent", lambda c: ["conv", "--device", "cuda:7"], "CUDA is not available"),
    (
        "missing-encoder-weights",
        lambda c: ["segment", "--encoder-weights", "/nonexistent/resnet18.pth"],
        "does not exist",
    ),
    ("patch-size", lambda c: ["segment", "--patch-size", "40"], "multiple of 16"),
    ("threshold", lambda c: ["segment", "--threshold", "1.5"], "(0, 1)"),
    (
        "data-dir-is-a-file",
        lambda c: ["classify", "--data-dir", str(c.medmnist / "pneumoniamnist.npz"), "--dataset", "pneumoniamnist"],
        "is a file",
    ),
    (
        "download-into-missing-dir",
        lambda c: ["classify", "--data-dir", str(c.tmp / "nowhere"), "--download"],
        "does not exist",
    ),
    ("missing-npz", lambda c: ["classify", "--data-dir", str(c.medmnist), "--dataset", "pathmnist"], "pathmnist.npz"),
    ("corrupt-npz", _corrupt_npz, "cannot read"),
    ("missing-drive", lambda c: ["segment", "--data-dir", str(c.tmp / "nowhere")], "1st_manual"),
    ("resume-a-run-that-does-not-exist", lambda c: _classify(c, "--resume", "--name", "never-made"), "no run"),
    ("new-run-into-a-finished-one", lambda c: _classify(c, "--quick"), "already holds a run"),
    ("resume-with-another-seed", lambda c: _classify(c, "--quick", "--resume", "--seed", "1"), "--seed"),
    ("unwritable-results-root", lambda c: ["conv", "--quick", "--results-root", "/proc/x"], "/proc/x"),
    (
        "bf16-for-an-fp32-only-command",
        lambda c: _classify(c, "--quick", "--precision", "bf16", "--name", "bf16"),
        "fp32 only",
    ),
    ("fp16-is-not-offered", lambda c: ["segment", "--precision", "fp16"], "invalid choice"),
]


@pytest.mark.parametrize("argv_of, message", [pytest.param(f, m, id=i) for i, f, m in BAD_INPUT])
def test_bad_input_ends_with_one_line_and_changes_no_run(argv_of, message, quick_runs, tmp_path, capsys):
    root, _ = quick_runs
    ctx = SimpleNamespace(root=root, medmnist=root.parent / "medmnist", drive=root.parent / "DRIVE", tmp=tmp_path)
    argv = argv_of(ctx)
    if "cuda:7" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if "--results-root" not in argv:
        argv += ["--results-root", str(root)]
    before = snapshot(root)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert not any("Traceback" in line for line in lines)
    # one error line; argparse's usage block may come before it
    assert lines[-1].startswith(f"main.py {argv[0]}: error: ") and message in lines[-1], lines
    assert all(line.startswith(("usage:", " ")) for line in lines[:-1]), lines
    assert snapshot(root) == before
    assert not (tmp_path / "nowhere").exists()


def test_an_unreadable_checkpoint_on_resume_is_one_line_and_changes_nothing(quick_runs, tmp_path, capsys):
    root, _ = quick_runs
    shutil.copytree(root / "classify-pneumoniamnist_quick", tmp_path / "classify-pneumoniamnist_quick")
    (tmp_path / "classify-pneumoniamnist_quick" / "mlp.pt").write_bytes(b"garbage")
    before = snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "classify",
                "--data-dir",
                str(root.parent / "medmnist"),
                "--dataset",
                "pneumoniamnist",
                "--quick",
                "--resume",
                "--results-root",
                str(tmp_path),
            ]
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "cannot resume" in lines[0]
    assert snapshot(tmp_path) == before


def test_ctrl_c_says_how_to_resume_and_keeps_no_half_run(medmnist_dir, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(classify, "train_one_epoch", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "classify",
                "--data-dir",
                str(medmnist_dir),
                "--dataset",
                "pneumoniamnist",
                "--quick",
                "--results-root",
                str(tmp_path / "runs"),
            ]
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 130 and not any("Traceback" in line for line in lines)
    assert lines[-1].startswith("main.py classify: interrupted") and "--resume" in lines[-1]  # after the progress bar
    assert not (
        tmp_path / "runs"
    ).exists()  # no checkpoint was written, so the run folder (and the root made for it) is gone


def test_the_last_line_names_the_run_folder_and_the_headline(medmnist_dir, tmp_path, capsys):
    cli.main(
        [
            "classify",
            "--data-dir",
            str(medmnist_dir),
            "--dataset",
            "pneumoniamnist",
            "--quick",
            "--results-root",
            str(tmp_path),
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(str(tmp_path / "classify-pneumoniamnist_quick")) and "test accuracy MLP" in last


def test_help_is_instant_and_imports_no_torch():
    code = "import sys, medical_cnn.main as m; assert 'torch' not in sys.modules; m.build_parser().format_help()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert cli.AUGMENTATIONS == augment.AUGMENTATIONS


def test_download_is_an_opt_in_flag():
    parser = cli.build_parser()
    assert (
        parser.parse_args(["classify"]).download is False
        and parser.parse_args(["classify", "--download"]).download is True
    )


def test_help_shows_each_default_once():
    for command in cli.build_parser().commands.values():
        text = " ".join(command.format_help().split())
        assert "(default: None)" not in text
        for flag in ("--seed", "--iters", "--epochs", "--sizes", "--encoder-weights"):
            start = text.find(f"{flag} ")
            if start >= 0:
                segment_text = text[start : text.find(" --", start + len(flag) + 1)]
                assert segment_text.count("(default") <= 1, segment_text


def test_class_weights_balance_the_classes():
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    weights = classify.class_weights(labels, 4)
    torch.testing.assert_close(weights, torch.tensor([6 / 12, 6 / 4, 6 / 8, 0.0]))
    per_class = weights * torch.bincount(labels, minlength=4)
    assert torch.allclose(per_class[:3], per_class[0].expand(3))


def test_random_shift_translates_within_the_limit():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(classify.random_shift(x, 0, generator), x)
    shifted = classify.random_shift(x, 2, generator)
    assert shifted.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for p, s in zip(padded, shifted):
        crops = [p[:, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(c, s) for c in crops)


def test_classify_can_resize_mobilenet_inputs(medmnist_dir, tmp_path):
    metrics = cli.main(
        [
            "classify",
            "--data-dir",
            str(medmnist_dir),
            "--dataset",
            "pneumoniamnist",
            "--results-root",
            str(tmp_path),
            "--device",
            "cpu",
            "--quick",
            "--resize",
            "32",
        ]
    )
    state = load_checkpoint(tmp_path / "classify-pneumoniamnist_quick" / "mobilenet.pt")["model"]
    assert any(key.startswith("1.stem") for key in state)  # the upsampling layer comes first
    assert 0.0 <= metrics["mobilenet"]["test_acc"] <= 1.0


def test_segment_resume_continues_exactly_where_it_stopped(drive_dir, tmp_path):
    tiny = [
        "segment",
        "--data-dir",
        str(drive_dir),
        "--device",
        "cpu",
        "--study",
        "skip",
        "--eval-every",
        "1",
        "--patch-size",
        "32",
        "--batch-size",
        "2",
        "--base-channels",
        "4",
        "--val-images",
        "1",
    ]
    straight = cli.main([*tiny, "--results-root", str(tmp_path / "a"), "--iters", "4"])
    cli.main([*tiny, "--results-root", str(tmp_path / "b"), "--iters", "2"])
    resumed = cli.main([*tiny, "--results-root", str(tmp_path / "b"), "--iters", "4", "--resume"])
    for variant in ("unet-skip", "unet-noskip"):
        assert resumed["variants"][variant]["history"]["iteration"] == [1, 2, 3, 4]
        for key in ("train_loss", "val_dice"):
            assert resumed["variants"][variant]["history"][key] == pytest.approx(
                straight["variants"][variant]["history"][key], rel=1e-4
            )
    assert json.loads((tmp_path / "b" / "segment-skip" / "config.json").read_text())["args"]["iters"] == 4


def test_resuming_with_another_model_width_is_refused_before_anything_changes(drive_dir, tmp_path, capsys):
    tiny = [
        "segment",
        "--data-dir",
        str(drive_dir),
        "--device",
        "cpu",
        "--results-root",
        str(tmp_path),
        "--iters",
        "1",
        "--eval-every",
        "1",
        "--patch-size",
        "32",
        "--batch-size",
        "2",
        "--val-images",
        "1",
    ]
    cli.main([*tiny, "--base-channels", "4"])
    before = snapshot(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*tiny, "--base-channels", "8", "--resume"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "--base-channels 4" in lines[0]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "schedule, factors", [("constant", [1.0, 1.0, 1.0, 1.0, 1.0]), ("cosine", [1.0, 0.8535534, 0.5, 0.1464466, 0.0])]
)
def test_lr_schedule_factor_per_iteration(schedule, factors):
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([weight], lr=0.1)
    scheduler = segment.lr_schedule(optimizer, SimpleNamespace(lr_schedule=schedule, iters=4))
    seen = []
    for _ in range(5):
        seen.append(optimizer.param_groups[0]["lr"] / 0.1)
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(factors, abs=1e-6)


def test_cosine_schedule_reaches_zero_and_a_longer_resume_continues_it(drive_dir, tmp_path):
    tiny = [
        "segment",
        "--data-dir",
        str(drive_dir),
        "--device",
        "cpu",
        "--results-root",
        str(tmp_path),
        "--study",
        "lr",
        "--lrs",
        "0.01",
        "--lr-schedule",
        "cosine",
        "--eval-every",
        "1",
        "--patch-size",
        "32",
        "--batch-size",
        "2",
        "--base-channels",
        "4",
        "--val-images",
        "1",
    ]
    cli.main([*tiny, "--iters", "2"])
    ckpt_path = next((tmp_path / "segment-lr").glob("*.pt"))
    ckpt = load_checkpoint(ckpt_path, torch.device("cpu"))
    assert (
        ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)
        and ckpt["scheduler"]["last_epoch"] == 2
    )
    resumed = cli.main([*tiny, "--iters", "4", "--resume"])
    # the resumed run picks the half-cosine up at iteration 2 of 4 (factor 0.5), not at its start
    assert load_checkpoint(ckpt_path, torch.device("cpu"))["scheduler"]["last_epoch"] == 4
    assert resumed["variants"]["lr-0.01"]["history"]["iteration"] == [1, 2, 3, 4]
    assert resumed["variants"]["lr-0.01"]["lr_schedule"] == "cosine"
