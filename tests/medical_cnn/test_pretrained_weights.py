"""segment --study pretrained with --encoder-weights imagenet (online, offline) or a PATH;
no test touches the network."""

import json
from urllib.error import URLError

import pytest
import torch
import torchvision

from common import pretrained
from medical_cnn import main as cli
from medical_cnn import segment


@pytest.fixture
def study(drive_dir, tmp_path, monkeypatch):
    """Runs ``segment --study pretrained --quick`` into ``tmp_path/runs`` with an empty torch hub cache; training is
    replaced by a record of the encoder each variant would start from (the quick runs of test_main.py train this
    study for real). Returns ``run(*extra) -> (metrics, config, starts)``."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    starts = {}

    def train(variant, model, *args, **kwargs):
        starts[variant["name"]] = {k: v.clone() for k, v in model.encoder.state_dict().items()}
        return {"status": "ok", "history": {"iteration": [1], "train_loss": [1.0], "val_dice": [0.5]}, "test": None}

    monkeypatch.setattr(segment, "train_segmenter", train)

    def run(*extra):
        metrics = cli.main(
            [
                "segment",
                "--study",
                "pretrained",
                "--data-dir",
                str(drive_dir),
                "--quick",
                "--device",
                "cpu",
                "--results-root",
                str(tmp_path / "runs"),
                *extra,
            ]
        )
        config = json.loads((tmp_path / "runs" / "segment-pretrained_quick" / "config.json").read_text())
        return metrics, config, starts

    return run


def test_the_flag_value_is_the_one_common_pretrained_knows():
    assert cli.IMAGENET == pretrained.IMAGENET


def test_offline_the_scratch_variant_trains_and_the_pretrained_one_is_recorded_as_skipped(study, monkeypatch, capsys):
    def offline():
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(pretrained, "download_imagenet", offline)
    metrics, config, starts = study("--encoder-weights", "imagenet")
    variants = metrics["variants"]
    assert variants["smp-scratch"]["status"] == "ok" and variants["smp-scratch"]["encoder_weights"].startswith("RANDOM")
    skipped = variants["smp-pretrained"]
    assert skipped["status"] == "skipped" and "could not be downloaded" in skipped["reason"] and "test" not in skipped
    assert skipped["encoder_weights"] == config["dataset"]["encoder_weights"] == f"skipped: {skipped['reason']}"
    assert set(starts) == {"smp-scratch"}  # nothing trained under the name "pretrained"
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "smp-pretrained SKIPPED" in out.strip().splitlines()[-1]


@pytest.mark.parametrize("source", ["imagenet", "file"])
def test_the_weights_are_loaded_into_the_encoder_and_recorded(study, resnet18_state, weights_flag, source):
    flag, expected = weights_flag(source)
    metrics, config, starts = study("--encoder-weights", flag)
    pretrained_run = metrics["variants"]["smp-pretrained"]
    assert pretrained_run["status"] == "ok" and pretrained_run["encoder_weights"].startswith(expected)
    assert config["dataset"]["encoder_weights"] == pretrained_run["encoder_weights"]
    start = starts["smp-pretrained"]
    torch.testing.assert_close(start["layer3.1.conv2.weight"], resnet18_state["layer3.1.conv2.weight"])
    torch.testing.assert_close(start["bn1.running_mean"], resnet18_state["bn1.running_mean"])
    assert not torch.equal(starts["smp-scratch"]["layer3.1.conv2.weight"], resnet18_state["layer3.1.conv2.weight"])


def test_the_encoder_takes_the_grey_scale_sum_of_the_first_convolution(resnet18_state):
    model = segment.build_segmenter("smp", None)
    segment.load_encoder_weights(model, pretrained.backbone_state(resnet18_state, "resnet18_state"))
    torch.testing.assert_close(model.encoder.conv1.weight, resnet18_state["conv1.weight"].sum(1, keepdim=True))
    torch.testing.assert_close(model.encoder.layer1[0].bn2.weight, resnet18_state["layer1.0.bn2.weight"])


def test_a_wrong_weights_file_is_one_line_before_any_run_folder(drive_dir, tmp_path, capsys):
    torch.save(torchvision.models.resnet18(num_classes=10).layer1.state_dict(), tmp_path / "layer1.pth")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "segment",
                "--study",
                "pretrained",
                "--data-dir",
                str(drive_dir),
                "--quick",
                "--device",
                "cpu",
                "--results-root",
                str(tmp_path / "runs"),
                "--encoder-weights",
                str(tmp_path / "layer1.pth"),
            ]
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "Traceback" not in lines[0]
    assert lines[0].startswith("main.py segment: error: --encoder-weights") and "not a ResNet-18 state dict" in lines[0]
    assert not (tmp_path / "runs").exists()
