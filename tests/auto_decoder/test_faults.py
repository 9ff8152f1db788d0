"""auto_decoder under faults and bad input: folder names outside the root, a full disk while a checkpoint is
written, SIGTERM, diverged runs (every model, and the test-latent fit), bad Fashion-MNIST values in both
formats, a second run of a busy folder. Each ends in one stderr line and its exit code and leaves existing
run folders byte-identical."""

import importlib.util
from pathlib import Path

import pytest

from auto_decoder.main import main
from common.runs import load_checkpoint, load_json

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[1] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)
_spec = importlib.util.spec_from_file_location("ad_conftest", Path(__file__).with_name("conftest.py"))
writers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(writers)


def quick(command: str, data: Path, root: Path, *extra: str) -> list[str]:
    return [command, "--quick", "--data-dir", str(data), "--results-root", str(root), "--batch-size", "16", *extra]


@pytest.mark.parametrize("command", ["classifier", "ad", "vad", "vae"])
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(command, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    faults.refused(
        lambda: main([command, "--quick", "--results-root", str(tmp_path / "runs"), "--name", name]),
        tmp_path,
        capsys,
        f"main.py {command}: error: argument --name",
    )


def test_a_full_disk_keeps_the_last_checkpoint(csv_dir, tmp_path, monkeypatch, capsys):
    hit = faults.disk_full_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: main(quick("ad", csv_dir, tmp_path))) == 2
    line = faults.one_line(capsys.readouterr().err)
    assert line.startswith(f"main.py ad: error: cannot write {hit[0]}: No space left on device")
    assert load_checkpoint(hit[0])["step"] == 1 and faults.no_temporary_files(tmp_path)


def test_sigterm_keeps_the_last_checkpoint_and_says_how_to_resume(csv_dir, tmp_path, monkeypatch, capsys):
    hit = faults.sigterm_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: main(quick("ad", csv_dir, tmp_path))) == 143
    err = capsys.readouterr().err
    assert (
        "main.py ad: terminated (SIGTERM); continue with the same command plus --resume" in err
        and "Traceback" not in err
    )
    assert load_checkpoint(hit[0])["step"] == 1


@pytest.mark.parametrize(
    "argv, folder, where",
    [
        (["classifier", "--lr", "1e9"], "classifier_quick", "classifier"),
        (["ad", "--lr", "1e9"], "ad-n256_quick", "ad"),
        (["vad", "--lr", "1e9"], "vad-gaussian-n256_quick", "vad-gaussian"),
        (["vae", "--lr", "1e9"], "vae-n256_quick", "vae"),
        (["ad", "--test-lr", "1e9"], "ad-n256_quick", "test latents"),
    ],
    ids=["classifier", "ad", "vad", "vae", "ad-test-fit"],
)
def test_a_diverged_run_exits_3_with_its_status_and_no_headline(argv, folder, where, csv_dir, tmp_path, capsys):
    code = faults.exit_code(lambda: main(quick(argv[0], csv_dir, tmp_path, *argv[1:])))
    out, err = capsys.readouterr()
    line = err.strip().splitlines()[-1]  # after the test fit's progress bar
    assert code == 3 and f"main.py {argv[0]}: diverged: {where}: the loss" in line and "Traceback" not in err
    metrics = load_json(tmp_path / folder / "metrics.json")
    assert metrics["status"] == "diverged" and metrics["where"] == where and str(tmp_path / folder) + ":" not in out


def _csv(tmp_path: Path, change) -> tuple[Path, str]:
    folder = tmp_path / "csv"
    folder.mkdir()
    images, labels = writers.fake_split(20, 0)
    message = change(images, labels, folder / "fashion-mnist_train.csv")
    writers.write_csv(folder / "fashion-mnist_train.csv", images, labels)
    writers.write_csv(folder / "fashion-mnist_test.csv", *writers.fake_split(10, 1))
    if message and "empty split" in message:  # the header line alone
        path = folder / "fashion-mnist_train.csv"
        path.write_text(path.read_text().splitlines()[0] + "\n")
    return folder, message


def _label_11(images, labels, path):
    labels[4] = 11
    return f"{path}: label 11 is outside the 10 classes"


def _no_rows(images, labels, path):
    return f"{path}: no image rows (an empty split)"


def _raw_label_10(tmp_path: Path) -> tuple[Path, str]:
    raw = tmp_path / "tv" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = writers.fake_split(20, 0)
    labels[0] = 10
    writers.write_idx(raw, "train", images, labels)
    writers.write_idx(raw, "t10k", *writers.fake_split(10, 1))
    return tmp_path / "tv", f"{raw / 'train-labels-idx1-ubyte'}: label 10 is outside the 10 classes"


@pytest.mark.parametrize(
    "make",
    [lambda t: _csv(t, _label_11), lambda t: _csv(t, _no_rows), _raw_label_10],
    ids=["csv-label", "csv-empty", "idx-label"],
)
def test_bad_fashion_mnist_values_are_one_line_naming_the_file(make, tmp_path, capsys):
    data, message = make(tmp_path)
    code = faults.exit_code(lambda: main(quick("ad", data, tmp_path / "runs")))
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and message in line and not (tmp_path / "runs").exists()


def test_a_csv_pixel_above_255_is_one_line(tmp_path, capsys):
    folder, _ = _csv(tmp_path, lambda images, labels, path: None)
    path = folder / "fashion-mnist_train.csv"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",300"
    path.write_text("\n".join(lines) + "\n")
    code = faults.exit_code(lambda: main(quick("ad", folder, tmp_path / "runs")))
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and f"{path}: pixel values span 0..300, expected 0..255" in line


def test_a_second_run_of_a_busy_folder_is_refused(csv_dir, tmp_path, capsys):
    with faults.locked_by_another_process(tmp_path / "ad-n256_quick") as pid:
        faults.refused(
            lambda: main(quick("ad", csv_dir, tmp_path)), tmp_path, capsys, f"is in use by another run (process {pid})"
        )
