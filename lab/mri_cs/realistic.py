"""The realistic benchmark: classical compressed sensing and trained networks on the same held-out test slices.

    python -m lab.mri_cs.realistic density --data-dir DATA                  # tune the variable-density mask
    python -m lab.mri_cs.realistic classical --data-dir DATA --drop-rate 0.3 [--run RUN_DIR]
    python -m lab.mri_cs.realistic network RUN_DIR --data-dir DATA          # a trained run on the same slices
    python -m lab.mri_cs.realistic bart --data-dir DATA --drop-rate 0.3     # cross-check TV with BART
    python -m lab.mri_cs.realistic table                                    # the tables, from the files

Every method sees the same measurements: the data's validation and test splits acquired as ``main.py``
acquires them (``--seed 0``, realistic acquisition, seeded draws), ``--val-slices`` validation slices to
choose the weights on and ``--test-slices`` test slices (patients no model trained on), spread evenly over
each split and recorded. Each command writes one JSON file into ``--out`` (``results/mri_cs/realistic``);
``network`` also copies the run's small files to ``--out``/trained.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common.cli import OneLineParser
from common.metrics import batch_psnr, batch_ssim
from common.runs import save_json
from mri_cs import cs
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.train import acquired, load_data
from mri_cs.utils import freq_to_image, stack_slices

OUT = Path("results/mri_cs/realistic")
DENSITY_GRID = (0.3, 0.5, 0.7, 0.85, 1.0)
DENSITY_LAMBDA = 0.0032  # TV weight while the density is tuned (the best of the grid at weight 0.5, drop 0.3 and 0.6)
DENSITY_ITERATIONS = 400


def measurements(args: argparse.Namespace) -> dict:
    """``{"val": (kspace, target), "test": (kspace, target), "val_idx", "test_idx", "data"}``: the recorded
    subsets of the acquired splits."""
    run_args = argparse.Namespace(
        data_dir=args.data_dir, resolution=128, seed=0, quick=False, acquisition="realistic", noise_sigma=args.sigma
    )
    datasets, info = load_data(run_args)
    measured = acquired(datasets, run_args)
    out = {"data": info["dataset"]}
    for split, n in (("val", args.val_slices), ("test", args.test_slices)):
        idx = cs.subset(len(measured[split]), n)
        out[split], out[f"{split}_idx"] = stack_slices(measured[split], idx), idx
    return out


def vd_mask(drop: float, weight: float) -> torch.Tensor:
    """The fixed variable-density mask ``(H, W)`` of ``main.py --mask variable-density --vd-weight weight``."""
    layer = SubsamplingLayer(drop, "cpu", False, (128, 128), seed=0, mask="variable-density", prior_weight=weight)
    return layer.hard_mask()


def quality(recon: torch.Tensor, target: torch.Tensor) -> dict:
    """Per-slice PSNR and SSIM, mean and std, and the per-slice PSNRs (for paired comparisons)."""
    p, s = batch_psnr(recon, target).numpy(), batch_ssim(recon, target).numpy()
    return {"psnr": float(p.mean()), "psnr_std": float(p.std()), "ssim": float(s.mean()), "per_slice_psnr": p.tolist()}


def zero_filled(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return freq_to_image(kspace * mask[None, :, :, None]).unsqueeze(1)


def write(args: argparse.Namespace, name: str, record: dict) -> Path:
    out = Path(args.out) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_json(out, {"command": " ".join(sys.argv), "sigma": args.sigma, **record})
    print(f"-> {out}")
    return out


def density(args: argparse.Namespace) -> None:
    """Per drop rate, the variable-density prior weight with the best validation PSNR of TV (fixed weight)."""
    data = measurements(args)
    k, t = data["val"]
    record = {"data": data["data"], "val_slices": data["val_idx"], "lambda": DENSITY_LAMBDA, "by_drop": {}}
    for drop in args.drop_rates:
        tried = {
            f"{w:g}": cs.mean_psnr(cs.reconstruct("tv", k, vd_mask(drop, w), DENSITY_LAMBDA, DENSITY_ITERATIONS), t)
            for w in DENSITY_GRID
        }
        best = max(tried, key=tried.get)
        record["by_drop"][f"{drop:g}"] = {"best": float(best), "val_psnr": tried}
        print(f"drop {drop:g}: weight {best} ({tried[best]:.2f} dB); tried {tried}")
    write(args, "density", record)


def mask_for(args: argparse.Namespace) -> tuple[torch.Tensor, str]:
    """The mask to reconstruct with: a run's (``--run``), every sample (``--drop-rate 0``), a Cartesian mask
    (``--cartesian``), else the tuned variable-density mask."""
    if args.run:
        from mri_cs.cs_scoring import run_mask  # the run's best.pt mask, else its example.npz

        return run_mask(Path(args.run), torch.device("cpu"))[0], Path(args.run).name
    if args.drop_rate == 0:
        return torch.ones(128, 128), "full"
    if args.cartesian:
        layer = SubsamplingLayer(args.drop_rate, "cpu", False, (128, 128), seed=0, mask="cartesian-random")
        return layer.hard_mask(), f"cartesian-random_drop{args.drop_rate:g}"
    weight = json.loads((Path(args.out) / "density.json").read_text())["by_drop"][f"{args.drop_rate:g}"]["best"]
    return vd_mask(args.drop_rate, weight), f"vd{weight:g}_drop{args.drop_rate:g}"


def classical(args: argparse.Namespace) -> None:
    """Zero-filled, TV and L1-wavelet on the mask; weights chosen on validation, convergence recorded."""
    data = measurements(args)
    mask, label = mask_for(args)
    (vk, vt), (tk, tt) = data["val"], data["test"]
    drop = json.loads((Path(args.run) / "config.json").read_text())["args"]["drop_rate"] if args.run else args.drop_rate
    record = {"data": data["data"], "mask": label, "keep_fraction": float(mask.mean()), "drop_rate": drop}
    record.update(val_slices=data["val_idx"], test_slices=data["test_idx"])
    record["zero_filled"] = quality(zero_filled(tk, mask), tt)
    for method in args.methods:
        t0 = time.time()
        lam, tried = cs.choose_lambda(method, vk, vt, mask, args.lambdas)
        check = cs.convergence(method, vk, vt, mask, lam)
        result = quality(cs.reconstruct(method, tk, mask, lam), tt)
        record[method] = {**result, "lambda": lam, "val_psnr_by_lambda": tried, "convergence": check}
        record[method]["seconds"] = time.time() - t0
        print(f"{label} {method}: lambda {lam:g}, test PSNR {result['psnr']:.2f} dB, check {check['change_db']:+.4f}")
    write(args, f"classical_{label}", record)


@torch.no_grad()
def network(args: argparse.Namespace) -> None:
    """A trained run (``best.pt``) scored on the recorded test slices, beside its zero-filled input."""
    from mri_cs.scoring import load_run

    data = measurements(args)
    model, run_args, config, _ = load_run(Path(args.run), torch.device("cpu"))
    tk, tt = data["test"]
    recon = torch.cat([model(tk[i : i + 16]) for i in range(0, len(tk), 16)])
    mask = model.subsample.hard_mask()
    record = {"data": data["data"], "run": Path(args.run).name, "model": run_args.model, "config": config["args"]}
    record.update(drop_rate=run_args.drop_rate, learn_mask=run_args.learn_mask, test_slices=data["test_idx"])
    record.update(network=quality(recon, tt), zero_filled=quality(zero_filled(tk, mask), tt))
    record["full"] = quality(zero_filled(tk, torch.ones_like(mask)), tt)
    print(f"{record['run']}: test PSNR {record['network']['psnr']:.2f} dB")
    write(args, f"network_{record['run']}", record)
    copy_run(Path(args.run), Path(args.out) / "trained")


def copy_run(run_dir: Path, dest_root: Path) -> None:
    """The run's small files (config, metrics, log, figures; never checkpoints) into ``dest_root/<run name>/``."""
    from lab.results import publishable_files

    for rel in publishable_files(run_dir):
        (dest_root / run_dir.name / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / rel, dest_root / run_dir.name / rel)


COMMANDS = {"density": density, "classical": classical, "network": network}


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m lab.mri_cs.realistic", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=list(COMMANDS) + ["bart", "table"])
    p.add_argument("run", nargs="?", default=None, help="network: the run folder; classical: reconstruct on its mask")
    p.add_argument("--data-dir", default=None, help="the data (default: the MNI152 template)")
    p.add_argument("--drop-rate", type=float, default=0.3)
    p.add_argument("--drop-rates", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    p.add_argument("--cartesian", action="store_true", help="classical: a Cartesian random-line mask")
    p.add_argument("--methods", nargs="+", choices=cs.METHODS, default=list(cs.METHODS))
    p.add_argument("--lambdas", type=float, nargs="+", default=list(cs.LAMBDAS[2:10]))
    p.add_argument("--sigma", type=float, default=0.0125, help="noise per component (main.py --noise-sigma)")
    p.add_argument("--val-slices", type=int, default=16)
    p.add_argument("--test-slices", type=int, default=64)
    p.add_argument("--out", default=str(OUT))
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse and run one command; bad input (a weight grid without a positive value, a noise level that is not
    positive and finite, ``bart`` missing, a missing file) is one line on stderr and exit 2, nothing written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not any(v > 0 for v in args.lambdas):
        parser.error("--lambdas: the weight grid holds no positive value")
    if not (np.isfinite(args.sigma) and args.sigma > 0):
        parser.error(f"--sigma must be a finite number > 0, got {args.sigma}")
    try:
        dispatch(args)
    except (ValueError, OSError, KeyError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        sys.exit(2)


def dispatch(args: argparse.Namespace) -> None:
    if args.command == "bart":
        from lab.mri_cs.bart import cross_check

        return cross_check(args)
    if args.command == "table":
        from lab.mri_cs.tables import write_tables

        return write_tables(Path(args.out))
    torch.manual_seed(0)
    np.random.seed(0)
    COMMANDS[args.command](args)


if __name__ == "__main__":
    main()
