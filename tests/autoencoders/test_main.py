"""main.py end to end on tiny fixtures: run folders, the CLI convention, bad input, resume."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autoencoders import cifar, datasets, helper, main, models, segment
from common.runs import load_checkpoint, load_json


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_sub_command_writes_a_complete_run_folder(quick_runs):
    expected = {
        "cifar_quick": ["history.png", "best.pth", "best_test.pth", "checkpoint.pt"],
        "mnist_quick": [
            "reconstruction.png",
            "denoising.png",
            "best_conv_denoising.pth",
            "checkpoint_linear_reconstruction.pt",
        ],
        "stl10-cnn_quick": ["history.png", "best.pth"],
        "stl10-resnet_random_quick": ["history.png", "best.pth"],
        "stl10-ae_quick": ["reconstructions.png", "best_autoencoder.pth", "best_classifier.pth"],
        "segment_quick": [
            "samples.png",
            "test_cases.png",
            "samples/epoch_001.npz",
            "samples/epoch_002.npz",
            "samples_inputs.npz",
            "best.pth",
        ],
        "segment_synthetic_quick": ["samples.png", "test_cases.png"],
    }
    assert sorted(p.name for p in quick_runs.iterdir()) == sorted(expected)
    for name, files in expected.items():
        run = quick_runs / name
        config = load_json(run / "config.json")
        assert config["device"].split(":")[0] in ("cpu", "cuda") and config["dataset"], name
        assert config["args"]["quick"] and config["args"]["name"] == name
        assert (run / "metrics.json").exists(), name
        for f in files:
            assert (run / f).exists(), f"{name}/{f}"
    assert len(load_json(quick_runs / "cifar_quick" / "metrics.json")["history"]["val_acc"]) == 2
    log = (quick_runs / "cifar_quick" / "log.csv").read_text().splitlines()  # one row per epoch, as it ran
    assert log[0] == "epoch,train_loss,val_acc,test_acc,epoch_seconds" and [r.split(",")[0] for r in log[1:]] == [
        "1",
        "2",
    ]
    assert "SYNTHETIC" in load_json(quick_runs / "segment_synthetic_quick" / "config.json")["dataset"]
    for record in ("config.json", "metrics.json"):  # a random backbone is never called pretrained
        assert "RANDOM" in load_json(quick_runs / "stl10-resnet_random_quick" / record)["backbone"]
    table = load_json(quick_runs / "mnist_quick" / "metrics.json")["table"]
    assert {(r["model"], r["task"]) for r in table} == {
        (m, t) for m in ("LinearAutoEncoder", "AutoEncoder_CNN") for t in ("reconstruction", "denoising")
    }
    state = load_checkpoint(quick_runs / "segment_quick" / "checkpoint.pt")
    assert state["step"] == 2 and len(state["extra"]["history"]["val_dice"]) == 2
    per_type = load_json(quick_runs / "segment_quick" / "metrics.json")["test_per_type"]
    assert set(per_type) == {"overall", "meningioma", "glioma", "pituitary"}


def test_the_mnist_pipeline_trains_its_models(quick_runs):
    """The kept (validation-selected) weights reconstruct the fixture's test digits better than the same model
    untrained, and the table's test MSE is theirs."""
    data = datasets.load_mnist(quick_runs.parent / "data")
    test = [data["test_x"].float() / 255]
    metrics = load_json(quick_runs / "mnist_quick" / "metrics.json")
    for name, cls in (("linear", models.LinearAutoEncoder), ("conv", models.AutoEncoder_CNN)):
        torch.manual_seed(0)
        model = cls()
        untrained = helper.autoencoder_test_mse(model, test, torch.device("cpu"), "reconstruction", 0.0)
        model.load_state_dict(load_checkpoint(quick_runs / "mnist_quick" / f"best_{name}_reconstruction.pth"))
        trained = helper.autoencoder_test_mse(model, test, torch.device("cpu"), "reconstruction", 0.0)
        assert trained < 0.7 * untrained, name
        row = next(r for r in metrics["table"] if r["model"] == cls.__name__ and r["task"] == "reconstruction")
        assert trained == pytest.approx(row["test_mse"], rel=1e-5)
        assert row["val_mse"] == min(metrics["histories"][f"{name}_reconstruction"]["val_mse"])


@pytest.mark.parametrize(
    "task, extra, module",
    [
        ("cifar", [], cifar),
        ("segment", ["--synthetic", "10", "--size", "32", "--batch-size", "2"], segment),
    ],
)
def test_an_interrupted_run_resumes_to_the_same_history_and_weights(
    tmp_path, monkeypatch, capsys, formats, task, extra, module
):
    formats.write_cifar_folders(tmp_path / "data" / "CIFAR10")
    argv = [task, "--data-dir", str(tmp_path / "data"), "--quick", "--epochs", "2", "--workers", "0", *extra]
    main.main([*argv, "--results-root", str(tmp_path / "straight")])
    real, calls = module.train_one_epoch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during epoch 2
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "train_one_epoch", interrupted)
    with pytest.raises(SystemExit) as e:
        main.main([*argv, "--results-root", str(tmp_path / "resumed")])
    assert e.value.code == 130 and "--resume" in capsys.readouterr().err
    monkeypatch.undo()
    name = f"{main.default_name(main.build_parser().parse_args(argv))}_quick"
    resumed, straight = tmp_path / "resumed" / name, tmp_path / "straight" / name
    assert load_checkpoint(resumed / "checkpoint.pt")["step"] == 1 and not (resumed / "metrics.json").exists()
    main.main([*argv, "--results-root", str(tmp_path / "resumed"), "--resume"])
    assert "resuming" in capsys.readouterr().out
    h1, h2 = (load_json(d / "metrics.json")["history"] for d in (straight, resumed))
    assert h1.keys() == h2.keys() and len(h1["train_loss"]) == 2
    for key in h1.keys() - {"epoch_seconds"}:
        assert h1[key] == h2[key], key
    w1, w2 = (load_checkpoint(d / "checkpoint.pt")["model"] for d in (straight, resumed))
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


BAD_INPUT = {  # name: (argv, a piece of the expected message)
    "negative lr": (["mnist", "--quick", "--lr", "-1"], "--lr"),
    "zero epochs": (["cifar", "--quick", "--epochs", "0"], "--epochs"),
    "negative noise": (["mnist", "--quick", "--noise-std", "-1"], "--noise-std"),
    "negative synthetic": (["segment", "--synthetic", "-2"], "--synthetic"),
    "size not a multiple of 16": (["segment", "--size", "100"], "multiple of 16"),
    "unknown command": (["nope"], "invalid choice"),
    "unknown device": (["cifar", "--device", "tpu"], "--device"),
    "missing CUDA": pytest.param(
        ["mnist", "--quick", "--device", "cuda"],
        "CUDA is not available",
        marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there"),
    ),
    "existing run": (["mnist", "--quick"], "already holds a run"),
    "resume with another seed": (["mnist", "--quick", "--resume", "--seed", "1"], "--seed 0"),
    "resume with other epochs (one-cycle schedule)": (["cifar", "--quick", "--resume", "--epochs", "5"], "--epochs 2"),
    "resume of no run": (["cifar", "--resume", "--name", "nothing"], "no run"),
    "missing data, even with --overwrite": (
        ["cifar", "--quick", "--overwrite", "--data-dir", "EMPTY"],
        "CIFAR-10 not found",
    ),
    "missing STL-10": (["stl10-cnn", "--data-dir", "EMPTY"], "stl10_binary"),
    "weights file not found": (["stl10-resnet", "--weights", "missing.pth"], "file not found"),
    "missing .mat files": (["segment", "--data-dir", "EMPTY"], "no .mat files"),
    "corrupt .mat mid-epoch": (["segment", "--data-dir", "BAD", "--quick", "--size", "32", "--name", "bad"], "7.mat"),
    "corrupt .mat, loader workers": (
        ["segment", "--data-dir", "BAD", "--quick", "--size", "32", "--name", "bad", "--workers", "1"],
        "7.mat",
    ),
    "unwritable results root": (["mnist", "--quick", "--results-root", "/proc/x"], "/proc/x"),
    "zero validation fraction": (["cifar", "--quick", "--val-fraction", "0"], "--val-fraction"),
    "bf16 for an fp32-only task": (["mnist", "--quick", "--precision", "bf16", "--name", "bf16"], "fp32 only"),
    "fp16 is not offered": (["cifar", "--quick", "--precision", "fp16"], "--precision"),
    "negative guard": (["segment", "--guard", "-1"], "--guard"),
    "PNG layout: images/ but no masks/": (["segment", "--data-dir", "NOMASKS", "--name", "nomasks"], "no masks/"),
    "corrupt PNG mid-epoch": (
        [
            "segment",
            "--data-dir",
            "BADPNG",
            "--quick",
            "--size",
            "16",
            "--guard",
            "0",
            "--name",
            "badpng",
            "--workers",
            "0",
        ],
        "3.png",
    ),
    "guard too large for the data": (["segment", "--data-dir", "BADPNG", "--guard", "4", "--name", "g"], "--guard"),
}


@pytest.mark.parametrize("argv, message", list(BAD_INPUT.values()), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_changes_no_run(quick_runs, tmp_path, formats, capsys, argv, message):
    data = quick_runs.parent / "data"
    bad = tmp_path / "bad"
    formats.write_tumour_set(bad, n=20, size=32)
    (bad / "7.mat").write_bytes((bad / "7.mat").read_bytes()[:3000])  # truncated: read only when its batch comes
    (tmp_path / "empty").mkdir()
    formats.write_tumour_pngs(tmp_path / "nomasks", [1, 2, 3], size=16)
    shutil.rmtree(tmp_path / "nomasks" / "masks")
    formats.write_tumour_pngs(tmp_path / "badpng", [1] * 10 + [2] * 10 + [3] * 10, size=16)
    (tmp_path / "badpng" / "images" / "3.png").write_bytes(b"\x89PNG cut off")  # a training slice, read in epoch 1
    places = {"EMPTY": tmp_path / "empty", "BAD": bad, "NOMASKS": tmp_path / "nomasks", "BADPNG": tmp_path / "badpng"}
    argv = [str(places[a]) if a in places else a for a in argv]
    if "--data-dir" not in argv:
        argv += ["--data-dir", str(data)]
    if "--results-root" not in argv:
        argv += ["--results-root", str(quick_runs)]
    before, entries = snapshot(quick_runs), sorted(quick_runs.rglob("*"))
    with pytest.raises(SystemExit) as e:
        main.main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2  # usage errors and data/run errors alike
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("main.py") and "error: " in err and message in err, err
    assert snapshot(quick_runs) == before  # no file changed, added or removed
    assert sorted(quick_runs.rglob("*")) == entries  # not even an empty run folder


def test_corrupt_mat_file_is_named(quick_runs, tmp_path, formats, capsys):
    formats.write_tumour_set(tmp_path / "bad", n=20, size=32)
    (tmp_path / "bad" / "7.mat").write_bytes(b"MATLAB 7.3 but cut off")
    with pytest.raises(SystemExit):
        main.main(
            [
                "segment",
                "--data-dir",
                str(tmp_path / "bad"),
                "--quick",
                "--size",
                "32",
                "--workers",
                "0",
                "--results-root",
                str(tmp_path / "runs"),
            ]
        )
    assert "7.mat" in capsys.readouterr().err and not (tmp_path / "runs" / "segment_quick").exists()


def test_a_failed_download_leaves_no_data_folder(tmp_path, monkeypatch):
    def offline(root, **kwargs):
        Path(root, "MNIST", "raw").mkdir(parents=True)  # what torchvision does before fetching
        raise OSError("Name or service not known")

    monkeypatch.setattr(datasets.torchvision.datasets, "MNIST", offline)
    with pytest.raises(datasets.DataError, match="MNIST"):
        datasets.load_mnist(tmp_path / "new", download=True)
    assert not (tmp_path / "new").exists()


def test_quick_runs_never_touch_the_real_run(tmp_path):
    argv = [
        "segment",
        "--synthetic",
        "10",
        "--size",
        "32",
        "--epochs",
        "1",
        "--results-root",
        str(tmp_path),
        "--workers",
        "0",
    ]
    main.main(argv)
    real = snapshot(tmp_path / "segment_synthetic")
    main.main([*argv, "--quick"])
    assert (
        snapshot(tmp_path / "segment_synthetic") == real
        and (tmp_path / "segment_synthetic_quick" / "metrics.json").exists()
    )


@pytest.mark.parametrize("task", main.TASKS)
def test_help_shows_each_default_once(task):
    text = subprocess.run(
        [sys.executable, main.__file__, task, "--help"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert "None" not in text and "--run-name" not in text and "--name NAME" in text
    assert f"training epochs (default: {main.TASKS[task][2]['epochs']}; 1 with --quick)" in flat
    for option in ("--data-dir", "--results-root", "--seed", "--lr"):
        block = flat.split(f"{option} {option[2:].upper().replace('-', '_')} ", 1)[1].split(" --", 1)[0]
        assert block.count("default") == 1, (option, block)
    args = main.build_parser().parse_args([task])
    assert args.data_dir == "data" and not Path(args.data_dir).is_absolute() and args.results_root == "runs"


def test_common_flags_work_before_and_after_the_command():
    for argv in (["--seed", "3", "mnist"], ["mnist", "--seed", "3"]):
        args = main.build_parser().parse_args(argv)
        assert args.seed == 3


def test_main_imports_no_torch():
    code = "import autoencoders.main, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_segmentation_halves_the_learning_rate_when_validation_dice_stalls(tmp_path, monkeypatch):
    """Validation Dice 0.5, 0.6, then flat: the rate halves after two epochs without a better Dice, and the
    plateau state travels with the checkpoint, so a resumed run halves at the same epoch."""
    scores = iter([0.5, 0.6, 0.6, 0.6, 0.6, 0.6])
    monkeypatch.setattr(segment, "train_one_epoch", lambda *a, **k: 0.0)
    monkeypatch.setattr(segment, "keep_samples", lambda *a, **k: None)
    monkeypatch.setattr(segment.helper, "evaluate_segmentation", lambda *a, **k: {"val_dice": next(scores)})
    model = torch.nn.Conv2d(1, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    segment.train(model, [], [], helper.Fit(optimizer, 3, torch.device("cpu"), tmp_path), torch.zeros(1, 1, 4, 4))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)  # one epoch without a better Dice
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    fit = helper.Fit(optimizer, 4, torch.device("cpu"), tmp_path, resume=True)
    segment.train(model, [], [], fit, torch.zeros(1, 1, 4, 4))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-4)  # the second one, after the resume
