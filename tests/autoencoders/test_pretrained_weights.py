"""stl10-resnet with --weights imagenet (online, offline), a PATH, no flag, or --no-pretrained;
no test touches the network."""

from urllib.error import URLError

import pytest
import torch

from autoencoders import main, stl10
from common import pretrained
from common.runs import load_json


@pytest.fixture
def resnet_run(tmp_path, formats, monkeypatch):
    """``run(*extra) -> (results root, the model handed to training or None)``: stl10-resnet --quick on a tiny STL-10
    fixture into ``tmp_path/runs`` with an empty torch hub cache. Training is replaced by a record of the model (the
    quick runs of test_main.py train this command for real)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    formats.write_stl10_binary(tmp_path / "data")
    trained = []

    def train(args, device, model, *rest, **kwargs):
        trained.append(model)
        return {"train_loss": [1.0], "val_acc": [0.1]}, {"test_acc": 0.1, "best_epoch": 1}

    monkeypatch.setattr(stl10, "train_classifier", train)

    def run(*extra):
        main.main(
            [
                "stl10-resnet",
                "--data-dir",
                str(tmp_path / "data"),
                "--quick",
                "--workers",
                "0",
                "--results-root",
                str(tmp_path / "runs"),
                *extra,
            ]
        )
        return tmp_path / "runs", (trained[0] if trained else None)

    return run


def offline():
    raise URLError("[Errno -2] Name or service not known")


@pytest.mark.parametrize(
    "extra, reason",
    [(["--weights", "imagenet"], "could not be downloaded"), ([], "no --weights given")],
    ids=["offline", "no-flag"],
)
def test_without_weights_the_run_is_recorded_as_skipped_in_one_line(resnet_run, monkeypatch, capsys, extra, reason):
    monkeypatch.setattr(pretrained, "download_imagenet", offline)
    runs, model = resnet_run(*extra)  # returns: exit status 0, a skip is not an error
    out, err = capsys.readouterr()
    run_dir = runs / "stl10-resnet_quick"
    last = out.strip().splitlines()[-1]
    assert (
        last.startswith(f"{run_dir}: SKIPPED")
        and reason in last
        and "--weights imagenet" in last
        and "--weights PATH" in last
    )
    assert "Traceback" not in err
    metrics, config = load_json(run_dir / "metrics.json"), load_json(run_dir / "config.json")
    assert metrics["status"] == "skipped" and reason in metrics["reason"] and "STL-10" in metrics["dataset"]
    assert (
        config["backbone"] == metrics["backbone"] == f"skipped: {metrics['reason']}" and "STL-10" in config["dataset"]
    )
    assert model is None and sorted(p.name for p in run_dir.iterdir()) == [
        "config.json",
        "metrics.json",
    ]  # nothing trained


@pytest.mark.parametrize("source", ["imagenet", "file"])
def test_the_weights_are_loaded_into_the_frozen_backbone_and_recorded(resnet_run, resnet18_state, weights_flag, source):
    flag, expected = weights_flag(source)
    runs, model = resnet_run("--weights", flag)
    metrics, config = (load_json(runs / "stl10-resnet_quick" / f) for f in ("metrics.json", "config.json"))
    assert (
        metrics["status"] == "ok"
        and metrics["backbone"].startswith(expected)
        and config["backbone"] == metrics["backbone"]
    )
    for key in ("conv1.weight", "layer4.1.bn2.running_var"):
        torch.testing.assert_close(model.encoder.state_dict()[key], resnet18_state[key])


def test_a_random_backbone_is_labelled_random_and_never_pretrained(resnet_run, resnet18_state, capsys):
    runs, model = resnet_run("--no-pretrained")
    assert "RANDOM" in capsys.readouterr().out.strip().splitlines()[-1]
    metrics = load_json(runs / "stl10-resnet_random_quick" / "metrics.json")
    assert metrics["backbone"].startswith("RANDOM") and "ImageNet" not in metrics["backbone"]
    assert not torch.equal(model.encoder.conv1.weight, resnet18_state["conv1.weight"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--weights", "WRONG"], "not a ResNet-18 state dict"),
        (["--weights", "imagenet", "--no-pretrained"], "not allowed with"),
    ],
    ids=["wrong-file", "weights-and-random"],
)
def test_a_bad_weights_choice_is_one_line_and_creates_no_folder(resnet_run, tmp_path, capsys, argv, message):
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "wrong.pth")
    with pytest.raises(SystemExit) as e:
        resnet_run(*[str(tmp_path / "wrong.pth") if a == "WRONG" else a for a in argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "runs").exists()
