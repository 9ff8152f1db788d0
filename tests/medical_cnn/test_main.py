"""main.py sub-commands on tiny fixtures: run folders, resumable checkpoints, clear errors."""
import json

import pytest
import torch
import torchvision

from common.runs import load_checkpoint
from medical_cnn import main as cli


def test_conv_run_matches_scipy_and_writes_figures(quick_runs):
    root, metrics = quick_runs
    m = metrics["conv"]
    assert len(m["timings"]) == 4 and m["max_abs_error_vs_correlate2d"] < 1e-9
    assert all(r["ours_s"] > 0 and r["scipy_correlate2d_s"] > 0 for r in m["timings"])
    assert (root / "conv" / "timings.png").is_file() and (root / "conv" / "filters.png").is_file()
    assert json.loads((root / "conv" / "metrics.json").read_text())["timings"] == m["timings"]


def test_classify_run_names_the_dataset_and_scores_both_models(quick_runs):
    root, metrics = quick_runs
    m = metrics["classify-pneumoniamnist"]
    config = json.loads((root / "classify-pneumoniamnist" / "config.json").read_text())
    assert m["dataset"] == config["dataset"]["name"] == "pneumoniamnist"
    assert config["dataset"]["channels"] == 1 and config["dataset"]["classes"] == 2 and config["device"] == "cpu"
    for name in ("mlp", "mobilenet"):
        assert 0.0 <= m[name]["test_acc"] <= 1.0 and len(m[name]["history"]["val_acc"]) == 1
        assert set(load_checkpoint(root / "classify-pneumoniamnist" / f"{name}.pt")) >= {"model", "optimizer", "epoch", "best"}
    assert (root / "classify-pneumoniamnist" / "curves.png").is_file()


def test_classify_resume_continues_from_the_checkpoint(medmnist_dir, tmp_path):
    args = ["classify", "--data-dir", str(medmnist_dir), "--dataset", "pneumoniamnist", "--results-root", str(tmp_path), "--device", "cpu", "--quick"]
    first = cli.main(args)
    again = cli.main([*args, "--resume"])  # all epochs done: no training, same weights, same test score
    assert again["mlp"]["history"] == first["mlp"]["history"]
    assert again["mlp"]["test_acc"] == first["mlp"]["test_acc"]


def test_segment_skip_study_scores_inside_the_fov(quick_runs):
    root, metrics = quick_runs
    variants = metrics["segment-skip"]["variants"]
    assert set(variants) == {"unet-skip", "unet-noskip"}
    for v in variants.values():
        assert v["status"] == "ok" and 0.0 <= v["test"]["dice_mean"] <= 1.0 and len(v["test"]["dice_per_image"]) == 2
    for figure in ("curves.png", "predictions.png"):
        assert (root / "segment-skip" / figure).is_file()
    config = json.loads((root / "segment-skip" / "config.json").read_text())
    assert config["dataset"]["name"] == "DRIVE" and config["dataset"]["images"]["test"] == ["01", "02"]


def test_lr_sweep_records_a_diverged_run_and_goes_on(quick_runs):
    _, metrics = quick_runs
    variants = metrics["segment-lr"]["variants"]
    assert variants["lr-0.1"]["status"] == "diverged" and variants["lr-0.1"]["test"] is None
    assert variants["lr-0.001"]["status"] == "ok" and variants["lr-0.001"]["test"] is not None


def test_augment_study_runs_every_strategy_with_a_figure(quick_runs):
    root, metrics = quick_runs
    assert set(metrics["segment-augment"]["variants"]) == {"aug-none", "aug-flip", "aug-affine", "aug-intensity"}
    assert (root / "segment-augment" / "augmentations.png").is_file()


def test_pretrained_study_says_when_it_is_skipped(quick_runs):
    _, metrics = quick_runs
    variants = metrics["segment-pretrained"]["variants"]
    assert variants["smp-scratch"]["status"] == "ok"
    assert variants["smp-pretrained"]["status"] == "skipped" and "--encoder-weights" in variants["smp-pretrained"]["reason"]


def test_encoder_weights_load_into_the_smp_encoder(tmp_path):
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "resnet18.pth")
    model = cli.build_segmenter("smp", None)
    cli.load_encoder_weights(model, tmp_path / "resnet18.pth")
    torch.testing.assert_close(model.encoder.layer3[0].conv1.weight, reference.layer3[0].conv1.weight)
    torch.testing.assert_close(model.encoder.conv1.weight, reference.conv1.weight.sum(1, keepdim=True))
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(cli.DataError, match="not a ResNet-18"):
        cli.load_encoder_weights(model, tmp_path / "other.pth")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["segment", "--iters", "0"], "positive integer"),
        (["segment", "--study", "everything"], "invalid choice"),
        (["classify", "--lr", "-1"], "positive number"),
        (["conv", "--device", "cuda:7"], "CUDA is not available"),
        (["segment", "--encoder-weights", "/nonexistent/resnet18.pth"], "does not exist"),
        (["segment", "--patch-size", "40"], "multiple of 16"),
    ],
)
def test_bad_flags_end_with_one_usage_error(argv, message, capsys, tmp_path):
    if "cuda" in " ".join(argv) and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--results-root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_data_ends_with_one_line_saying_what_is_expected(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["segment", "--data-dir", str(tmp_path / "nowhere"), "--results-root", str(tmp_path), "--quick"])
    assert "expected" in str(exit_info.value.code) and "1st_manual" in str(exit_info.value.code)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["classify", "--data-dir", str(tmp_path), "--no-download", "--results-root", str(tmp_path), "--quick"])
    assert "pathmnist.npz" in str(exit_info.value.code) and "\n" not in str(exit_info.value.code)


def test_class_weights_balance_the_classes():
    labels = torch.tensor([0, 0, 0, 1, 2, 2])
    weights = cli.class_weights(labels, 4)
    torch.testing.assert_close(weights, torch.tensor([6 / 12, 6 / 4, 6 / 8, 0.0]))
    per_class = weights * torch.bincount(labels, minlength=4)
    assert torch.allclose(per_class[:3], per_class[0].expand(3))


def test_random_shift_translates_within_the_limit():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).reshape(2, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(cli.random_shift(x, 0, generator), x)
    shifted = cli.random_shift(x, 2, generator)
    assert shifted.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for p, s in zip(padded, shifted):
        crops = [p[:, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(c, s) for c in crops)


def test_classify_can_resize_mobilenet_inputs(medmnist_dir, tmp_path):
    metrics = cli.main(["classify", "--data-dir", str(medmnist_dir), "--dataset", "pneumoniamnist", "--results-root", str(tmp_path), "--device", "cpu", "--quick", "--resize", "32"])
    state = load_checkpoint(tmp_path / "classify-pneumoniamnist" / "mobilenet.pt")["model"]
    assert any(key.startswith("1.stem") for key in state)  # the upsampling layer comes first
    assert 0.0 <= metrics["mobilenet"]["test_acc"] <= 1.0


def test_segment_resume_continues_exactly_where_it_stopped(drive_dir, tmp_path):
    tiny = ["segment", "--data-dir", str(drive_dir), "--device", "cpu", "--study", "skip", "--eval-every", "1", "--patch-size", "32", "--batch-size", "2", "--base-channels", "4", "--val-images", "1"]
    straight = cli.main([*tiny, "--results-root", str(tmp_path / "a"), "--iters", "4"])
    cli.main([*tiny, "--results-root", str(tmp_path / "b"), "--iters", "2"])
    resumed = cli.main([*tiny, "--results-root", str(tmp_path / "b"), "--iters", "4", "--resume"])
    for variant in ("unet-skip", "unet-noskip"):
        assert resumed["variants"][variant]["history"]["iteration"] == [1, 2, 3, 4]
        for key in ("train_loss", "val_dice"):
            assert resumed["variants"][variant]["history"][key] == pytest.approx(straight["variants"][variant]["history"][key], rel=1e-4)


def test_resuming_with_other_flags_ends_with_one_line(drive_dir, tmp_path):
    tiny = ["segment", "--data-dir", str(drive_dir), "--device", "cpu", "--results-root", str(tmp_path), "--iters", "1", "--eval-every", "1", "--patch-size", "32", "--batch-size", "2", "--val-images", "1"]
    cli.main([*tiny, "--base-channels", "4"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*tiny, "--base-channels", "8", "--resume"])
    assert "cannot resume" in str(exit_info.value.code) and "\n" not in str(exit_info.value.code)
