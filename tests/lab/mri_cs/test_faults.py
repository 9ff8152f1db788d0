"""The mri_cs lab commands under faults: a name outside the results root is refused before anything is written, a
sweep records each diverged case and goes on."""

import importlib.util
from pathlib import Path

import pytest

from common.runs import load_json
from lab.mri_cs import bench, sweep

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[2] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)


@pytest.mark.parametrize("command", [sweep.main, bench.main], ids=["sweep", "bench"])
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(command, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "metrics.json").write_text("{}")
    line = faults.refused(
        lambda: command(["--quick", "--results-root", str(tmp_path / "runs"), "--name", name]),
        tmp_path,
        capsys,
        "error: argument --name",
    )
    assert "(see " in line


def test_a_sweep_records_each_diverged_case_and_goes_on(tmp_path, capsys):
    code = faults.exit_code(
        lambda: sweep.main(["--quick", "--drop-rates", "0.3", "--lr", "1e6", "--results-root", str(tmp_path)])
    )
    err = capsys.readouterr().err
    assert code == 3 and err.count("[sweep]") == 3 and "every case of the sweep diverged" in err.splitlines()[-1]
    table = (tmp_path / "sweep_quick" / "results.md").read_text()
    assert table.count("diverged at step") == 3
    for case in ("vanilla_drop0.3_fixed", "drop0.3_fixed", "drop0.3_learned"):
        assert load_json(tmp_path / "sweep_quick" / case / "metrics.json")["status"] == "diverged"
