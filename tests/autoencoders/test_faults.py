"""autoencoders under faults and bad input: folder names outside the root, a full disk while a checkpoint is
written, SIGTERM, a diverged run, bad data values in every loader, a second run of a busy folder. Each ends in
one stderr line and its exit code and leaves existing run folders byte-identical."""

import importlib.util
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from autoencoders import main as ae_main
from common.runs import load_checkpoint, load_json

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[1] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)


@pytest.fixture(scope="module")
def data(tmp_path_factory, request):
    """CIFAR-10 folders and MNIST idx files, shared (read-only) by the tests that need good data."""
    conftest = request.getfixturevalue("formats")
    base = tmp_path_factory.mktemp("ae_faults")
    conftest.write_cifar_folders(base / "CIFAR10", per_class=2)
    conftest.write_mnist_raw(base)
    return base


@pytest.fixture(scope="module")
def formats():  # the conftest writers, at module scope for the shared data above
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("ae_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return SimpleNamespace(**{k: getattr(module, k) for k in dir(module) if k.startswith("write_")})


def cifar(data: Path, root: Path, *extra: str) -> list[str]:
    return [
        "cifar",
        "--data-dir",
        str(data),
        "--results-root",
        str(root),
        "--quick",
        "--workers",
        "0",
        "--batch-size",
        "16",
        *extra,
    ]


@pytest.mark.parametrize("task", list(ae_main.TASKS))
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(task, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    faults.refused(
        lambda: ae_main.main([task, "--quick", "--results-root", str(tmp_path / "runs"), "--name", name]),
        tmp_path,
        capsys,
        f"main.py {task}: error: argument --name",
    )


def test_a_full_disk_keeps_the_last_checkpoint(data, tmp_path, monkeypatch, capsys):
    hit = faults.disk_full_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: ae_main.main(cifar(data, tmp_path, "--epochs", "2"))) == 2
    line = faults.one_line(capsys.readouterr().err)
    assert line.startswith(f"main.py: error: cannot write {hit[0]}: No space left on device")
    assert load_checkpoint(tmp_path / "cifar_quick" / "checkpoint.pt")["step"] == 1 and faults.no_temporary_files(
        tmp_path
    )


def test_sigterm_keeps_the_last_checkpoint_and_says_how_to_resume(data, tmp_path, monkeypatch, capsys):
    faults.sigterm_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: ae_main.main(cifar(data, tmp_path, "--epochs", "2"))) == 143
    err = capsys.readouterr().err
    assert "main.py: terminated (SIGTERM); run the same command with --resume" in err and "Traceback" not in err
    assert load_checkpoint(tmp_path / "cifar_quick" / "checkpoint.pt")["step"] == 1


@pytest.mark.parametrize("task, where", [("cifar", "CifarCNN"), ("mnist", "LinearAutoEncoder (reconstruction)")])
def test_a_diverged_run_exits_3_with_its_status_and_no_headline(data, task, where, tmp_path, capsys):
    argv = cifar(data, tmp_path, "--lr", "1e9")
    code = faults.exit_code(lambda: ae_main.main([task, *argv[1:]]))
    out, err = capsys.readouterr()
    assert code == 3 and faults.one_line(err).startswith(f"main.py: diverged: {where}: the loss")
    metrics = load_json(tmp_path / f"{task}_quick" / "metrics.json")
    assert metrics["status"] == "diverged" and metrics["where"] == where and str(tmp_path / task) not in out


def _cifar_extra_class(formats, root: Path) -> tuple[list[str], str]:
    formats.write_cifar_folders(root, per_class=1)
    (root / "test" / "unicorn").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "test" / "unicorn" / "0000.png")
    return ["cifar", "--data-dir", str(root)], f"{root / 'test'}: class folder(s) unicorn are not classes"


def _mnist_label_12(formats, root: Path) -> tuple[list[str], str]:
    formats.write_mnist_raw(root)
    path = root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    raw[-1] = 12
    path.write_bytes(bytes(raw))
    return ["mnist", "--data-dir", str(root)], f"{path}: label 12 is outside the 10 classes"


def _tumour_mat_mask(formats, root: Path) -> tuple[list[str], str]:
    formats.write_tumour_set(root, n=12, size=32)
    with h5py.File(root / "3.mat", "r+") as f:
        f["cjdata"]["tumorMask"][0, 0] = 2
    return [
        "segment",
        "--data-dir",
        str(root),
        "--size",
        "32",
        "--guard",
        "0",
    ], f"{root / '3.mat'} (cjdata/tumorMask): the mask is not binary"


def _tumour_mat_nan(formats, root: Path) -> tuple[list[str], str]:
    formats.write_tumour_set(root, n=12, size=32)
    image = np.full((32, 32), np.nan, np.float32)
    formats.write_tumour_mat(root / "5.mat", image, np.zeros((32, 32), np.uint8))
    with h5py.File(root / "5.mat", "r+") as f:
        del f["cjdata"]["image"]
        f["cjdata"].create_dataset("image", data=image)
    return [
        "segment",
        "--data-dir",
        str(root),
        "--size",
        "32",
        "--guard",
        "0",
    ], f"{root / '5.mat'} (cjdata/image): 1024 pixels are NaN"


def _tumour_png_mask(formats, root: Path) -> tuple[list[str], str]:
    formats.write_tumour_pngs(root, [1] * 10 + [2] * 10 + [3] * 10)
    mask = root / "masks" / "4.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(mask)
    return ["segment", "--data-dir", str(root), "--size", "32", "--guard", "0"], f"{mask}: the mask is not binary"


@pytest.mark.parametrize(
    "make",
    [_cifar_extra_class, _mnist_label_12, _tumour_mat_mask, _tumour_mat_nan, _tumour_png_mask],
    ids=["cifar-folders", "mnist", "tumour-mat-mask", "tumour-mat-nan", "tumour-png-mask"],
)
def test_bad_data_values_are_one_line_naming_the_file(make, formats, tmp_path, capsys):
    argv, message = make(formats, tmp_path / "data")
    code = faults.exit_code(
        lambda: ae_main.main([*argv, "--quick", "--workers", "0", "--results-root", str(tmp_path / "runs")])
    )
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "runs").exists()


def test_a_second_run_of_a_busy_folder_is_refused(data, tmp_path, capsys):
    with faults.locked_by_another_process(tmp_path / "cifar_quick") as pid:
        faults.refused(
            lambda: ae_main.main(cifar(data, tmp_path)), tmp_path, capsys, f"is in use by another run (process {pid})"
        )
