"""The realistic benchmark's commands: bad input is one line and exit 2 with nothing written; the tables are read
from the JSON records (the gains are differences of the recorded numbers); BART's file format round-trips."""

import json
import shutil

import numpy as np
import pytest

from lab.mri_cs import bart, realistic, tables


def refused(argv, tmp_path, capsys, message):
    with pytest.raises(SystemExit) as exc:
        realistic.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["classical", "--lambdas", "0", "0.0"], "no positive value"),
        (["classical", "--sigma", "-0.01"], "--sigma"),
        (["classical", "--sigma", "nan"], "--sigma"),
        (["classical", "--sigma", "0"], "--sigma"),
        (["simulate"], "argument command"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, message, tmp_path, capsys):
    refused(argv, tmp_path, capsys, message)


def test_bart_missing_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    refused(["bart", "--drop-rate", "0.3"], tmp_path, capsys, "bart is not installed")


def test_cfl_files_round_trip_in_bart_column_major_order(tmp_path):
    array = np.arange(12).reshape(3, 4) * (1 + 2j)
    bart.write_cfl(tmp_path / "x", array)
    assert (tmp_path / "x.hdr").read_text().splitlines()[1].split()[:3] == ["3", "4", "1"]
    raw = np.fromfile(tmp_path / "x.cfl", dtype=np.complex64)
    assert raw[1] == array[1, 0]  # the first axis runs fastest
    np.testing.assert_array_equal(bart.read_cfl(tmp_path / "x"), array.astype(np.complex64))


def quality(psnr: float) -> dict:
    return {"psnr": psnr, "psnr_std": 1.0, "ssim": psnr / 100, "per_slice_psnr": [psnr]}


def test_tables_set_every_method_beside_the_others_and_the_gains_are_their_differences(tmp_path):
    def put(name, record):
        (tmp_path / f"{name}.json").write_text(json.dumps(record))

    for drop, base in ((0.3, 38.0), (0.7, 33.0)):
        label = f"vd0.7_drop{drop:g}"
        cells = {"zero_filled": quality(base - 4), "tv": quality(base), "wavelet": quality(base - 1)}
        put(f"classical_{label}", {"mask": label, "drop_rate": drop, **cells})
        for model, learned, gain in (("cascade", False, 2.5), ("cascade", True, 3.75), ("unet", False, -0.5)):
            run = f"{model}_drop{drop:g}_{'learned' if learned else 'fixed'}"
            record = {"run": run, "model": model, "drop_rate": drop, "learn_mask": learned}
            put(f"network_{run}", {**record, "config": {"mask": "variable-density"}, "network": quality(base + gain)})
    put("classical_full", {"mask": "full", "drop_rate": 0.0, "zero_filled": quality(37.6), "tv": quality(40.5)})
    tables.write_tables(tmp_path)
    md = (tmp_path / "table.md").read_text()
    assert "| cascade, tuned variable-density mask" in md and "40.50" in md and "35.50" in md
    gains = (tmp_path / "gains.md").read_text().splitlines()
    assert [[c.strip() for c in line.split("|")[2:5]] for line in gains[2:]] == [["+2.50", "+2.50", "+1.25"]] * 2
