"""``python evaluate.py RUN_DIR --cs tv``: the classical CS baseline on a finished run's mask.

``score_cs(args)`` takes the run's mask (from ``best.pt``, or from ``example.npz`` in a published copy), makes
and acquires the data's split as ``main.py`` would, chooses the method's weight (``--cs tv`` or ``wavelet``) on a
fixed subset of the validation split, records the solver's convergence check there, and scores the method,
the zero-filled image and (with ``best.pt``) the run's network on a fixed subset of the chosen split, with the
same PSNR/SSIM as the run. Writes ``RUN_DIR/cs_tv_<name>/config.json`` and ``metrics.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from common.cli import RunError
from common.metrics import batch_psnr, batch_ssim
from common.runs import load_json, save_json
from mri_cs import cs, utils
from mri_cs.main import check_run_args
from mri_cs.scoring import evaluation_folder, load_run, split_data


def run_mask(run_dir: Path, device: torch.device) -> tuple[torch.Tensor, torch.nn.Module | None, argparse.Namespace]:
    """``(mask (H, W), the run's model or None, the run's arguments)``: the mask of ``best.pt`` (the network's own),
    else of ``example.npz``; a folder with neither has no mask."""
    if not (run_dir / "config.json").is_file():
        raise RunError(f"{run_dir} has no config.json; is it a main.py run folder?")
    if (run_dir / "best.pt").is_file():
        model, run_args, _, _ = load_run(run_dir, device)
        return model.subsample.hard_mask().cpu(), model, run_args
    if (run_dir / "example.npz").is_file():
        try:
            run_args = check_run_args(load_json(run_dir / "config.json")["args"])
        except (KeyError, TypeError, ValueError) as e:
            raise RunError(f"{run_dir / 'config.json'} is not a valid main.py config ({e})") from None
        return torch.from_numpy(np.load(run_dir / "example.npz")["mask"].astype(np.float32)), None, run_args
    raise RunError(f"{run_dir} has no mask to reconstruct with (neither best.pt nor example.npz)")


def quality(recon: torch.Tensor, target: torch.Tensor) -> dict:
    return {
        "psnr": utils.summarize(batch_psnr(recon, target).numpy()),
        "ssim": utils.summarize(batch_ssim(recon, target).numpy()),
    }


def score_cs(args: argparse.Namespace) -> dict:
    """Choose the method's weight on validation, score the test (``--split``) subset; write ``cs_<method>_<name>/``."""
    run_dir = Path(args.run_dir)
    out_dir, device = evaluation_folder(run_dir, f"cs_{args.cs}_{args.name}", args)
    mask, model, run_args = run_mask(run_dir, device)
    val_set, _ = split_data(args.data_dir, run_args, "val")
    test_set, info = split_data(args.data_dir, run_args, args.split)
    val_idx, test_idx = cs.subset(len(val_set), args.cs_val_slices), cs.subset(len(test_set), args.cs_slices)
    print(
        f"data: {info['dataset']}; TV weight chosen on {len(val_idx)} validation slices, scored on "
        f"{len(test_idx)} of {len(test_set)} {args.split} slices at {run_args.resolution}x{run_args.resolution}; "
        f"device {device}"
    )
    val_k, val_t = utils.stack_slices(val_set, val_idx)
    t0 = time.time()
    lam, tried = cs.choose_lambda(args.cs, val_k, val_t, mask)
    check = cs.convergence(args.cs, val_k, val_t, mask, lam)
    choose_s = time.time() - t0
    kspace, target = utils.stack_slices(test_set, test_idx)
    t0 = time.time()
    recon = cs.reconstruct(args.cs, kspace, mask, lam)
    per_slice_s = (time.time() - t0) / len(test_idx)
    zero_filled = utils.freq_to_image(kspace * mask[None, :, :, None]).unsqueeze(1)
    metrics = {
        "run": run_dir.name,
        "method": args.cs,
        "lambda": lam,
        "val_psnr_by_lambda": tried,
        "convergence": check,
        args.cs: quality(recon, target),
        "zero_filled": quality(zero_filled, target),
        "network": quality(net_output(model, kspace, device), target) if model is not None else None,
        "split": args.split,
        "slices": test_idx,
        "n_slices": len(test_idx),
        "val_slices": val_idx,
        "keep_fraction": float(mask.mean()),
        "seconds_per_slice": per_slice_s,
        "choose_lambda_s": choose_s,
        "device": str(device),
        "cpu_threads": torch.get_num_threads() if device.type == "cpu" else None,
    }
    metrics["gain_over_zero_filled_db"] = metrics[args.cs]["psnr"]["mean"] - metrics["zero_filled"]["psnr"]["mean"]
    config = cs_config(args, run_args, info)
    write(out_dir, config, metrics)
    net = f", network {metrics['network']['psnr']['mean']:.2f}" if model is not None else ""
    print(
        f"{args.cs} (lambda {lam:g}) PSNR {metrics[args.cs]['psnr']['mean']:.2f} dB (zero-filled "
        f"{metrics['zero_filled']['psnr']['mean']:.2f}{net}) on {len(test_idx)} {args.split} slices, "
        f"{per_slice_s:.2f} s per slice -> {out_dir}"
    )
    return metrics


def cs_config(args: argparse.Namespace, run_args: argparse.Namespace, info: dict) -> dict:
    """The evaluation's ``config.json``: the method, its iterations and weight grid, the data and the run's mask."""
    return {
        "run": Path(args.run_dir).name,
        "method": args.cs,
        "iterations": cs.ITERATIONS[args.cs],
        "lambdas": list(cs.LAMBDAS),
        "acquisition": {"kind": run_args.acquisition, "sigma": run_args.noise_sigma},
        "data_dir": args.data_dir,
        "split": args.split,
        "data": info,
        "mask_family": run_args.mask,
        "drop_rate": run_args.drop_rate,
        "learn_mask": run_args.learn_mask,
        "torch": torch.__version__,
    }


@torch.no_grad()
def net_output(model: torch.nn.Module, kspace: torch.Tensor, device: torch.device) -> torch.Tensor:
    return model.eval()(kspace.to(device)).cpu()


def write(out_dir: Path, config: dict, metrics: dict) -> None:
    """config.json, then metrics.json last (a folder with metrics.json is finished); nothing left on a failure."""
    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        save_json(out_dir / "config.json", config)
        save_json(out_dir / "metrics.json", metrics)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
