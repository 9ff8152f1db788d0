"""The result blocks of ``mri_cs/README.md``, rendered from the published runs in ``results/mri_cs/``.

The default run (``unet_drop0.3_learned/``) and its fp32 twin, the sweeps (``sweep/`` on the template,
``sweep_brain_tumor/`` on the patients: the table ``sweep.py`` wrote, ``results.csv`` and
``cross_data.csv``), the benchmark (``bench/``) and the scores of published runs on other data
(``<run>/eval_<name>/metrics.json``, written by ``evaluate.py``). Each block names the command that
made its run (``argv`` in its ``config.json``). The README calls these functions from ``[[[cog ...]]]``
blocks; ``cog -r mri_cs/README.md`` rewrites them (see CONTRIBUTING.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from common.results import RESULTS_ROOT, command, load_run, md_table, show  # noqa: F401  (show: for the README)
from mri_cs.bench import DEFAULT_RUN, FP32_RUN, PARITY_DB, check_targets, csv_rows
from mri_cs.models.masks import course_family

RESULTS = RESULTS_ROOT / "mri_cs"
PATIENTS_SWEEP = "sweep_brain_tumor"


def _pm(stat: dict, digits: int = 2) -> str:
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _span(values: list[float], unit: str = " dB", signed: bool = False) -> str:
    lo, hi = (("{:+.1f}" if signed else "{:.1f}").format(v) for v in (min(values), max(values)))
    return f"{lo}{unit}" if lo == hi else f"{lo} to {hi}{unit}"


def default_run(results: Path = RESULTS) -> str:
    config, m = load_run(results / DEFAULT_RUN)
    args, n, res = config["args"], m["n_slices"], config["args"]["resolution"]
    val, zf = [h["val_psnr"] for h in m["history"]], [h["val_zero_filled_psnr"] for h in m["history"]]
    rows = [
        [
            f"{split} ({n[split]} slices)",
            _pm(m[f"{split}_psnr"]),
            _pm(m[f"{split}_ssim"], 3),
            _pm(m[f"zero_filled_{split}_psnr"]),
        ]
        for split in ("train", "test")
    ]
    return "\n".join(
        [
            f"{command(config)} (U-Net width {args['width']}, {m['model_parameters']:,} parameters, "
            f"{m['epochs']} epochs, batch "
            f"{args['batch_size']}; {config['data']['dataset']}, {res} x {res}; device {m['device']}, torch "
            f"{config['torch']}): "
            f"{m['wall_time_s'] / 60:.1f} min of training and evaluation in `metrics.json`.",
            "",
            md_table(
                rows,
                ["split", "PSNR (dB)", "SSIM", "zero-filled PSNR (dB), same mask"],
                ("left", "right", "right", "right"),
            ),
            "",
            f"Best validation PSNR {m['best_val_psnr']:.2f} dB at epoch {m['best_epoch']} of {m['epochs']}; "
            f"the mask keeps "
            f"{m['num_keep']:,} of {res * res:,} samples ({m['keep_fraction']:.3f}) and measures "
            f"{100 * m['keep_in_center']:.0f} % of the "
            f"central disc (10 % of k-space). Over the epochs the validation PSNR ranged from "
            f"{min(val):.1f} to {max(val):.1f} dB and "
            f"the zero-filled one from {min(zf):.1f} to {max(zf):.1f} dB.",
        ]
    )


def data_sizes(results: Path = RESULTS) -> str:
    sizes = load_run(results / DEFAULT_RUN)[0]["data"]["sizes"]
    slices = f"{sizes['train']} train, {sizes['val']} validation, {sizes['test']} test slices"
    return f"**{slices}** (from the default run's `config.json`)."


def default_time(results: Path = RESULTS) -> str:
    config, m = load_run(results / DEFAULT_RUN)
    return (
        f"The default command took {m['wall_time_s']:.0f} s ({m['wall_time_s'] / 60:.1f} min, "
        f"training and evaluation, "
        f"{m['epochs']} epochs) on {m['device']} in {config['precision']}, measured on two CPU "
        f"cores that nothing else used; "
        "on a busy machine it takes longer, and a GPU makes it much shorter."
    )


def _evaluation(run: Path) -> dict:
    """The run's score on the held-out patients (``evaluate.py RUN --data-dir BRAIN_TUMOR/images --split test``)."""
    return json.loads((run / "eval_brain_tumor_images_test" / "metrics.json").read_text())


def default_notes(results: Path = RESULTS) -> str:
    """The default run's stability and its score on the held-out patients."""
    m, e = load_run(results / DEFAULT_RUN)[1], _evaluation(results / DEFAULT_RUN)
    return (
        f"In the last third of the epochs its validation PSNR stays within "
        f"{m['val_psnr_last_third_max_dip_db']:.2f} dB "
        f"of its best. On the held-out patients of {e['tested_on']['dataset']} (test split, "
        f"{e['n_slices']} slices, "
        f"real scans it never saw) it scores {e['psnr']['mean']:.2f} dB, {e['gain_db']:+.2f} dB "
        f"over its own zero-filled "
        f"input ({e['zero_filled_psnr']['mean']:.2f} dB; `{e['command']}`)."
    )


def precision(results: Path = RESULTS) -> str:
    """The default run (bf16 where ``--precision auto`` takes it) beside the same command in fp32, on the
    template's test slices and on the held-out patients."""
    runs = [(name, *load_run(results / name), _evaluation(results / name)) for name in (DEFAULT_RUN, FP32_RUN)]
    rows = [
        [
            name,
            c["precision"],
            _pm(m["test_psnr"]),
            _pm(m["test_ssim"], 3),
            str(m["best_epoch"]),
            f"{_pm(e['psnr'])} ({e['gain_db']:+.2f} over zero-filled)",
        ]
        for name, c, m, e in runs
    ]
    (_, _, m0, e0), (_, _, m1, e1) = runs
    return (
        md_table(
            rows,
            ["run", "precision", "test PSNR (dB)", "test SSIM", "best epoch", "held-out patients, PSNR (dB)"],
            ("left", "left", "right", "right", "right", "right"),
        )
        + f"\n\nTest PSNR difference {m0['test_psnr']['mean'] - m1['test_psnr']['mean']:+.3f} dB on "
        f"the template's test slices "
        f"(target: within {PARITY_DB:g} dB); {e0['psnr']['mean'] - e1['psnr']['mean']:+.2f} dB on "
        f"the held-out patients."
    )


def bench_throughput(results: Path = RESULTS) -> str:
    from common.speed import throughput_markdown

    config, m = load_run(results / "bench")
    s = m["settings"]
    return (
        f"{command(config)} ({s['resolution']} x {s['resolution']}, batch {s['batch_size']}, U-Net "
        f"width {s['width']}, "
        f"{s['steps']} timed training steps per case and round). "
        + throughput_markdown(m["throughput"], "slice", "slices")
    )


def sweep_rows(sweep: Path) -> list[dict]:
    rows = csv_rows(sweep / "results.csv")
    for r in rows:
        for k, v in r.items():
            if k not in ("model", "mask", "family", "run"):
                r[k] = float(v)
    return sorted(rows, key=lambda r: (r["model"], r["drop_rate"], r["mask"]))


def sweep(results: Path = RESULTS, name: str = "sweep") -> str:
    """The sweep's command and the table ``sweep.py`` wrote (``results.md``)."""
    rows, config = sweep_rows(results / name), json.loads((results / name / "config.json").read_text())
    device = load_run(results / name / rows[0]["run"])[1]["device"]
    return (
        f"{command(config)}: {len(rows)} cases, {sum(r['wall_time_s'] for r in rows) / 60:.0f} min "
        f"of training and evaluation "
        f'in all on {device}. Mean ± std over slices; "kept in centre" is the measured fraction '
        f"of the central disc covering "
        f"10 % of k-space.\n\n" + (results / name / "results.md").read_text()
    )


def sweep_patients(results: Path = RESULTS) -> str:
    return sweep(results, PATIENTS_SWEEP)


def sweep_summary(results: Path = RESULTS) -> str:
    """What the sweep's table shows, computed from it (ranges over the drop rates, where the gain is largest)."""
    rows = sweep_rows(results / "sweep")
    unet = {(r["drop_rate"], r["mask"]): r for r in rows if r["model"] == "unet" and _course(r)}
    f = {d: unet[d, k] for d, k in sorted(unet) if k == "fixed"}
    both = [d for d in f if (d, "learned") in unet]
    lines = [
        f"* fixed random mask: zero-filled test PSNR "
        f"{_span([r['zero_filled_test_psnr_mean'] for r in f.values()])}; the U-Net adds "
        f"{_span([r['test_psnr_mean'] - r['zero_filled_test_psnr_mean'] for r in f.values()], signed=True)} to it "
        f"(drop rates {min(f):g} to {max(f):g})."
    ]
    lines += [
        f"* vanilla model (one 3x3 convolution), drop {v['drop_rate']:g}, fixed mask: "
        f"{v['test_psnr_mean'] - v['zero_filled_test_psnr_mean']:+.1f} "
        f"dB over its zero-filled input, "
        f"{f[v['drop_rate']]['test_psnr_mean'] - v['test_psnr_mean']:+.1f} dB below the U-Net."
        for v in rows
        if v["model"] == "vanilla"
    ]
    gain = {d: unet[d, "learned"]["test_psnr_mean"] - f[d]["test_psnr_mean"] for d in both}
    lift = [unet[d, "learned"]["zero_filled_test_psnr_mean"] - f[d]["zero_filled_test_psnr_mean"] for d in both]
    best, worst = max(gain, key=gain.get), min(gain, key=gain.get)
    return "\n".join(
        lines
        + [
            f"* learned against fixed mask, U-Net test PSNR: {_span(list(gain.values()), signed=True)}; "
            f"largest at drop rate {best:g} "
            f"({gain[best]:+.1f} dB), smallest at {worst:g} ({gain[worst]:+.1f} dB); learned above fixed at "
            f"{sum(g > 0 for g in gain.values())} of {len(gain)} drop rates.",
            f"* centre coverage: learned masks "
            f"{_span([unet[d, 'learned']['keep_in_center'] for d in both], '')}, fixed masks "
            f"{_span([f[d]['keep_in_center'] for d in both], '')}; learning the mask changes the "
            f"zero-filled test PSNR by {_span(lift, signed=True)}.",
        ]
    )


def _course(row: dict) -> bool:
    """A case of the course's two scenarios: the uniform fixed mask or the learned one (other families aside)."""
    return row["family"] == course_family(row["mask"] == "learned")


def headline(results: Path = RESULTS) -> str:
    """What the learned mask's gain over the course's uniform mask is made of, per sweep: density (the
    variable-density mask, fixed, over uniform) and learning (the learned mask over the best fixed family)."""
    lines = ["Where the learned mask's gain over the uniform random mask comes from (U-Net test PSNR per slice):"]
    for name, data in (("sweep", "the template's test slabs"), (PATIENTS_SWEEP, "held-out patients")):
        rows = {r["drop_rate"]: r for r in csv_rows(results / name / "yardsticks.csv") if r["density_gain_db"]}
        if rows:
            best = sorted({r["best_fixed"] for r in rows.values()})
            lines.append(
                f"* {data} (`{name}`, drop rates {', '.join(rows)}): density (variable-density over uniform, "
                f"nothing learned) {_span([float(r['density_gain_db']) for r in rows.values()], signed=True)}; "
                f"learning (learned over the best fixed mask, {', '.join(best)}) "
                f"{_span([float(r['learning_gain_db']) for r in rows.values()], signed=True)}."
            )
        cs = [r for r in csv_rows(results / name / "cs.csv") if r["network_psnr"] not in ("", "nan")]
        if cs:
            lines.append(
                f"* {data}, the classical baseline (TV, same mask, same {cs[0]['n_slices']} test slices): U-Net - TV "
                + ", ".join(
                    f"{float(r['network_over_tv_db']):+.2f} dB at drop {r['drop_rate']} ({r['family']})" for r in cs
                )
                + "."
            )
    return "\n".join(lines)


def yardsticks(results: Path = RESULTS, name: str = "sweep") -> str:
    """The sweep's yardsticks table (``yardsticks.md``) and, where TV was run on its cases, ``cs.md``."""
    text = (results / name / "yardsticks.md").read_text()
    if (results / name / "cs.md").is_file():
        text += (
            "\nThe classical baseline, total variation on the same masks (`evaluate.py CASE --cs tv`):\n\n"
            + (results / name / "cs.md").read_text()
        )
    return text


def yardsticks_patients(results: Path = RESULTS) -> str:
    return yardsticks(results, PATIENTS_SWEEP)


def bench_targets(results: Path = RESULTS) -> str:
    lines = [
        f"    {t['text'].replace('[target', '[' + ('ok' if t['ok'] else 'MISSED'))}"
        for t in check_targets(results / "sweep", results / DEFAULT_RUN)
    ]
    return "`python bench.py --skip-throughput` on the published runs:\n\n" + "\n".join(lines)


def cross_data(results: Path = RESULTS) -> str:
    """The "trained on -> tested on" table: every ``eval_*/metrics.json`` of a published run (a sweep's cases are in
    :func:`sweep_cross`)."""
    rows = []
    for path in sorted(results.glob("*/eval_*/metrics.json")):
        m = json.loads(path.read_text())
        rows.append(
            [
                f"`{path.parent.parent.name}`",
                m["trained_on"]["dataset"],
                m["tested_on"]["dataset"],
                f"{m['tested_on']['split']} ({m['n_slices']})",
                _pm(m["psnr"]),
                _pm(m["zero_filled_psnr"]),
                f"{m['gain_db']:+.2f}",
                _pm(m["ssim"], 3),
            ]
        )
    return md_table(
        rows,
        [
            "run",
            "trained on",
            "tested on",
            "split (slices)",
            "PSNR (dB)",
            "zero-filled PSNR (dB), same mask",
            "gain (dB)",
            "SSIM",
        ],
        ("left", "left", "left", "left", "right", "right", "right", "right"),
    )


def _cross_cell(r: dict | None) -> str:
    """One case of a cross table: ``PSNR (zero-filled PSNR, gain)``, ``-`` for a case not run."""
    return (
        f"{float(r['psnr_mean']):.2f} ({float(r['zero_filled_psnr_mean']):.2f}, {float(r['gain_db']):+.2f})"
        if r
        else "-"
    )


def sweep_cross(results: Path = RESULTS) -> str:
    """Every published sweep's ``cross_data.csv``: per tested-on dataset, fixed against learned mask by drop rate."""
    parts = []
    for path in sorted(results.glob("*/cross_data.csv")):
        rows = [r for r in csv_rows(path) if r["model"] == "unet" and _course(r)]
        for tested in sorted({r["tested_on"] for r in rows}):
            cell = {(float(r["drop_rate"]), r["mask"]): r for r in rows if r["tested_on"] == tested}
            some = next(iter(cell.values()))
            table = []
            for d in sorted({d for d, _ in cell}):
                fixed, learned = cell.get((d, "fixed")), cell.get((d, "learned"))
                diff = f"{float(learned['psnr_mean']) - float(fixed['psnr_mean']):+.2f}" if fixed and learned else "-"
                table.append([f"{d:g}", _cross_cell(fixed), _cross_cell(learned), diff])
            parts.append(
                f"`{path.parent.name}` (trained on {some['trained_on']}) tested on {tested} "
                f"(test split, {some['n_slices']} "
                "slices): PSNR in dB (zero-filled input of the same mask, gain)\n\n"
                + md_table(
                    table,
                    ["drop rate", "fixed mask", "learned mask", "learned - fixed"],
                    ("left", "right", "right", "right"),
                )
            )
    return "\n\n".join(parts)


def top_table(results: Path = RESULTS) -> str:
    """The table at the top of the README: the default run, its score on the held-out patients, and both sweeps'
    U-Nets at the default drop rate with the uniform, the variable-density and the learned mask."""
    m, e = load_run(results / DEFAULT_RUN)[1], _evaluation(results / DEFAULT_RUN)
    rows = [
        [
            f"default run `{DEFAULT_RUN}` (template, test)",
            f"{_pm(m['test_psnr'])}",
            f"{_pm(m['zero_filled_test_psnr'])}",
        ],
        [f"`{DEFAULT_RUN}` on the held-out patients", _pm(e["psnr"]), _pm(e["zero_filled_psnr"])],
    ]
    rows += [
        [
            f"{sweep}, drop 0.3, {r['model']}, "
            + ("learned mask" if r["mask"] == "learned" else f"fixed {r['family']} mask"),
            f"{r['test_psnr_mean']:.2f} ± {r['test_psnr_std']:.2f}",
            f"{r['zero_filled_test_psnr_mean']:.2f} ± {r['zero_filled_test_psnr_std']:.2f}",
        ]
        for sweep in ("sweep", PATIENTS_SWEEP)
        for r in sweep_rows(results / sweep)
        if r["drop_rate"] == 0.3 and r["model"] == "unet" and r["family"] != "cartesian-random"
    ]
    headers = ["run (test split)", "PSNR per slice (dB)", "zero-filled PSNR per slice (dB), same mask"]
    return md_table(rows, headers, ("left", "right", "right"))
