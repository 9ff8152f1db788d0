"""bench.py: the quality targets read from fixture runs (met and missed), the file it writes, a quick throughput."""
import csv
import json
import queue

import pytest

from mri_cs import bench
from mri_cs.sweep import COLUMNS


def write_runs(root, wall_time_s, psnr):
    """A default run's metrics.json and a sweep results.csv whose test PSNRs are ``psnr[(model, drop, mask)]``."""
    default = root / "unet_drop0.3_learned"
    default.mkdir(parents=True)
    stat = {"mean": 40.0, "std": 1.0}
    (default / "metrics.json").write_text(json.dumps({"test_psnr": stat, "zero_filled_test_psnr": stat,
                                                      "wall_time_s": wall_time_s, "device": "cpu"}))
    (root / "sweep").mkdir()
    with open(root / "sweep" / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval=0)
        writer.writeheader()
        for (model, drop, mask), (test, zero_filled) in psnr.items():
            writer.writerow({"model": model, "drop_rate": drop, "mask": mask, "test_psnr_mean": test,
                             "zero_filled_test_psnr_mean": zero_filled, "keep_in_center": 0.5})


PASSING = {("unet", 0.3, "fixed"): (32.0, 13.0), ("vanilla", 0.3, "fixed"): (14.0, 13.0),
           ("unet", 0.5, "fixed"): (29.0, 11.0), ("unet", 0.5, "learned"): (35.0, 34.0),
           ("unet", 0.6, "fixed"): (28.0, 11.0), ("unet", 0.6, "learned"): (36.0, 34.0),
           ("unet", 0.7, "fixed"): (26.0, 10.0), ("unet", 0.7, "learned"): (30.0, 17.0)}


def verdicts(root):
    return {t["name"]: t["ok"] for t in bench.check_targets(root / "sweep", root / "unet_drop0.3_learned")}


def test_targets_met(tmp_path):
    write_runs(tmp_path, 250.0, PASSING)
    assert verdicts(tmp_path) == {"default_wall_time": True, "fixed_over_zero_filled": True, "fixed_over_vanilla": True,
                                  "learned_over_fixed_0.5": True, "learned_over_fixed_0.6": True, "learned_over_fixed_0.7": True}


def test_targets_missed(tmp_path):
    failing = dict(PASSING)
    failing["unet", 0.3, "fixed"] = (24.0, 13.0)  # +11 dB over zero-filled, +10 over vanilla
    failing["unet", 0.6, "learned"] = (27.5, 34.0)  # below the fixed mask
    write_runs(tmp_path, 900.0, failing)
    assert verdicts(tmp_path) == {"default_wall_time": False, "fixed_over_zero_filled": False, "fixed_over_vanilla": True,
                                  "learned_over_fixed_0.5": True, "learned_over_fixed_0.6": False, "learned_over_fixed_0.7": True}
    text = bench.format_targets(bench.check_targets(tmp_path / "sweep", tmp_path / "unet_drop0.3_learned"),
                                tmp_path / "sweep", tmp_path / "unet_drop0.3_learned")
    assert text.count("[MISSED") == 3 and text.count("[ok") == 3


def test_bench_writes_its_verdicts_into_a_run_folder(tmp_path, capsys):
    write_runs(tmp_path, 900.0, PASSING)
    metrics = bench.main(["--skip-throughput", "--results-root", str(tmp_path)])
    saved = json.loads((tmp_path / "bench" / "metrics.json").read_text())
    assert saved["targets"] == metrics["targets"] and len(saved["targets"]) == 6
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"bench: 5 of 6 targets met -> {tmp_path / 'bench'}"
    with pytest.raises(SystemExit) as exc:  # the finished benchmark is kept
        bench.main(["--skip-throughput", "--results-root", str(tmp_path)])
    assert exc.value.code == 2 and "already holds a run" in capsys.readouterr().err


class InProcess:
    """Stands in for the spawn context: runs each measurement here (a fresh process per case costs seconds of torch import)."""

    class Process:
        def __init__(self, target, args):
            self.target, self.args, self.exitcode = target, args, None

        def start(self):
            self.target(*self.args)
            self.exitcode = 0

        def join(self):
            pass

    @staticmethod
    def Queue():
        return queue.Queue()


def test_quick_throughput(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.mp, "get_context", lambda method: InProcess)
    metrics = bench.main(["--quick", "--device", "cpu", "--results-root", str(tmp_path)])
    rows = {r["model"]: r for r in metrics["throughput"]}
    assert set(rows) == {"vanilla", "unet"} and all(r["slices_per_s"] > 0 for r in rows.values())
    assert json.loads((tmp_path / "bench_quick" / "metrics.json").read_text())["throughput"] == metrics["throughput"]
