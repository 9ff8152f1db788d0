"""backprop under faults and bad input: folder names outside the root, a full disk while a checkpoint is
written, SIGTERM, diverged runs (hand-written SGD and Adam), bad image and MNIST files, a second run of a
busy folder. Each ends in one stderr line and its exit code and leaves existing run folders byte-identical."""

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backprop.main import main
from common.runs import load_checkpoint, load_json

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[1] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)
_spec = importlib.util.spec_from_file_location("backprop_fixtures", Path(__file__).with_name("fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("backprop_faults")
    fixtures.write_mnist_raw(base / "mnist", n_train=260, n_test=20)
    fixtures.write_image_folder(base / "train", 8, 48, 56, seed=0)
    fixtures.write_image_folder(base / "test", 2, 64, 64, seed=1)
    return base


def ablation(data: Path, root: Path, *extra: str) -> list[str]:
    return [
        "ablation",
        "--quick",
        "--results-root",
        str(root),
        "--data-dir",
        str(data / "train"),
        "--test-dir",
        str(data / "test"),
        "--val-count",
        "2",
        "--channels",
        "4",
        *extra,
    ]


@pytest.mark.parametrize("command", ["gradcheck", "inpaint", "ablation", "wiener"])
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(command, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    faults.refused(
        lambda: main([command, "--quick", "--results-root", str(tmp_path / "runs"), "--name", name]),
        tmp_path,
        capsys,
        f"main.py {command}: error: argument --name",
    )


def test_a_full_disk_keeps_the_last_checkpoint(data, tmp_path, monkeypatch, capsys):
    hit = faults.disk_full_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: main(ablation(data, tmp_path))) == 2
    line = faults.one_line(capsys.readouterr().err)
    assert line.startswith(f"main.py ablation: error: cannot write {hit[0]}: No space left on device")
    assert load_checkpoint(hit[0])["step"] == 3 and faults.no_temporary_files(tmp_path)


def test_sigterm_keeps_the_last_checkpoint_and_says_how_to_resume(data, tmp_path, monkeypatch, capsys):
    hit = faults.sigterm_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: main(ablation(data, tmp_path))) == 143
    err = capsys.readouterr().err
    assert "main.py ablation: terminated (SIGTERM); continue with: python main.py ablation --resume" in err
    assert "Traceback" not in err and load_checkpoint(hit[0])["step"] == 3


@pytest.mark.parametrize("command", ["inpaint", "ablation"])
def test_a_diverged_run_exits_3_with_its_status_and_no_headline(command, data, tmp_path, capsys):
    argv = (
        ["inpaint", "--quick", "--data-dir", str(data / "mnist"), "--batch-size", "8", "--results-root", str(tmp_path)]
        if command == "inpaint"
        else ablation(data, tmp_path)
    )
    code = faults.exit_code(lambda: main([*argv, "--lr", "1e9"]))
    out, err = capsys.readouterr()
    assert code == 3 and f"main.py {command}: diverged: " in faults.one_line(err) and "the loss" in err
    assert (
        load_json(tmp_path / f"{command}_quick" / "metrics.json")["status"] == "diverged"
        and f"{tmp_path / (command + '_quick')}: " not in out
    )


def _nan_tiff(data: Path, tmp_path: Path) -> tuple[list[str], str]:
    train = tmp_path / "train"
    fixtures.write_image_folder(train, 8, 48, 56, seed=0)
    bad = train / "img_004.tif"
    Image.fromarray(np.full((48, 56), np.nan, np.float32), mode="F").save(bad)
    return ablation(data, tmp_path / "runs")[:4] + [
        "--data-dir",
        str(train),
        "--test-dir",
        str(data / "test"),
        "--val-count",
        "2",
    ], f"{bad}: 2688 pixels are NaN or infinite"


def _empty_mnist(data: Path, tmp_path: Path) -> tuple[list[str], str]:
    fixtures.write_mnist_raw(tmp_path / "mnist", n_train=260, n_test=20)
    test = tmp_path / "mnist" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    test.write_bytes(struct.pack(">IIII", 2051, 0, 28, 28))
    (test.with_name("t10k-labels-idx1-ubyte")).write_bytes(struct.pack(">II", 2049, 0))
    return [
        "inpaint",
        "--quick",
        "--data-dir",
        str(tmp_path / "mnist"),
        "--results-root",
        str(tmp_path / "runs"),
    ], f"MNIST under {test.parent} could not be loaded"


@pytest.mark.parametrize("make", [_nan_tiff, _empty_mnist], ids=["image-folder-nan", "mnist-empty"])
def test_bad_data_values_are_one_line_naming_the_file(make, data, tmp_path, capsys):
    argv, message = make(data, tmp_path)
    code = faults.exit_code(lambda: main(argv))
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "runs").exists()


def test_a_second_run_of_a_busy_folder_is_refused(data, tmp_path, capsys):
    with faults.locked_by_another_process(tmp_path / "ablation_quick") as pid:
        faults.refused(
            lambda: main(ablation(data, tmp_path)), tmp_path, capsys, f"is in use by another run (process {pid})"
        )
