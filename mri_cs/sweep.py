"""The 14 cases of the assignment in one command: drop rates 0.1 ... 0.7, fixed and learned mask.

    python sweep.py                       # all cases with main.py's defaults
    python sweep.py --epochs 10           # any option not listed below is passed on to main.py
    python sweep.py --drop-rates 0.3 --quick

Each case is one main.py run folder under ``--results-root``; cases whose folder already
has ``metrics.json`` are skipped, an interrupted case resumes from its checkpoint. A
vanilla-model run at ``--baseline-drop`` (fixed mask) is added as the baseline. Writes
``results.csv``, ``results.md`` (the table) and ``sweep.png`` (for every drop rate the test
target, the fixed- and learned-mask reconstructions and both masks).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from common.runs import load_json  # noqa: E402
from mri_cs import main as mri_main  # noqa: E402

# Run order, not table order: the cases the benchmark targets need (0.3, then 0.5 to 0.7) come first,
# so a sweep cut short still answers them. The table is sorted.
DROP_RATES = [0.3, 0.5, 0.7, 0.6, 0.1, 0.2, 0.4]
COLUMNS = ["model", "drop_rate", "mask", "train_psnr_mean", "train_psnr_std", "test_psnr_mean", "test_psnr_std",
           "test_ssim_mean", "test_ssim_std", "zero_filled_test_psnr_mean", "zero_filled_test_psnr_std",
           "keep_fraction", "keep_in_center", "epochs", "best_epoch", "wall_time_s", "run"]


def run_case(root: Path, name: str, case_args: list[str], passthrough: list[str]) -> dict:
    """Run (or skip, or resume) one case; return its metrics."""
    run_dir = root / name
    if (run_dir / "metrics.json").exists():
        print(f"[sweep] {name}: done, skipped")
        return load_json(run_dir / "metrics.json")
    resume = ["--resume"] if (run_dir / "checkpoint.pt").exists() else []
    print(f"[sweep] {name}: {'resuming' if resume else 'training'}")
    return mri_main.main(case_args + passthrough + ["--results-root", str(root), "--run-name", name] + resume)


def row(model: str, drop: float, mask: str, m: dict, name: str) -> dict:
    return {"model": model, "drop_rate": drop, "mask": mask,
            **{f"{k}_{s}": m[k][s] for k in ("train_psnr", "test_psnr", "test_ssim", "zero_filled_test_psnr") for s in ("mean", "std")},
            "keep_fraction": m["keep_fraction"], "keep_in_center": m["keep_in_center"], "epochs": m["epochs"],
            "best_epoch": m["best_epoch"], "wall_time_s": m["wall_time_s"], "run": name}


def write_table(rows: list[dict], root: Path) -> None:
    rows = sorted(rows, key=lambda r: (r["model"], r["drop_rate"], r["mask"]))
    with open(root / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| model | drop rate | mask | train PSNR (dB) | test PSNR (dB) | zero-filled test PSNR (dB) | test SSIM | kept in centre |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['drop_rate']:g} | {r['mask']} | {r['train_psnr_mean']:.2f} ± {r['train_psnr_std']:.2f} "
                     f"| {r['test_psnr_mean']:.2f} ± {r['test_psnr_std']:.2f} | {r['zero_filled_test_psnr_mean']:.2f} ± "
                     f"{r['zero_filled_test_psnr_std']:.2f} | {r['test_ssim_mean']:.3f} | {r['keep_in_center']:.2f} |")
    (root / "results.md").write_text("\n".join(lines) + "\n")


def write_figure(root: Path, drops: list[float]) -> None:
    """One row per drop rate: target, fixed reconstruction, learned reconstruction, fixed mask, learned mask."""
    fig, axes = plt.subplots(len(drops), 5, figsize=(13, 2.8 * len(drops)), squeeze=False)
    for ax_row, drop in zip(axes, drops):
        ex = {kind: np.load(root / f"drop{drop:g}_{kind}" / "example.npz") for kind in ("fixed", "learned")}
        panels = [(ex["fixed"]["target"], f"drop {drop:g}: test target"),
                  (ex["fixed"]["reconstruction"], f"fixed mask {float(ex['fixed']['psnr']):.1f} dB"),
                  (ex["learned"]["reconstruction"], f"learned mask {float(ex['learned']['psnr']):.1f} dB"),
                  (ex["fixed"]["mask"], "fixed mask"), (ex["learned"]["mask"], "learned mask")]
        for ax, (image, title) in zip(ax_row, panels):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(root / "sweep.png", dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n\n")[0],
                                     epilog="Other options (--epochs, --quick, --device, ...) are passed on to main.py.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--drop-rates", type=float, nargs="+", default=DROP_RATES,
                        help="drop rates to run, in this order; each gets a fixed- and a learned-mask case")
    parser.add_argument("--results-root", default="runs/sweep", help="one run folder per case, and the tables, go here")
    parser.add_argument("--baseline-drop", type=float, default=0.3, help="drop rate of the vanilla baseline run")
    args, passthrough = parser.parse_known_args(argv)
    for flag in ("--drop-rate", "--learn-mask", "--model", "--run-name", "--resume"):
        if flag in passthrough:
            parser.error(f"{flag} is set by the sweep for every case; leave it out")
    root = Path(args.results_root)
    cases = [("vanilla", args.baseline_drop, "fixed")] + [("unet", d, k) for d in args.drop_rates for k in ("fixed", "learned")]
    rows = []
    for model, drop, kind in cases:
        case = ["--drop-rate", str(drop), "--model", model] + (["--learn-mask"] if kind == "learned" else [])
        name = f"{'vanilla_' if model == 'vanilla' else ''}drop{drop:g}_{kind}"
        rows.append(row(model, drop, kind, run_case(root, name, case, passthrough), name))
        # After every case, so that a sweep cut short still leaves its table and figure.
        write_table(rows, root)
        done = sorted(d for d in args.drop_rates if all((root / f"drop{d:g}_{k}" / "example.npz").exists() for k in ("fixed", "learned")))
        if done:
            write_figure(root, done)
    print((root / "results.md").read_text())
    print(f"[sweep] wrote {root / 'results.csv'}, {root / 'results.md'}, {root / 'sweep.png'}")


if __name__ == "__main__":
    main()
