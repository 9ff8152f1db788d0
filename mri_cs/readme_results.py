"""The result blocks of ``mri_cs/README.md``, rendered from the published runs in ``results/mri_cs/``.

    python -m common.readme --write mri_cs     # rewrite the blocks after publishing runs

Every number the README quotes comes from a file here: the default run
(``unet_drop0.3_learned/``), the sweeps (``sweep/`` on the template, ``sweep_brain_tumor/`` on the
patients, each with ``results.csv``, ``cross_data.csv`` and one folder per case), the benchmark
(``bench/metrics.json``) and the scores of published runs on other data
(``<run>/eval_<name>/metrics.json``, written by ``evaluate.py``). A run that is not published renders as
one line giving the command that makes it and the one that publishes it.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from mri_cs.bench import DEFAULT_RUN, FP32_RUN, PARITY_DB, check_targets, csv_rows
from mri_cs.sweep import table_markdown

DEFAULT_COMMAND = "python main.py --drop-rate 0.3 --learn-mask"
SWEEP_COMMAND = "python sweep.py --score-on BRAIN_TUMOR/images"
PATIENTS_SWEEP, PATIENTS_SWEEP_COMMAND = "sweep_brain_tumor", ("python sweep.py --data-dir BRAIN_TUMOR/images --epochs 6 "
                                                               "--score-on mni152 --name sweep_brain_tumor")


def not_published(command: str, run: str) -> str:
    return (f"*Not published yet:* run `cd mri_cs && {command}`, then (at the repository root) "
            f"`python -m common.publish mri_cs/runs/{run}`.")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _pm(stat: dict, digits: int = 2) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def default_run_block(run: Path) -> str:
    m, config = _json(run / "metrics.json"), _json(run / "config.json")
    if not m:
        return not_published(DEFAULT_COMMAND, DEFAULT_RUN)
    args, data = config.get("args", {}), config.get("data", {})
    res, n = args.get("resolution", 128), m["n_slices"]
    history = m["history"]
    val, zf = [h["val_psnr"] for h in history], [h["val_zero_filled_psnr"] for h in history]
    return "\n".join([
        f"`{DEFAULT_COMMAND}` (U-Net width {args.get('width')}, {m['model_parameters']:,} parameters, "
        f"{m['epochs']} epochs, batch {args.get('batch_size')}; {data.get('dataset', 'data as in config.json')}, "
        f"{res} x {res}; device {m['device']}, torch {config.get('torch', '?')}): "
        f"{m['wall_time_s'] / 60:.1f} min of training and evaluation in `metrics.json`.",
        "",
        "| split | PSNR (dB) | SSIM | zero-filled PSNR (dB), same mask |",
        "| --- | --- | --- | --- |",
        f"| train ({n['train']} slices) | {_pm(m['train_psnr'])} | {_pm(m['train_ssim'], 3)} | {_pm(m['zero_filled_train_psnr'])} |",
        f"| test ({n['test']} slices) | {_pm(m['test_psnr'])} | {_pm(m['test_ssim'], 3)} | {_pm(m['zero_filled_test_psnr'])} |",
        "",
        f"Best validation PSNR {m['best_val_psnr']:.2f} dB at epoch {m['best_epoch']} of {m['epochs']}; the mask keeps "
        f"{m['num_keep']:,} of {res * res:,} samples ({m['keep_fraction']:.3f}) and measures "
        f"{100 * m['keep_in_center']:.0f} % of the central disc (10 % of k-space). Over the epochs the validation PSNR "
        f"ranged from {min(val):.1f} to {max(val):.1f} dB and the zero-filled one from {min(zf):.1f} to {max(zf):.1f} dB.",
    ])


def data_sizes_block(run: Path) -> str:
    sizes = _json(run / "config.json").get("data", {}).get("sizes")
    if not sizes:
        return not_published(DEFAULT_COMMAND, DEFAULT_RUN)
    return (f"**{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test slices** "
            f"(from the default run's `config.json`).")


def sweep_rows(sweep: Path) -> list[dict]:
    rows = csv_rows(sweep / "results.csv")
    for r in rows:
        for k, v in r.items():
            if k not in ("model", "mask", "family", "run"):
                r[k] = float(v)
    return sorted(rows, key=lambda r: (r["model"], r["drop_rate"], r["mask"]))


def sweep_command(sweep: Path, rows: list[dict]) -> str:
    """The command that makes the sweep as a reader would type it: where this machine kept its runs and its data,
    ``--resume`` and the default name left out (``BRAIN_TUMOR/`` stands for the brain-tumour set's folder)."""
    command = _json(sweep / "config.json").get("command")
    if command:
        words, out = shlex.split(command), []
        while words:
            w = words.pop(0)
            if w in ("--results-root", "--name") and words:
                value = words.pop(0)
                if w == "--name" and value != "sweep":
                    out += [w, value]
            elif w != "--resume":
                out.append(re.sub(r"^.*/brain_tumor/", "BRAIN_TUMOR/", w))
        return " ".join(out)
    epochs = sorted({int(r["epochs"]) for r in rows})
    return "python sweep.py" + (f" --epochs {epochs[0]}" if epochs != [25] else "")


def sweep_block(sweep: Path, command: str = SWEEP_COMMAND) -> str:
    rows = sweep_rows(sweep)
    if not rows:
        return not_published(command, sweep.name)
    device = _json(sweep / rows[0]["run"] / "metrics.json").get("device", "?")
    lines = [f"`{sweep_command(sweep, rows)}`: {len(rows)} cases, {sum(r['wall_time_s'] for r in rows) / 60:.0f} min "
             f"of training and evaluation in all on {device}. Mean ± std over slices; \"kept in centre\" is the "
             f"measured fraction of the central disc covering 10 % of k-space.",
             "", table_markdown(rows).strip()]
    return "\n".join(lines)


def _span(values: list[float], unit: str = " dB", signed: bool = False) -> str:
    fmt = "{:+.1f}" if signed else "{:.1f}"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return f"{lo}{unit}" if lo == hi else f"{lo} to {hi}{unit}"


def sweep_summary_block(sweep: Path) -> str:
    """What the sweep's table shows, computed from it (ranges over the drop rates, where the gain is largest)."""
    rows = sweep_rows(sweep)
    unet = {(r["drop_rate"], r["mask"]): r for r in rows if r["model"] == "unet"}
    fixed = sorted(d for d, k in unet if k == "fixed")
    both = [d for d in fixed if (d, "learned") in unet]
    if not fixed:
        return not_published(SWEEP_COMMAND, "sweep")
    f = {d: unet[d, "fixed"] for d in fixed}
    lines = [f"* fixed random mask: zero-filled test PSNR {_span([r['zero_filled_test_psnr_mean'] for r in f.values()])}; "
             f"the U-Net adds {_span([r['test_psnr_mean'] - r['zero_filled_test_psnr_mean'] for r in f.values()], signed=True)} "
             f"to it (drop rates {fixed[0]:g} to {fixed[-1]:g})."]
    for v in (r for r in rows if r["model"] == "vanilla"):
        lines.append(f"* vanilla model (one 3x3 convolution), drop {v['drop_rate']:g}, fixed mask: "
                     f"{v['test_psnr_mean'] - v['zero_filled_test_psnr_mean']:+.1f} dB over its zero-filled input"
                     + (f", {f[v['drop_rate']]['test_psnr_mean'] - v['test_psnr_mean']:+.1f} dB below the U-Net."
                        if v["drop_rate"] in f else "."))
    if both:
        gain = {d: unet[d, "learned"]["test_psnr_mean"] - f[d]["test_psnr_mean"] for d in both}
        lift = [unet[d, "learned"]["zero_filled_test_psnr_mean"] - f[d]["zero_filled_test_psnr_mean"] for d in both]
        best, worst = max(gain, key=gain.get), min(gain, key=gain.get)
        lines += [f"* learned against fixed mask, U-Net test PSNR: {_span(list(gain.values()), signed=True)}; "
                  f"largest at drop rate {best:g} ({gain[best]:+.1f} dB), smallest at {worst:g} ({gain[worst]:+.1f} dB); "
                  f"learned above fixed at {sum(g > 0 for g in gain.values())} of {len(gain)} drop rates.",
                  f"* centre coverage: learned masks {_span([unet[d, 'learned']['keep_in_center'] for d in both], '')}, "
                  f"fixed masks {_span([f[d]['keep_in_center'] for d in both], '')}; learning the mask changes the "
                  f"zero-filled test PSNR by {_span(lift, signed=True)}."]
    return "\n".join(lines)


def bench_targets_block(results: Path) -> str:
    targets = check_targets(results / "sweep", results / DEFAULT_RUN)
    if not targets:
        return f"{not_published(DEFAULT_COMMAND, DEFAULT_RUN)}\n\n{not_published(SWEEP_COMMAND, 'sweep')}"
    lines = [f"    {t['text'].replace('[target', '[' + ('ok' if t['ok'] else 'MISSED'))}" for t in targets]
    return "`python bench.py --skip-throughput` on the published runs:\n\n" + "\n".join(lines)


def default_time_block(run: Path) -> str:
    """How long the default command took, from the published run."""
    m, config = _json(run / "metrics.json"), _json(run / "config.json")
    if not m:
        return not_published(DEFAULT_COMMAND, DEFAULT_RUN)
    return (f"The default command took {m['wall_time_s']:.0f} s ({m['wall_time_s'] / 60:.1f} min, training and "
            f"evaluation, {m['epochs']} epochs) on {m['device']} in {config.get('precision', 'fp32')}, measured on two CPU "
            "cores that nothing else used; on a busy machine it takes longer, and a GPU makes it much shorter.")


def default_notes_block(run: Path) -> str:
    """The default run's stability and its score on the held-out patients (its ``eval_*`` test folder)."""
    m = _json(run / "metrics.json")
    evals = [e for e in (_json(p) for p in sorted(run.glob("eval_*/metrics.json"))) if e["tested_on"]["split"] == "test"]
    if not m or not evals:
        return not_published(f"python evaluate.py runs/{DEFAULT_RUN} --data-dir BRAIN_TUMOR/images --split test", DEFAULT_RUN)
    e = evals[0]
    return (f"In the last third of the epochs its validation PSNR stays within {m['val_psnr_last_third_max_dip_db']:.2f} dB "
            f"of its best. On the held-out patients of {e['tested_on']['dataset']} (test split, {e['n_slices']} slices, "
            f"real scans it never saw) it scores {e['psnr']['mean']:.2f} dB, {e['gain_db']:+.2f} dB over its own zero-filled "
            f"input ({e['zero_filled_psnr']['mean']:.2f} dB; `{e['command']}`).")


def precision_block(results: Path) -> str:
    """The default run (bf16 where ``--precision auto`` takes it) beside the same command in fp32, on the
    template's test slices and, where both were evaluated there, on the held-out patients."""
    runs = [(name, _json(results / name / "metrics.json"), _json(results / name / "config.json"),
             _json(results / name / "eval_brain_tumor_images_test" / "metrics.json")) for name in (DEFAULT_RUN, FP32_RUN)]
    if not all(m for _, m, _, _ in runs):
        return not_published(f"{DEFAULT_COMMAND} --precision fp32 --name {FP32_RUN}", FP32_RUN)
    patients = all(e for *_, e in runs)
    lines = ["| run | precision | test PSNR (dB) | test SSIM | best epoch |" + (" held-out patients, PSNR (dB) |" if patients else ""),
             "| --- | --- | --- | --- | --- |" + (" --- |" if patients else "")]
    lines += [f"| {name} | {c.get('precision', 'fp32')} | {_pm(m['test_psnr'])} | {_pm(m['test_ssim'], 3)} | {m['best_epoch']} |"
              + (f" {_pm(e['psnr'])} ({e['gain_db']:+.2f} over zero-filled) |" if patients else "") for name, m, c, e in runs]
    gap = runs[0][1]["test_psnr"]["mean"] - runs[1][1]["test_psnr"]["mean"]
    text = f"Test PSNR difference {gap:+.3f} dB on the template's test slices (target: within {PARITY_DB:g} dB)"
    if patients:
        text += f"; {runs[0][3]['psnr']['mean'] - runs[1][3]['psnr']['mean']:+.2f} dB on the held-out patients"
    return "\n".join(lines + ["", text + "."])


def bench_throughput_block(bench: Path) -> str:
    from common.speed import throughput_markdown

    m = _json(bench / "metrics.json")
    if not any(r.get("samples_per_s") is not None for r in m.get("throughput", [])):
        return not_published("python bench.py", "bench")
    s = m["settings"]
    return (f"`python bench.py` ({s['resolution']} x {s['resolution']}, batch {s['batch_size']}, U-Net width {s['width']}, "
            f"{s['steps']} timed training steps per case and round). " + throughput_markdown(m["throughput"], "slice", "slices"))


def cross_data_block(results: Path) -> str:
    """The "trained on -> tested on" table: every ``eval_*/metrics.json`` (written by evaluate.py) of a published
    run (a sweep's cases are in :func:`sweep_cross_block`)."""
    rows = sorted(results.glob("*/eval_*/metrics.json"))
    if not rows:
        return ("*Not published yet:* no published run holds an `eval_*` folder; run `cd mri_cs && python evaluate.py "
                f"runs/{DEFAULT_RUN} --data-dir YOUR_DATA`, then (at the repository root) "
                f"`python -m common.publish mri_cs/runs/{DEFAULT_RUN}`.")
    lines = ["| run | trained on | tested on | split (slices) | PSNR (dB) | zero-filled PSNR (dB), same mask | gain (dB) | SSIM |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path in rows:
        m = _json(path)
        run = path.parent.parent.relative_to(results).as_posix()
        lines.append(f"| `{run}` | {m['trained_on']['dataset']} | {m['tested_on']['dataset']} | "
                     f"{m['tested_on']['split']} ({m['n_slices']}) | {_pm(m['psnr'])} | {_pm(m['zero_filled_psnr'])} | "
                     f"{m['gain_db']:+.2f} | {_pm(m['ssim'], 3)} |")
    return "\n".join(lines)


def _cross_cell(r: dict | None) -> str:
    """One case of a cross table: ``PSNR (zero-filled PSNR, gain)``, ``-`` for a case not run."""
    return f"{float(r['psnr_mean']):.2f} ({float(r['zero_filled_psnr_mean']):.2f}, {float(r['gain_db']):+.2f})" if r else "-"


def sweep_cross_block(results: Path) -> str:
    """Every published sweep's ``cross_data.csv``: per tested-on dataset, fixed against learned mask by drop rate."""
    parts = []
    for path in sorted(results.glob("*/cross_data.csv")):
        rows = [r for r in csv_rows(path) if r["model"] == "unet"]
        for tested in sorted({r["tested_on"] for r in rows}):
            cell = {(float(r["drop_rate"]), r["mask"]): r for r in rows if r["tested_on"] == tested}
            some = next(iter(cell.values()))
            lines = [f"`{path.parent.name}` (trained on {some['trained_on']}) tested on {tested} "
                     f"(test split, {some['n_slices']} slices): PSNR in dB (zero-filled input of the same mask, gain)", "",
                     "| drop rate | fixed mask | learned mask | learned - fixed |", "| --- | --- | --- | --- |"]
            for d in sorted({d for d, _ in cell}):
                fixed, learned = cell.get((d, "fixed")), cell.get((d, "learned"))
                diff = f"{float(learned['psnr_mean']) - float(fixed['psnr_mean']):+.2f}" if fixed and learned else "-"
                lines.append(f"| {d:g} | {_cross_cell(fixed)} | {_cross_cell(learned)} | {diff} |")
            parts.append("\n".join(lines))
    if not parts:
        return not_published(SWEEP_COMMAND, "sweep")
    return "\n\n".join(parts)


def render_blocks(results: Path) -> dict[str, str]:
    """``{block name: Markdown}`` for every ``<!-- results:begin NAME -->`` block of the README."""
    results = Path(results)
    return {
        "data_sizes": data_sizes_block(results / DEFAULT_RUN),
        "default_run": default_run_block(results / DEFAULT_RUN),
        "default_time": default_time_block(results / DEFAULT_RUN),
        "default_notes": default_notes_block(results / DEFAULT_RUN),
        "bench_throughput": bench_throughput_block(results / "bench"),
        "precision": precision_block(results),
        "sweep": sweep_block(results / "sweep"),
        "sweep_summary": sweep_summary_block(results / "sweep"),
        "sweep_patients": sweep_block(results / PATIENTS_SWEEP, PATIENTS_SWEEP_COMMAND),
        "sweep_cross": sweep_cross_block(results),
        "bench_targets": bench_targets_block(results),
        "cross_data": cross_data_block(results),
    }
