"""main.py end to end on tiny fixtures: run folders, error messages, resume, and the report notebook."""
from pathlib import Path

import pytest

from autoencoders import main
from common.runs import load_checkpoint, load_json

REPORT = Path(main.__file__).resolve().parent / "report.ipynb"


def test_every_sub_command_writes_a_complete_run_folder(quick_runs):
    expected = {
        "cifar": ["history.png", "best.pth", "checkpoint.pt"],
        "mnist": ["reconstruction.png", "denoising.png", "conv_denoising/best.pth", "linear_reconstruction/best.pth"],
        "stl10-cnn": ["history.png", "best.pth"],
        "stl10-resnet": ["history.png", "best.pth"],
        "stl10-ae": ["reconstructions.png", "autoencoder/best.pth", "classifier/best.pth"],
        "segment": ["samples.png", "samples/epoch_001.npy", "samples/epoch_002.npy", "samples_inputs.npz", "best.pth"],
        "segment_synthetic": ["samples.png"],
    }
    for name, files in expected.items():
        run = quick_runs / name
        config = load_json(run / "config.json")
        assert config["device"].split(":")[0] in ("cpu", "cuda") and config["dataset"], name
        assert (run / "metrics.json").exists(), name
        for f in files:
            assert (run / f).exists(), f"{name}/{f}"
    assert load_json(quick_runs / "cifar" / "metrics.json")["history"]["test_acc"].__len__() == 2
    assert "SYNTHETIC" in load_json(quick_runs / "segment_synthetic" / "config.json")["dataset"]
    assert "RANDOM" in load_json(quick_runs / "stl10-resnet" / "config.json")["backbone"]
    table = load_json(quick_runs / "mnist" / "metrics.json")["table"]
    assert {(r["model"], r["task"]) for r in table} == {(m, t) for m in ("LinearAutoEncoder", "AutoEncoder_CNN")
                                                        for t in ("reconstruction", "denoising")}  # fmt: skip
    state = load_checkpoint(quick_runs / "segment" / "checkpoint.pt")
    assert state["epoch"] == 2 and len(state["history"]["test_dice"]) == 2


def test_resume_continues_after_the_saved_epoch(quick_runs, capsys):
    data = Path(load_json(quick_runs / "cifar" / "config.json")["data_dir"])
    main.main(["cifar", "--data-dir", str(data), "--results-root", str(quick_runs), "--quick", "--epochs", "3", "--resume"])
    captured = capsys.readouterr()
    assert "resuming" in captured.out + captured.err
    history = load_json(quick_runs / "cifar" / "metrics.json")["history"]
    assert len(history["test_acc"]) == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["cifar"], "CIFAR-10 not found"),
        (["mnist"], "MNIST not found"),
        (["stl10-cnn"], "stl10_binary"),
        (["segment"], "no .mat files"),
        (["stl10-resnet"], "--weights"),
        (["stl10-resnet", "--weights", "missing.pth"], "file not found"),
    ],
)
def test_missing_data_ends_with_one_clear_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main.main([*argv, "--data-dir", str(tmp_path), "--results-root", str(tmp_path / "runs")])
    text = str(exit_info.value.code)
    assert text.startswith("main.py: error:") and message in text and "\n" not in text


def test_bad_flags_are_rejected_by_the_parser(tmp_path, capsys):
    for argv in (["cifar", "--epochs", "0"], ["mnist", "--noise-std", "-1"], ["segment", "--synthetic", "-2"],
                 ["segment", "--size", "100"], ["nope"]):
        with pytest.raises(SystemExit) as exit_info:
            main.main(argv)
        assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_report_notebook_runs_on_the_quick_runs(quick_runs, execute_notebook):
    nb = execute_notebook(REPORT, env={"AUTOENCODERS_RUNS": quick_runs})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "AutoEncoder_CNN" in text and "SYNTHETIC" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 6
