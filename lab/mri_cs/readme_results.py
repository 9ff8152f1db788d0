"""The result blocks of ``mri_cs/README.md`` (its ``[[[cog ...]]]`` blocks), from the runs in ``results/mri_cs/``:
the default run and its fp32 twin, the two sweeps (the tables ``sweep.py`` wrote), the benchmark, and
``evaluate.py``'s scores of published runs on other data."""

from __future__ import annotations

import json
from pathlib import Path

from lab.mri_cs.bench import DEFAULT_RUN, FP32_RUN, check_targets, csv_rows
from lab.results import RESULTS_ROOT, command, load_run, made_with, md_table, show  # noqa: F401  (show: README)

RESULTS = RESULTS_ROOT / "mri_cs"
SWEEPS = {"sweep": "template, test slabs", "sweep_brain_tumor": "held-out patients"}
PATIENTS = "eval_brain_tumor_images_test"  # evaluate.py RUN --data-dir BRAIN_TUMOR/images --split test


def _pm(stat: dict, digits: int = 2) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _score_rows(run: Path) -> list[list[str]]:
    """Rows ``[data (slices), PSNR, SSIM, zero-filled PSNR]`` of a run: train, test, and held-out patients if scored."""
    m, patients = load_run(run)[1], run / PATIENTS / "metrics.json"
    scores = [
        (f"{s} ({m['n_slices'][s]})", m[f"{s}_psnr"], m[f"{s}_ssim"], m[f"zero_filled_{s}_psnr"])
        for s in ("train", "test")
    ]
    if patients.is_file():
        e = json.loads(patients.read_text())
        scores.append((f"held-out patients ({e['n_slices']})", e["psnr"], e["ssim"], e["zero_filled_psnr"]))
    return [[label, _pm(psnr), _pm(ssim, 3), _pm(zero_filled)] for label, psnr, ssim, zero_filled in scores]


def top_table(results: Path = RESULTS) -> str:
    """The default run's test scores on the template and on the held-out patients."""
    rows = [[f"`{DEFAULT_RUN}`, {r[0]}", r[1], r[3]] for r in _score_rows(results / DEFAULT_RUN)[1:]]
    return md_table(rows, ["default run, test data (slices)", "PSNR per slice (dB)", "zero-filled PSNR (dB)"])


def headline(results: Path = RESULTS) -> str:
    """Per drop rate and sweep: density gain, learning gain, and the U-Net against TV at the same mask (dB)."""
    gains: dict[str, list[str]] = {}
    for name in SWEEPS:
        rows = {r["drop_rate"]: r for r in csv_rows(results / name / "yardsticks.csv")}
        tv = {
            r["drop_rate"]: r["network_over_tv_db"] for r in csv_rows(results / name / "cs.csv") if r["mask"] == "fixed"
        }
        for d, r in sorted(rows.items(), key=lambda item: float(item[0])):
            cells = (r["density_gain_db"], r["learning_gain_db"] if r["density_gain_db"] else "", tv.get(d))
            gains.setdefault(d, [d]).extend(f"{float(c):+.2f}" if c else "" for c in cells)
    headers = [f"{data}: {k}" for data in SWEEPS.values() for k in ("density", "learning", "U-Net - TV")]
    return md_table(list(gains.values()), ["drop rate", *headers])


def default_run(results: Path = RESULTS) -> str:
    config, m = load_run(results / DEFAULT_RUN)
    table = md_table(_score_rows(results / DEFAULT_RUN), ["data (slices)", "PSNR (dB)", "SSIM", "zero-filled PSNR"])
    return f"{made_with(results / DEFAULT_RUN, config, m['wall_time_s'])}\n\n{table}"


def precision(results: Path = RESULTS) -> str:
    """The default run (bf16 where ``--precision auto`` takes it) beside the same command in fp32."""
    rows = [
        [f"`{name}`", load_run(results / name)[0]["precision"], *(r[1] for r in _score_rows(results / name)[1:])]
        for name in (DEFAULT_RUN, FP32_RUN)
    ]
    return md_table(rows, ["run", "precision", "test PSNR (dB)", "held-out patients PSNR (dB)"])


def bench_throughput(results: Path = RESULTS) -> str:
    from lab.speed import throughput_markdown

    config, m = load_run(results / "bench")
    settings = ", ".join(f"{k} {v}" for k, v in m["settings"].items())
    return f"{command(config)} ({settings}). " + throughput_markdown(m["throughput"], "slice", "slices")


def sweep_table(name: str, *tables: str, results: Path = RESULTS) -> str:
    """The tables a sweep wrote (default ``results.md``), after the sweep's command."""
    config = json.loads((results / name / "config.json").read_text())
    text = "\n".join((results / name / t).read_text() for t in tables or ("results.md",))
    return f"{command(config)} ({SWEEPS.get(name, name)}):\n\n{text}"


def bench_targets(results: Path = RESULTS) -> str:
    targets = check_targets(results / "sweep", results / DEFAULT_RUN)
    lines = [f"    {t['text'].replace('[target', '[' + ('ok' if t['ok'] else 'MISSED'))}" for t in targets]
    return "`python bench.py --skip-throughput` on the published runs:\n\n" + "\n".join(lines)


def cross_data(*runs: str, results: Path = RESULTS) -> str:
    """Trained on -> tested on: every ``eval_*/metrics.json`` of the published runs matching ``runs`` (globs)."""
    rows = []
    for path in sorted(p for run in runs or ("*",) for p in results.glob(f"{run}/eval_*/metrics.json")):
        m = json.loads(path.read_text())
        rows.append(
            [
                f"`{path.parent.parent.relative_to(results).as_posix()}`",
                m["trained_on"]["dataset"],
                m["tested_on"]["dataset"],
            ]
            + [f"{m['tested_on']['split']} ({m['n_slices']})", _pm(m["psnr"]), _pm(m["zero_filled_psnr"])]
            + [f"{m['gain_db']:+.2f}", _pm(m["ssim"], 3)]
        )
    headers = ["run", "trained on", "tested on", "split (slices)", "PSNR (dB)", "zero-filled PSNR (dB)"]
    return md_table(rows, [*headers, "gain (dB)", "SSIM"])


REALISTIC = RESULTS / "realistic"
IDEAL_RUN = "unet_drop0.3_learned_ideal"  # main.py --drop-rate 0.3 --learn-mask --acquisition ideal
REALISTIC_DEFAULT = "unet_drop0.3_learned"  # main.py --drop-rate 0.3 --learn-mask (published under realistic/)


def realistic(results: Path = RESULTS) -> str:
    """The realistic benchmark's table (``lab.mri_cs.tables``), with the slices it was scored on."""
    records = sorted((results / "realistic").glob("network_*.json"))
    n = len(json.loads(records[0].read_text())["test_slices"]) if records else 0
    note = f"Per-slice means over {n} test slices of held-out patients; every method sees the same measurements."
    return f"{(results / 'realistic' / 'table.md').read_text().strip()}\n\n{note}"


def realistic_gains(results: Path = RESULTS) -> str:
    return (results / "realistic" / "gains.md").read_text().strip()


def ideal_reproduction(results: Path = RESULTS) -> str:
    """The published default run (the ideal acquisition, before the realistic one existed) and its reruns with
    ``--acquisition ideal`` (one and two CPU threads): test PSNR and the difference to the published run."""
    runs = (("published", DEFAULT_RUN), ("rerun, 1 thread", IDEAL_RUN), ("rerun, 2 threads", f"{IDEAL_RUN}_2threads"))
    base = load_run(results / DEFAULT_RUN)[1]["test_psnr"]["mean"]
    rows = []
    for label, run in runs:
        m = load_run(results / run)[1]
        diff = f"{m['test_psnr']['mean'] - base:+.2f}" if run != DEFAULT_RUN else ""
        rows.append([label, f"`{run}`", _pm(m["test_psnr"]), _pm(m["zero_filled_test_psnr"]), diff])
    return md_table(rows, ["run", "folder", "test PSNR (dB)", "zero-filled PSNR (dB)", "difference (dB)"])
