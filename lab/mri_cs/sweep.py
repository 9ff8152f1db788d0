"""The 14 cases of the assignment in one command: drop rates 0.1 ... 0.7, fixed and learned mask.

    python -m lab.mri_cs.sweep                       # all cases with main.py's defaults, into runs/sweep
    python -m lab.mri_cs.sweep --epochs 8            # any option not listed below is passed on to main.py
    python -m lab.mri_cs.sweep --resume              # continue an interrupted sweep: finished cases are kept
    python -m lab.mri_cs.sweep --drop-rates 0.3 --quick
    python -m lab.mri_cs.sweep --score-on ~/data/brain_tumor   # also score every case on another dataset's test split
    python -m lab.mri_cs.sweep --fixed-masks uniform variable-density cartesian-random  # a fixed case per family

Each case is one main.py run folder inside the sweep's folder ``<results-root>/<name>`` (``runs/sweep``):
per drop rate one fixed-mask case per ``--fixed-masks`` family (``drop<rate>_fixed`` for the course's
uniform mask, ``drop<rate>_fixed_<family>`` for the others) and the learned case, plus a vanilla-model
baseline at ``--baseline-drop``; ``--resume`` skips finished cases and resumes an interrupted one. Writes
``config.json``, ``results.csv``, ``results.md`` (the table) and ``sweep.png`` (per drop rate the test
target, the fixed- and learned-mask reconstructions and both masks). ``--score-on DATA ...`` also scores
every finished case, without training, on the test split of each ``DATA`` (evaluate.py's scoring; a
``--data-dir`` folder, or ``mni152``) into ``<case>/eval_<name>/`` and writes the "trained on -> tested on"
table ``cross_data.csv`` / ``.md`` (``--resume --score-on`` adds it to a finished sweep). Publish the whole
folder with ``python -m lab.publish runs/sweep``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from common.cli import OneLineParser, add_common_args, fill_common_defaults, fraction, run_command, run_name
from mri_cs import main as mri_main
from mri_cs.models.masks import FAMILIES

# Run order, not table order: the cases the benchmark targets need (0.3, then 0.5 to 0.7) come first,
# so a sweep cut short still answers them. The table is sorted.
DROP_RATES = [0.3, 0.5, 0.7, 0.6, 0.1, 0.2, 0.4]
COLUMNS = [
    "model",
    "drop_rate",
    "mask",
    "family",
    "train_psnr_mean",
    "train_psnr_std",
    "test_psnr_mean",
    "test_psnr_std",
    "test_ssim_mean",
    "test_ssim_std",
    "zero_filled_test_psnr_mean",
    "zero_filled_test_psnr_std",
    "test_psnr_volume_mean",
    "zero_filled_test_psnr_volume_mean",
    "n_test_volumes",
    "keep_fraction",
    "keep_in_center",
    "epochs",
    "best_epoch",
    "val_last_third_dip_db",
    "wall_time_s",
    "run",
]
SET_PER_CASE = (
    "--drop-rate",
    "--learn-mask",
    "--model",
    "--name",
    "--run-name",
    "--results-root",
    "--resume",
    "--overwrite",
    "--seed",
    "--device",
    "--quick",
    "--mask",
)  # --mask: --fixed-masks
FIXED_ON_RESUME = ("passthrough", "seed", "quick", "baseline_drop")  # --score-on, --fixed-masks may grow on --resume
MNI152 = "mni152"  # --score-on's name for the offline default data
CROSS_COLUMNS = [
    "model",
    "drop_rate",
    "mask",
    "family",
    "trained_on",
    "tested_on",
    "tested_on_layout",
    "n_slices",
    "psnr_mean",
    "psnr_std",
    "zero_filled_psnr_mean",
    "zero_filled_psnr_std",
    "gain_db",
    "ssim_mean",
    "keep_in_center",
    "run",
]
PROG = "python -m lab.mri_cs.sweep"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=PROG,
        description=__doc__.split("\n\n")[0],
        allow_abbrev=False,  # --drop-rate is main.py's
        epilog="Other options (--epochs, --lr, --data-dir, ...) are passed on to main.py for every case.",
    )
    p.add_argument(
        "--drop-rates",
        type=fraction,
        nargs="+",
        default=DROP_RATES,
        help=f"drop rates to run, in this order; each gets a fixed- and a learned-mask case "
        f"(default: {' '.join(f'{d:g}' for d in DROP_RATES)})",
    )
    p.add_argument(
        "--fixed-masks",
        nargs="+",
        choices=FAMILIES,
        default=["uniform"],
        metavar="FAMILY",
        help=f"mask families of the fixed-mask cases, one case each per drop rate ({', '.join(FAMILIES)}; "
        f"main.py's --mask) (default: uniform, the course's fixed mask)",
    )
    p.add_argument(
        "--baseline-drop", type=fraction, default=0.3, help="drop rate of the vanilla baseline run (default: 0.3)"
    )
    p.add_argument(
        "--score-on",
        nargs="+",
        default=[],
        metavar="DATA",
        help=f"also score every case on the test split of each DATA (a --data-dir folder, or {MNI152} for "
        f"the offline template), as evaluate.py does; adds cross_data.csv/.md (default: none)",
    )
    add_common_args(p)
    return p


def case_name(model: str, drop: float, kind: str, family: str = "uniform") -> str:
    """``drop0.3_fixed``, ``drop0.3_fixed_variable-density``, ``drop0.3_learned``, ``vanilla_drop0.3_fixed``."""
    suffix = f"_{family}" if kind == "fixed" and family != "uniform" else ""
    return f"{'vanilla_' if model == 'vanilla' else ''}drop{drop:g}_{kind}{suffix}"


def case_list(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """``(name, kind, main.py arguments)`` of every case, the vanilla baseline first."""
    cases = [("vanilla", args.baseline_drop, "fixed", "uniform")]
    for d in args.drop_rates:
        cases += [("unet", d, "fixed", f) for f in args.fixed_masks] + [("unet", d, "learned", "variable-density")]
    out = []
    for model, drop, kind, family in cases:
        argv = ["--drop-rate", str(drop), "--model", model] + (
            ["--learn-mask"] if kind == "learned" else ["--mask", family]
        )
        out.append((case_name(model, drop, kind, family), kind, argv))
    return out


def case_args(
    root: Path, name: str, argv: list[str], args: argparse.Namespace, passthrough: list[str]
) -> argparse.Namespace:
    """main.py's arguments for one case, resuming it when it has a checkpoint."""
    run_dir = root / name
    state = ["--resume"] if (run_dir / "checkpoint.pt").is_file() else ["--overwrite"] if run_dir.is_dir() else []
    common = ["--results-root", str(root), "--seed", str(args.seed), "--device", args.device] + (
        ["--quick"] if args.quick else []
    )
    case = mri_main.parse_args(argv + passthrough + common + state)
    case.name = name  # inside the sweep's folder, also for --quick
    return case


def row(m: dict, case: argparse.Namespace, kind: str) -> dict:
    return {
        "model": case.model,
        "drop_rate": case.drop_rate,
        "mask": kind,
        "family": case.mask,
        **{
            f"{k}_{s}": m[k][s]
            for k in ("train_psnr", "test_psnr", "test_ssim", "zero_filled_test_psnr")
            for s in ("mean", "std")
        },
        "keep_fraction": m["keep_fraction"],
        "keep_in_center": m["keep_in_center"],
        "epochs": m["epochs"],
        "best_epoch": m["best_epoch"],
        "wall_time_s": m["wall_time_s"],
        "run": case.name,
        # fastMRI's per-volume PSNR: runs made before it was measured lack it
        "test_psnr_volume_mean": m.get("test_psnr_volume", {}).get("mean", float("nan")),
        "zero_filled_test_psnr_volume_mean": m.get("zero_filled_test_psnr_volume", {}).get("mean", float("nan")),
        "n_test_volumes": m.get("n_test_volumes", float("nan")),
        # finished cases of a sweep started before stable mask learning lack it
        "val_last_third_dip_db": m.get("val_psnr_last_third_max_dip_db", float("nan")),
    }


def diverged_row(record: dict, case: argparse.Namespace, kind: str) -> dict:
    """The table row of a case that stopped on its loss (``status: diverged`` in its metrics.json): no numbers."""
    nan = float("nan")
    return {
        **{c: nan for c in COLUMNS},
        "model": case.model,
        "drop_rate": case.drop_rate,
        "mask": kind,
        "family": case.mask,
        "epochs": case.epochs,
        "run": case.name,
        "status": "diverged",
        "diverged_at_step": record.get("diverged_at_step"),
    }


def other_cases(root: Path, listed: set[str]) -> list[tuple[str, argparse.Namespace]]:
    """``(kind, arguments)`` of the finished, not diverged cases in the sweep's folder that are not in ``listed``."""
    from common.runs import load_json

    out = []
    for done in sorted(root.glob("*/metrics.json")):
        if done.parent.name in listed or load_json(done).get("status") == "diverged":
            continue
        case = argparse.Namespace(**load_json(done.parent / "config.json")["args"])
        out.append(("learned" if case.learn_mask else "fixed", case))
    return out


def eval_args(root: Path, case: argparse.Namespace, data: str) -> argparse.Namespace:
    """evaluate.py's arguments scoring ``case`` on ``data``'s test split; it writes ``<case>/eval_<name>``."""
    from mri_cs import evaluate

    data_dir = None if data == MNI152 else data
    return evaluate.parse_args(
        [str(root / case.name), "--device", case.device] + (["--data-dir", data_dir] if data_dir else [])
    )


def scored_on(root: Path, case: argparse.Namespace, data: str) -> bool:
    return (root / case.name / f"eval_{eval_args(root, case, data).name}" / "metrics.json").is_file()


def score_case(case: argparse.Namespace, root: Path, data: str, loaded: dict | None) -> dict:
    """evaluate.py's scoring of one finished case on ``data``'s test split (kept if already there), one row of the
    cross table. ``loaded`` caches each dataset's split: every case of a sweep shares seed and resolution."""
    from common.runs import load_json
    from mri_cs import scoring

    ev = eval_args(root, case, data)
    done = root / case.name / f"eval_{ev.name}" / "metrics.json"
    if done.is_file():
        m = load_json(done)
    else:
        if data not in loaded:
            loaded[data] = scoring.split_data(ev.data_dir, case, "test")
        m = scoring.score_run(ev, loaded[data])
    return {
        "model": case.model,
        "drop_rate": case.drop_rate,
        "mask": "learned" if case.learn_mask else "fixed",
        "family": case.mask,
        "trained_on": m["trained_on"]["dataset"],
        "tested_on": m["tested_on"]["dataset"],
        "tested_on_layout": m["tested_on"]["layout"],
        "n_slices": m["n_slices"],
        **{f"{k}_{s}": m[k][s] for k in ("psnr", "zero_filled_psnr") for s in ("mean", "std")},
        "gain_db": m["gain_db"],
        "ssim_mean": m["ssim"]["mean"],
        "keep_in_center": m["keep_in_center"],
        "run": case.name,
    }


def _pm(r: dict, key: str) -> str:
    return f"{r[key + '_mean']:.2f} ± {r[key + '_std']:.2f}"


def _markdown(header: list[str], cells: list[list[str]]) -> str:
    from lab.results import md_table

    return md_table(cells, header) + "\n"


def cross_markdown(rows: list[dict]) -> str:
    """The sweep's "trained on -> tested on" table (``cross_data.md``), one line per case and tested-on dataset."""
    return _markdown(
        [
            "model",
            "drop rate",
            "mask",
            "family",
            "tested on (test split)",
            "PSNR (dB)",
            "zero-filled PSNR (dB)",
            "gain (dB)",
            "SSIM",
        ],
        [
            [
                r["model"],
                f"{r['drop_rate']:g}",
                r["mask"],
                r["family"],
                f"{r['tested_on']} ({r['n_slices']})",
                _pm(r, "psnr"),
                _pm(r, "zero_filled_psnr"),
                f"{r['gain_db']:+.2f}",
                f"{r['ssim_mean']:.3f}",
            ]
            for r in rows
        ],
    )


def table_markdown(rows: list[dict]) -> str:
    """The sweep's table (``results.md``, also quoted in the README) from rows sorted by model, drop rate, mask:
    PSNR per slice (mean ± std over slices), and fastMRI's per volume where the case measured it."""

    def volume(r: dict) -> str:
        if r["test_psnr_volume_mean"] != r["test_psnr_volume_mean"]:  # nan: the case did not measure it
            return ""
        return f"{r['test_psnr_volume_mean']:.2f} ({r['n_test_volumes']:g})"

    return _markdown(
        [
            "model",
            "drop rate",
            "mask",
            "family",
            "train PSNR per slice (dB)",
            "test PSNR per slice (dB)",
            "zero-filled test PSNR per slice (dB)",
            "test PSNR per volume (volumes)",
            "test SSIM",
            "kept in centre",
        ],
        [
            [
                r["model"],
                f"{r['drop_rate']:g}",
                r["mask"],
                r["family"],
                _pm(r, "train_psnr"),
                _pm(r, "test_psnr"),
                _pm(r, "zero_filled_test_psnr"),
                volume(r),
                f"{r['test_ssim_mean']:.3f}",
                f"{r['keep_in_center']:.2f}",
            ]
            if r.get("status") != "diverged"
            else [
                r["model"],
                f"{r['drop_rate']:g}",
                r["mask"],
                r["family"],
                f"diverged at step {r['diverged_at_step']}",
                "",
                "",
                "",
                "",
                "",
            ]
            for r in rows
        ],
    )


def write_table(
    rows: list[dict],
    root: Path,
    stem: str = "results",
    columns: list[str] = COLUMNS,
    markdown=table_markdown,
    sort: bool = True,
) -> None:
    """``<stem>.csv`` and ``<stem>.md`` from rows, sorted by model, (tested-on dataset,) drop rate, mask."""
    from common.runs import save_text

    if sort:
        rows = sorted(rows, key=lambda r: (r["model"], r.get("tested_on", ""), r["drop_rate"], r["mask"], r["family"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")  # not: status
    writer.writeheader()
    writer.writerows(rows)
    save_text(root / f"{stem}.csv", buffer.getvalue())
    save_text(root / f"{stem}.md", markdown(rows))


def yardstick_rows(rows: list[dict]) -> list[dict]:
    """One row per drop rate: the U-Net's mean per-slice test PSNR (and zero-filled) with every mask of the
    sweep, and what each part adds: density (variable-density over uniform) and learning (learned over the
    best fixed family)."""
    unet = [r for r in rows if r["model"] == "unet" and r.get("status") != "diverged"]
    out = []
    for drop in sorted({r["drop_rate"] for r in unet}):
        case = {("learned" if r["mask"] == "learned" else r["family"]): r for r in unet if r["drop_rate"] == drop}
        psnr = {k: r["test_psnr_mean"] for k, r in case.items()}
        row = {
            "drop_rate": drop,
            **{f"{k}_psnr": p for k, p in psnr.items()},
            **{f"{k}_zero_filled_psnr": r["zero_filled_test_psnr_mean"] for k, r in case.items()},
        }
        if {"uniform", "variable-density"} <= set(psnr):
            row["density_gain_db"] = psnr["variable-density"] - psnr["uniform"]
        if fixed := {k: p for k, p in psnr.items() if k != "learned"}:
            row["best_fixed"] = max(fixed, key=fixed.get)
            if "learned" in psnr:
                row["learning_gain_db"] = psnr["learned"] - fixed[row["best_fixed"]]
        out.append(row)
    return out


def yardstick_markdown(rows: list[dict]) -> str:
    """The yardsticks table (``yardsticks.md``): U-Net (zero-filled) per mask, then the two gains."""
    masks = [m for m in (*FAMILIES, "learned") if any(f"{m}_psnr" in r for r in rows)]
    cell = lambda r, m: f"{r[m + '_psnr']:.2f} ({r[m + '_zero_filled_psnr']:.2f})" if m + "_psnr" in r else ""  # noqa: E731
    gain = lambda r, k: f"{r[k]:+.2f}" if k in r else ""  # noqa: E731
    return "Mean per-slice test PSNR (dB) of the U-Net, zero-filled in brackets.\n\n" + _markdown(
        ["drop rate", *masks, "density: variable-density - uniform", "learning: learned - best fixed"],
        [
            [
                f"{r['drop_rate']:g}",
                *(cell(r, m) for m in masks),
                gain(r, "density_gain_db"),
                gain(r, "learning_gain_db") + (f" (over {r['best_fixed']})" if "learning_gain_db" in r else ""),
            ]
            for r in rows
        ],
    )


def cs_rows(rows: list[dict], root: Path) -> list[dict]:
    """The classical baseline of every case that has one (``evaluate.py CASE --cs tv`` writes ``cs_tv_*``):
    TV, zero-filled and (where the case's network was scored) the U-Net on the same recorded test slices."""
    from common.runs import load_json

    out = []
    for r in rows:
        for path in sorted((root / r["run"]).glob("cs_tv_*/metrics.json")):
            m, c = load_json(path), load_json(path.parent / "config.json")
            net = m["network"]["psnr"]["mean"] if m["network"] else float("nan")
            out.append(
                {
                    "drop_rate": r["drop_rate"],
                    "mask": r["mask"],
                    "family": r["family"],
                    "run": r["run"],
                    "tested_on": c["data"]["dataset"],
                    "split": c["split"],
                    "n_slices": m["n_slices"],
                    "lambda": m["lambda"],
                    "zero_filled_psnr": m["zero_filled"]["psnr"]["mean"],
                    "tv_psnr": m["tv"]["psnr"]["mean"],
                    "tv_ssim": m["tv"]["ssim"]["mean"],
                    "network_psnr": net,
                    "network_over_tv_db": net - m["tv"]["psnr"]["mean"],
                    "seconds_per_slice": m["seconds_per_slice"],
                }
            )
    return sorted(out, key=lambda r: (float(r["drop_rate"]), r["mask"], r["family"]))


def cs_markdown(rows: list[dict]) -> str:
    """The TV baseline table (``cs.md``): mean per-slice PSNR on each case's recorded slices."""
    fmt = lambda v: "" if v != v else f"{v:.2f}"  # noqa: E731  (nan: the network was not scored)
    return "Mean per-slice PSNR (dB) on each case's recorded test slices.\n\n" + _markdown(
        [
            "drop rate",
            "mask",
            "tested on (slices)",
            "zero-filled",
            "TV (lambda)",
            "U-Net, same slices",
            "U-Net - TV",
            "TV s/slice",
        ],
        [
            [
                f"{r['drop_rate']:g}",
                "learned" if r["mask"] == "learned" else f"fixed {r['family']}",
                f"{r['tested_on']} {r['split']} ({r['n_slices']})",
                fmt(r["zero_filled_psnr"]),
                f"{r['tv_psnr']:.2f} ({r['lambda']:g})",
                fmt(r["network_psnr"]),
                fmt(r["network_over_tv_db"]),
                f"{r['seconds_per_slice']:.1f}",
            ]
            for r in rows
        ],
    )


YARDSTICK_COLUMNS = [
    "drop_rate",
    *(f"{m}_{k}" for m in (*FAMILIES, "learned") for k in ("psnr", "zero_filled_psnr")),
    "density_gain_db",
    "best_fixed",
    "learning_gain_db",
]
CS_COLUMNS = [
    "drop_rate",
    "mask",
    "family",
    "run",
    "tested_on",
    "split",
    "n_slices",
    "lambda",
    "zero_filled_psnr",
    "tv_psnr",
    "tv_ssim",
    "network_psnr",
    "network_over_tv_db",
    "seconds_per_slice",
]


def write_figure(root: Path, drops: list[float]) -> None:
    """One row per drop rate: target, fixed reconstruction, learned reconstruction, fixed mask, learned mask."""
    import matplotlib.pyplot as plt
    import numpy as np

    from common.runs import save_figure

    fig, axes = plt.subplots(len(drops), 5, figsize=(13, 2.8 * len(drops)), squeeze=False)
    for ax_row, drop in zip(axes, drops):
        ex = {kind: np.load(root / f"drop{drop:g}_{kind}" / "example.npz") for kind in ("fixed", "learned")}
        panels = [
            (ex["fixed"]["target"], f"drop {drop:g}: test target"),
            (ex["fixed"]["reconstruction"], f"fixed mask {float(ex['fixed']['psnr']):.1f} dB"),
            (ex["learned"]["reconstruction"], f"learned mask {float(ex['learned']['psnr']):.1f} dB"),
            (ex["fixed"]["mask"], "fixed mask"),
            (ex["learned"]["mask"], "learned mask"),
        ]
        for ax, (image, title) in zip(ax_row, panels):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, root / "sweep.png", dpi=90)
    plt.close(fig)


def summary_line(rows: list[dict], root: Path) -> str:
    parts = []
    for kind in ("fixed", "learned"):
        psnr = [
            r["test_psnr_mean"]
            for r in rows
            if r["model"] == "unet" and r["mask"] == kind and r.get("status") != "diverged"
        ]
        if psnr:
            parts.append(f"{kind} {min(psnr):.2f} to {max(psnr):.2f} dB")
    return f"sweep: {len(rows)} cases, U-Net test PSNR {', '.join(parts) or 'n/a'} -> {root}"


def run(args: argparse.Namespace, passthrough: list[str], command: str) -> list[dict]:
    """Validate every case, then run (or skip, or resume) them one by one; tables after every case."""
    from common.cli import Diverged
    from common.runs import check_run_dir, load_json, run_folder
    from mri_cs import train

    config = {"args": {**vars(args), "passthrough": passthrough}, "command": command}
    folder = dict(resume=args.resume, overwrite=args.overwrite, fixed_on_resume=FIXED_ON_RESUME)
    root = check_run_dir(args.results_root, args.name, args=config["args"], **folder)
    cases = [
        (kind, case_args(root, name, argv, args, passthrough)) for name, kind, argv in case_list(args)
    ]  # all parse first
    rows, cross, loaded = [], [], {}
    with run_folder(args.results_root, args.name, config, **folder):  # finished cases' checkpoints keep it on failure
        for kind, case in cases:
            done = root / case.name / "metrics.json"
            print(
                f"[sweep] {case.name}: "
                f"{'done, skipped' if done.is_file() else 'resuming' if case.resume else 'training'}"
            )
            try:
                metrics = load_json(done) if done.is_file() else train.run(case)
            except Diverged as e:  # recorded in the case's metrics.json; the sweep goes on with the next case
                print(f"[sweep] {case.name}: diverged: {e}", file=sys.stderr)
                metrics = e.record
            diverged = metrics.get("status") == "diverged"
            rows.append(diverged_row(metrics, case, kind) if diverged else row(metrics, case, kind))
            if args.score_on and not diverged:
                cross += [score_case(case, root, data, loaded) for data in args.score_on]
            # after every case, so that a sweep cut short still leaves its tables and figure; cases this command
            # does not list (another --drop-rates or --fixed-masks) stay in them
            others = other_cases(root, {c.name for _, c in cases})
            every = rows + [row(load_json(root / c.name / "metrics.json"), c, k) for k, c in others]
            write_table(every, root)
            write_table(yardstick_rows(every), root, "yardsticks", YARDSTICK_COLUMNS, yardstick_markdown, sort=False)
            if cs := cs_rows(every, root):
                write_table(cs, root, "cs", CS_COLUMNS, cs_markdown, sort=False)
            if cross:
                scored = [
                    score_case(c, root, d, None) for _, c in others for d in args.score_on if scored_on(root, c, d)
                ]
                write_table(cross + scored, root, "cross_data", CROSS_COLUMNS, cross_markdown)
            drops = sorted(
                d
                for d in args.drop_rates
                if all((root / f"drop{d:g}_{k}" / "example.npz").is_file() for k in ("fixed", "learned"))
            )
            if drops:
                write_figure(root, drops)
        if all(r.get("status") == "diverged" for r in rows):
            raise Diverged(
                f"every case of the sweep diverged (see {root / 'results.md'})", {"cases": [r["run"] for r in rows]}
            )
    print((root / "results.md").read_text())
    print(summary_line(rows, root))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = build_parser()
    args, passthrough = parser.parse_known_args(argv)
    fill_common_defaults(args)
    if clash := [f for f in SET_PER_CASE if any(a == f or a.startswith(f + "=") for a in passthrough)]:
        parser.error(f"{', '.join(clash)}: set by the sweep for every case; leave it out")
    if missing := [d for d in args.score_on if d != MNI152 and not Path(d).expanduser().is_dir()]:
        parser.error(f"--score-on {missing[0]}: no such folder (give a --data-dir folder or {MNI152})")
    args.name = run_name(args, "sweep")
    root = Path(args.results_root) / args.name
    command = " ".join(["python", PROG, *(sys.argv[1:] if argv is None else argv)])
    return run_command(
        PROG,
        lambda: run(args, passthrough, command),
        resume_hint=f"continue with the same command plus --resume (sweep folder {root})",
    )


if __name__ == "__main__":
    main()
    sys.exit(0)
