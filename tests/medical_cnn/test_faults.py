"""medical_cnn under faults and bad input: folder names outside the root, a full disk while a checkpoint is
written, SIGTERM, diverged runs (a classifier, a study whose every variant diverges), bad data values in the
MedMNIST and DRIVE files, a second run of a busy folder. Each ends in one stderr line and its exit code and
leaves existing run folders byte-identical."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.runs import load_checkpoint, load_json
from medical_cnn import main as cli

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[1] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)
_spec = importlib.util.spec_from_file_location("mc_conftest", Path(__file__).with_name("conftest.py"))
writers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(writers)


def segment(drive: Path, root: Path, *extra: str) -> list[str]:
    return ["segment", "--data-dir", str(drive), "--results-root", str(root), "--quick", "--device", "cpu", *extra]


@pytest.mark.parametrize(
    "argv",
    [["conv"], ["classify"], ["segment"], ["classify", "--dataset", "../x"]],
    ids=["conv", "classify", "segment", "classify-dataset"],
)
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(argv, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    flag = [] if "--dataset" in argv else ["--name", name]
    faults.refused(
        lambda: cli.main([*argv, "--quick", "--results-root", str(tmp_path / "runs"), *flag]),
        tmp_path,
        capsys,
        f"main.py {argv[0]}: error: argument --{'dataset' if flag == [] else 'name'}",
    )


def test_a_full_disk_keeps_the_last_checkpoint(drive_dir, tmp_path, monkeypatch, capsys):
    hit = faults.disk_full_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: cli.main(segment(drive_dir, tmp_path))) == 2
    line = faults.one_line(capsys.readouterr().err)
    assert line.startswith(f"main.py segment: error: cannot write {hit[0]}: No space left on device")
    assert load_checkpoint(hit[0])["step"] == 2 and faults.no_temporary_files(tmp_path)


def test_sigterm_keeps_the_last_checkpoint_and_says_how_to_resume(drive_dir, tmp_path, monkeypatch, capsys):
    hit = faults.sigterm_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: cli.main(segment(drive_dir, tmp_path))) == 143
    err = capsys.readouterr().err
    assert "main.py segment: terminated (SIGTERM); if " in err and "--resume" in err and "Traceback" not in err
    assert load_checkpoint(hit[0])["step"] == 2


def test_a_diverged_classifier_exits_3_with_its_status_and_no_headline(medmnist_dir, tmp_path, capsys):
    argv = [
        "classify",
        "--data-dir",
        str(medmnist_dir),
        "--dataset",
        "pneumoniamnist",
        "--lr",
        "1e9",
        "--quick",
        "--results-root",
        str(tmp_path),
    ]
    code = faults.exit_code(lambda: cli.main(argv))
    out, err = capsys.readouterr()
    assert code == 3 and faults.one_line(err).startswith("main.py classify: diverged: mlp: the loss")
    metrics = load_json(tmp_path / "classify-pneumoniamnist_quick" / "metrics.json")
    assert metrics["status"] == "diverged" and metrics["where"] == "mlp" and "test accuracy" not in out


def test_a_study_whose_every_variant_diverges_exits_3(drive_dir, tmp_path, capsys):
    code = faults.exit_code(lambda: cli.main(segment(drive_dir, tmp_path, "--study", "skip", "--lr", "1e9")))
    out, err = capsys.readouterr()
    assert code == 3 and err.strip().splitlines()[-1].startswith(
        "main.py segment: diverged: every variant of the skip study"
    )
    assert "unet-skip: the loss" in out and "unet-noskip: the loss" in out  # the study went on with the next variant
    metrics = load_json(tmp_path / "segment-skip_quick" / "metrics.json")
    assert metrics["status"] == "diverged" and [v["status"] for v in metrics["variants"].values()] == ["diverged"] * 2


def _medmnist(tmp_path: Path, change) -> tuple[Path, str]:
    folder = tmp_path / "medmnist"
    folder.mkdir()
    path = writers.write_medmnist_npz(folder / "pneumoniamnist.npz")
    arrays = dict(np.load(path))
    message = change(arrays, path)
    np.savez_compressed(path, **arrays)
    return folder, message


def _label_5(arrays, path):
    arrays["test_labels"][3] = 5
    return f"{path} (test)_labels: label 5 is outside the 2 classes"


def _float_images(arrays, path):
    arrays["train_images"] = arrays["train_images"].astype(np.float32) / 255
    return f"{path} (train): images of dtype float32, expected uint8"


def _empty_val(arrays, path):
    arrays["val_images"], arrays["val_labels"] = arrays["val_images"][:0], arrays["val_labels"][:0]
    return f"{path} (val): no images (an empty split)"


def _labels_shape(arrays, path):
    arrays["train_labels"] = arrays["train_labels"][:-1]
    return f"{path} (train)_labels: labels of shape (59, 1), expected (60,)"


@pytest.mark.parametrize(
    "change",
    [_label_5, _float_images, _empty_val, _labels_shape],
    ids=["label-outside", "float-images", "empty-split", "labels-shape"],
)
def test_bad_medmnist_values_are_one_line_naming_the_file(change, tmp_path, capsys):
    folder, message = _medmnist(tmp_path, change)
    argv = [
        "classify",
        "--data-dir",
        str(folder),
        "--dataset",
        "pneumoniamnist",
        "--quick",
        "--results-root",
        str(tmp_path / "runs"),
    ]
    code = faults.exit_code(lambda: cli.main(argv))
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("what", ["manual-grey", "mask-size"])
def test_bad_drive_masks_are_one_line_naming_the_file(what, tmp_path, capsys):
    drive = writers.write_drive_tree(tmp_path / "DRIVE")
    if what == "manual-grey":
        bad = drive / "training" / "1st_manual" / "22_manual1.gif"
        Image.fromarray(np.full((52, 50), 100, np.uint8)).save(bad)
        message = f"{bad}: the mask is not binary"
    else:
        bad = drive / "test" / "mask" / "01_test_mask.gif"
        Image.fromarray(np.zeros((40, 50), np.uint8)).save(bad)
        message = f"{bad}: mask of shape (40, 50), the image is (52, 50)"
    code = faults.exit_code(lambda: cli.main(segment(drive, tmp_path / "runs")))
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "runs").exists()


def test_a_second_run_of_a_busy_folder_is_refused(drive_dir, tmp_path, capsys):
    with faults.locked_by_another_process(tmp_path / "segment-skip_quick") as pid:
        faults.refused(
            lambda: cli.main(segment(drive_dir, tmp_path)),
            tmp_path,
            capsys,
            f"is in use by another run (process {pid})",
        )
