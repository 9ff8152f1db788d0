"""bench.py: the quality targets read from fixture runs (met and missed), the file it writes, a quick throughput."""

import csv
import json

import pytest
import torch

from common.precision import fast_bf16
from lab import speed
from lab.mri_cs import bench
from lab.mri_cs.sweep import COLUMNS
from mri_cs.models.masks import course_family


def write_runs(root, wall_time_s, psnr, default_dip=0.4):
    """A default run's metrics.json (validation dip ``default_dip`` in its last third) and a sweep results.csv
    whose (test PSNR, zero-filled test PSNR, last-third dip) are ``psnr[(model, drop, mask[, family])]`` (the
    family defaults to the course's scenario's)."""
    default = root / "unet_drop0.3_learned"
    default.mkdir(parents=True)
    stat = {"mean": 40.0, "std": 1.0}
    (default / "metrics.json").write_text(
        json.dumps(
            {
                "test_psnr": stat,
                "zero_filled_test_psnr": stat,
                "wall_time_s": wall_time_s,
                "device": "cpu",
                "val_psnr_last_third_from_epoch": 18,
                "val_psnr_last_third_max_dip_db": default_dip,
            }
        )
    )
    (root / "sweep").mkdir()
    with open(root / "sweep" / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, restval=0)
        writer.writeheader()
        for (model, drop, mask, *family), (test, zero_filled, dip) in psnr.items():
            family = family[0] if family else course_family(mask == "learned")
            writer.writerow(
                {
                    "model": model,
                    "drop_rate": drop,
                    "mask": mask,
                    "family": family,
                    "test_psnr_mean": test,
                    "zero_filled_test_psnr_mean": zero_filled,
                    "keep_in_center": 0.5,
                    "val_last_third_dip_db": dip,
                }
            )


PASSING = {
    ("unet", 0.3, "fixed"): (32.0, 13.0, 0.0),
    ("vanilla", 0.3, "fixed"): (14.0, 13.0, 0.0),
    ("unet", 0.5, "fixed"): (29.0, 11.0, 0.1),
    ("unet", 0.5, "learned"): (35.0, 34.0, 0.2),
    ("unet", 0.6, "fixed"): (28.0, 11.0, 0.1),
    ("unet", 0.6, "learned"): (36.0, 33.5, 0.9),
    ("unet", 0.7, "fixed"): (26.0, 10.0, 2.0),
    ("unet", 0.7, "learned"): (30.0, 17.0, 0.0),
}
MET = {
    "default_wall_time": True,
    "default_stable": True,
    "fixed_over_zero_filled": True,
    "fixed_over_vanilla": True,
    "learned_zero_filled_monotone": True,
    "learned_sweep_stable": True,
    "learned_over_fixed_0.5": True,
    "learned_over_fixed_0.6": True,
    "learned_over_fixed_0.7": True,
}


def verdicts(root):
    return {t["name"]: t["ok"] for t in bench.check_targets(root / "sweep", root / "unet_drop0.3_learned")}


def test_targets_met(tmp_path):
    write_runs(tmp_path, 200.0, PASSING)
    assert verdicts(tmp_path) == MET  # the fixed mask's 2 dB dip at drop 0.7 is not a learned mask's


def test_course_targets_read_the_course_masks_beside_other_families(tmp_path):
    """A sweep with more fixed families: the course's targets still compare with the uniform fixed mask."""
    others = {
        ("unet", d, "fixed", f): (60.0, 50.0, 0.0)
        for d in (0.3, 0.5, 0.6, 0.7)
        for f in ("variable-density", "cartesian-random")
    }  # better than learned: would miss learned_over_fixed
    write_runs(tmp_path, 200.0, PASSING | others)
    assert verdicts(tmp_path) == MET


def test_targets_missed(tmp_path):
    failing = dict(PASSING)
    failing["unet", 0.3, "fixed"] = (24.0, 13.0, 0.0)  # +11 dB over zero-filled, +10 over vanilla
    failing["unet", 0.6, "learned"] = (27.5, 34.0, 1.2)  # below the fixed mask, unstable, zero-filled above drop 0.5's
    write_runs(tmp_path, 900.0, failing, default_dip=1.5)
    assert verdicts(tmp_path) == {
        **MET,
        "default_wall_time": False,
        "default_stable": False,
        "fixed_over_zero_filled": False,
        "learned_zero_filled_monotone": False,
        "learned_sweep_stable": False,
        "learned_over_fixed_0.6": False,
    }
    text = bench.format_targets(
        bench.check_targets(tmp_path / "sweep", tmp_path / "unet_drop0.3_learned"),
        tmp_path / "sweep",
        tmp_path / "unet_drop0.3_learned",
    )
    assert text.count("[MISSED") == 6 and text.count("[ok") == 3
    assert "at most 1.20 dB below its best so far (drop 0.6) [MISSED: <= 1 dB]" in text


def test_runs_without_the_stability_record_skip_those_targets(tmp_path):
    """Runs from before stable mask learning: no stability line, no error."""
    write_runs(tmp_path, 200.0, PASSING)
    metrics = json.loads((tmp_path / "unet_drop0.3_learned" / "metrics.json").read_text())
    del metrics["val_psnr_last_third_max_dip_db"]
    (tmp_path / "unet_drop0.3_learned" / "metrics.json").write_text(json.dumps(metrics))
    csv_path = tmp_path / "sweep" / "results.csv"
    csv_path.write_text(csv_path.read_text().replace(",val_last_third_dip_db,", ",other,"))
    assert set(MET) - set(verdicts(tmp_path)) == {"default_stable", "learned_sweep_stable"}


def test_bench_writes_its_verdicts_into_a_run_folder(tmp_path, capsys):
    write_runs(tmp_path, 900.0, PASSING)
    metrics = bench.main(["--skip-throughput", "--results-root", str(tmp_path)])
    saved = json.loads((tmp_path / "bench" / "metrics.json").read_text())
    assert saved["targets"] == metrics["targets"] and len(saved["targets"]) == 9
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"bench: 8 of 9 targets met -> {tmp_path / 'bench'}"
    with pytest.raises(SystemExit) as exc:  # the finished benchmark is kept
        bench.main(["--skip-throughput", "--results-root", str(tmp_path)])
    assert exc.value.code == 2 and "already holds a run" in capsys.readouterr().err


def test_quick_throughput(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "isolated", lambda fn, *args: fn(*args))  # a fresh process per case costs seconds
    metrics = bench.main(["--quick", "--device", "cpu", "--results-root", str(tmp_path)])
    rows = {(r["model"], r["precision"]): r for r in metrics["throughput"]}
    precisions = ["fp32", "bf16"] if fast_bf16(torch.device("cpu")) else ["fp32"]
    assert set(rows) == {(m, p) for m in ("vanilla", "unet") for p in precisions}
    assert all(r["samples_per_s"] > 0 and r["gflop_per_sample"] > 0 for r in rows.values())
    # the U-Net's convolutions cost the same FLOPs in either precision
    assert rows["unet", precisions[-1]]["gflop_per_sample"] == pytest.approx(rows["unet", "fp32"]["gflop_per_sample"])
    assert json.loads((tmp_path / "bench_quick" / "metrics.json").read_text())["throughput"] == metrics["throughput"]


def test_speed_target_compares_bf16_with_fp32_of_the_same_run():
    rows = [
        {"model": "unet", "device": "cpu", "precision": p, "samples_per_s": r}
        for p, r in (("fp32", 20.0), ("bf16", 29.0))
    ]
    rows.append({"model": "vanilla", "device": "cpu", "precision": "bf16", "samples_per_s": 900.0})
    (met,) = bench.speed_targets(rows)
    assert met["ok"] and "1.45x" in met["text"]
    rows[1]["samples_per_s"] = 27.0
    assert not bench.speed_targets(rows)[0]["ok"]
    assert bench.speed_targets(rows[:1]) == []  # no bf16 row (a CPU without fast bf16): no verdict


@pytest.mark.parametrize("fp32_psnr, ok", [(53.35, True), (53.55, False)])
def test_parity_target_reads_the_fp32_run_beside_the_default(tmp_path, fp32_psnr, ok):
    for name, psnr, precision in (("unet_drop0.3_learned", 53.42, "bf16"), (bench.FP32_RUN, fp32_psnr, "fp32")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(
            json.dumps({"test_psnr": {"mean": psnr}, "wall_time_s": 200.0, "precision": precision})
        )
    (target,) = bench.parity_target(tmp_path / "unet_drop0.3_learned")
    assert target["ok"] is ok and "in bf16" in target["text"]
    assert bench.parity_target(tmp_path / "elsewhere") == []


def write_run(root, name, layout, learn, scores, evals=(), **args):
    """A finished run folder: config.json (its data layout) and metrics.json, and ``eval_<k>/metrics.json`` for
    each ``(tested-on layout, split, gain)`` of ``evals``; ``scores`` is (test PSNR, zero-filled PSNR), ``args`` may
    set ``drop`` (0.3) and ``epochs`` (6)."""
    (test, zero_filled), drop, epochs = scores, args.get("drop", 0.3), args.get("epochs", 6)
    run = root / name
    run.mkdir(parents=True)
    data = {"dataset": f"{layout} data", "layout": layout}
    (run / "config.json").write_text(
        json.dumps({"args": {"model": "unet", "drop_rate": drop, "learn_mask": learn, "epochs": epochs}, "data": data})
    )
    (run / "metrics.json").write_text(
        json.dumps({"test_psnr": {"mean": test}, "zero_filled_test_psnr": {"mean": zero_filled}})
    )
    for k, (to, split, gain) in enumerate(evals):
        (run / f"eval_{k}").mkdir()
        (run / f"eval_{k}" / "metrics.json").write_text(
            json.dumps(
                {
                    "trained_on": data,
                    "tested_on": {"dataset": f"{to} data", "layout": to, "split": split},
                    "psnr": {"mean": 20.0 + gain},
                    "gain_db": gain,
                }
            )
        )


def test_cross_dataset_targets(tmp_path):
    mni, images = bench.MNI_LAYOUT, bench.IMAGES_LAYOUT
    write_run(tmp_path, "fixed_mni", mni, False, (36.0, 13.0), [(images, "test", 10.5), (images, "all", 2.0)])
    write_run(tmp_path, "fixed_patients", images, False, (33.0, 15.5), [(mni, "test", 11.0)])
    write_run(tmp_path, "learned_mni", mni, True, (45.0, 43.0), [(images, "test", -0.4), (images, "all", 1.0)])
    write_run(tmp_path, "learned_ok", images, True, (40.0, 30.0), [(mni, "test", 0.5)])
    write_run(tmp_path, "other_drop", images, False, (20.0, 19.0), drop=0.5)  # not a drop-0.3 run: no target
    found = {t["name"]: t for t in bench.cross_data_targets(tmp_path)}
    assert {k: t["ok"] for k, t in found.items()} == {
        "mni_to_patients_fixed_mni": True,  # +10.5 on the test split; the "all" split is not the target's
        "patients_own_fixed_patients": False,  # its own held-out patients: +17.5 < +18
        "patients_to_mni_fixed_patients": False,  # +11 < +12
        "learned_not_worse_learned_mni": False,
        "learned_not_worse_learned_ok": True,
    }
    assert (
        "worst gain over its own zero-filled input -0.40 dB, on image folder data (test)"
        in found["learned_not_worse_learned_mni"]["text"]
    )
    assert "(fixed_patients, 6 epochs), its held-out patients" in found["patients_own_fixed_patients"]["text"]
    assert "+17.50 dB over zero-filled [target: >= +18]" in found["patients_own_fixed_patients"]["text"]


def write_sweep(root, name, layout, own, cross=None):
    """A sweep folder: results.csv with ``own[(drop, mask[, family])] = (test PSNR, zero-filled)`` (the family
    defaults to the course's: uniform fixed, variable-density learned), one case config.json saying what it
    trained on, and cross_data.csv rows ``cross[(drop, mask)] = (PSNR, gain)`` on patients."""
    from lab.mri_cs.sweep import CROSS_COLUMNS

    sweep = root / name
    (sweep / "drop0.1_fixed").mkdir(parents=True)
    (sweep / "drop0.1_fixed" / "config.json").write_text(
        json.dumps({"data": {"dataset": f"{layout} data", "layout": layout}})
    )
    family = lambda key: key[2] if len(key) == 3 else course_family(key[1] == "learned")  # noqa: E731
    for stem, columns, rows in (
        (
            "results",
            COLUMNS,
            [
                {
                    "model": "unet",
                    "drop_rate": key[0],
                    "mask": key[1],
                    "family": family(key),
                    "test_psnr_mean": t,
                    "zero_filled_test_psnr_mean": z,
                    "run": "drop0.1_fixed",
                }
                for key, (t, z) in own.items()
            ],
        ),
        (
            "cross_data",
            CROSS_COLUMNS,
            [
                {
                    "model": "unet",
                    "drop_rate": d,
                    "mask": k,
                    "family": course_family(k == "learned"),
                    "psnr_mean": p,
                    "gain_db": g,
                    "tested_on": "patients",
                    "tested_on_layout": bench.IMAGES_LAYOUT,
                }
                for (d, k), (p, g) in (cross or {}).items()
            ],
        ),
    ):
        with open(sweep / f"{stem}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval=0)
            writer.writeheader()
            writer.writerows(rows)


def test_sweep_generalisation_targets(tmp_path):
    drops = bench.SWEEP_DROP_RATES
    own = {(d, k): (30.0 + (k == "learned"), 15.0) for d in drops for k in ("fixed", "learned")}
    density = {
        (d, "fixed", "variable-density"): (28.5 - (d == 0.5) * 2, 15.0) for d in drops
    }  # learned +2.5, +4.5 at 0.5
    write_sweep(tmp_path, "sweep_patients", bench.IMAGES_LAYOUT, own | density)  # learned +1 dB over uniform everywhere
    cross = {
        (d, k): (20.0 + (k == "learned") - (d == 0.4) * 2 * (k == "learned"), 1.0)
        for d in drops
        for k in ("fixed", "learned")
    }
    cross[0.7, "learned"] = (21.0, -0.3)  # below its own zero-filled input on the patients
    write_sweep(tmp_path, "sweep", bench.MNI_LAYOUT, own, cross)  # MNI-trained: its own test split is not patients
    partial = {k: v for k, v in own.items() if k[0] != 0.2}
    write_sweep(tmp_path, "sweep_partial", bench.IMAGES_LAYOUT, partial)  # drop 0.2 missing: not yet met
    found = {t["name"]: t for t in bench.sweep_generalisation_targets(tmp_path)}
    assert {k: t["ok"] for k, t in found.items()} == {
        "learned_over_fixed_patients_sweep_0": False,
        "learned_not_worse_sweep": False,
        "learned_over_fixed_patients_sweep_partial_0": False,
        "learned_not_worse_sweep_partial": True,
        "learned_over_fixed_patients_sweep_patients_0": True,
        "learned_not_worse_sweep_patients": True,
        "learned_over_density_patients_sweep_patients_0": False,
    }  # +2.5 dB over variable density is under +3
    assert (
        "learned - fixed variable-density PSNR by drop rate 0.1: +2.50"
        in found["learned_over_density_patients_sweep_patients_0"]["text"]
    )
    assert "0.5: +4.50" in found["learned_over_density_patients_sweep_patients_0"]["text"]
    assert "0.4: -1.00" in found["learned_over_fixed_patients_sweep_0"]["text"]
    assert "-0.30 dB (drop 0.7, on patients (test))" in found["learned_not_worse_sweep"]["text"]
    assert "0.2:" not in found["learned_over_fixed_patients_sweep_partial_0"]["text"]
    assert "(the sweep has 6 of 7 drop rates)" in found["learned_over_fixed_patients_sweep_partial_0"]["text"]


def write_cs(root, case, drop, scores, layout, split="test", learn_mask=False):
    """A sweep case's ``cs_tv_<name>`` folder as ``evaluate.py RUN --cs tv`` writes it; ``scores`` is (network, TV)
    PSNR (network None if no network)."""
    net, tv = scores
    folder = root / "sweep_patients" / case / "cs_tv_x"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(
        json.dumps(
            {
                "split": split,
                "drop_rate": drop,
                "learn_mask": learn_mask,
                "mask_family": "variable-density",
                "data": {"dataset": "patients", "layout": layout},
            }
        )
    )
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "network": None if net is None else {"psnr": {"mean": net}},
                "tv": {"psnr": {"mean": tv}},
                "lambda": 0.001,
                "n_slices": 16,
            }
        )
    )


def test_network_over_cs_targets(tmp_path):
    images = bench.IMAGES_LAYOUT
    write_cs(tmp_path, "drop0.3_fixed_variable-density", 0.3, (40.0, 34.5), images)  # +5.5: met
    write_cs(tmp_path, "drop0.7_learned", 0.7, (30.0, 26.0), images, learn_mask=True)  # +4: missed
    write_cs(tmp_path, "drop0.5_learned", 0.5, (30.0, 29.0), images)  # not a target drop rate
    write_cs(tmp_path, "drop0.3_fixed", 0.3, (None, 20.0), images)  # no network scored (a published copy's mask)
    write_cs(tmp_path, "drop0.3_fixed_cartesian-random", 0.3, (40.0, 39.0), bench.MNI_LAYOUT)  # not patients
    write_cs(tmp_path, "drop0.7_fixed_variable-density", 0.7, (40.0, 39.0), images, split="val")  # not the test split
    found = {t["name"]: t for t in bench.cs_targets(tmp_path)}
    assert {k: t["ok"] for k, t in found.items()} == {
        "network_over_cs_sweep_patients_drop0.3_fixed_variable-density": True,
        "network_over_cs_sweep_patients_drop0.7_learned": False,
    }
    assert (
        "U-Net 30.00 dB, TV 26.00 dB (lambda 0.001), +4.00 dB [target: >= +5]"
        in found["network_over_cs_sweep_patients_drop0.7_learned"]["text"]
    )
