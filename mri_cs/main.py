"""MRI compressed sensing: reconstruct images from subsampled k-space, with a fixed or a learned mask.

    python main.py --drop-rate 0.3 --learn-mask      # the default run, ~5 min on 2 CPU cores
    python main.py --drop-rate 0.5 --model vanilla   # the one-convolution baseline, fixed mask
    python main.py --quick                           # smoke run in seconds

A fraction ``--drop-rate`` of the k-space samples is dropped by the model's
``subsample`` layer, the network reconstructs the fully sampled magnitude image.
With ``--learn-mask`` the loop calls ``model.subsample.mask_grad(mask_lr)`` after every
``optimizer.step()``; the optimizer itself only updates the network. The checkpoint
with the best validation PSNR is kept; the test set is used once, at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from common.metrics import batch_psnr
from common.runs import load_checkpoint, make_run_dir, pick_device, save_checkpoint, save_json, seed_everything
from mri_cs import utils
from mri_cs.data import DataError, build_datasets
from mri_cs.models.model import ReconstructionModel
from mri_cs.models.vanilla import VanillaModel

MODELS = {"unet": ReconstructionModel, "vanilla": VanillaModel}
# Arguments that must not change when a run is resumed.
FIXED_ON_RESUME = ("drop_rate", "learn_mask", "model", "resolution", "width", "data_dir", "seed", "quick")
PROG = "main.py"


class ResumeError(Exception):
    """--resume cannot continue this run; the message is for the user."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--drop-rate", type=float, default=0.3, help="fraction of k-space samples dropped, in [0, 1)")
    p.add_argument("--learn-mask", action="store_true", help="learn the mask jointly with the network")
    p.add_argument("--mask-lr", type=float, default=0.05, help="step of mask_grad on the normalised score gradient")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate of the network (cosine-annealed)")
    p.add_argument("--epochs", type=int, default=25, help="training epochs (at most 2 with --quick)")
    p.add_argument("--batch-size", type=int, default=8, help="slices per training step")
    p.add_argument("--data-dir", default=None,
                   help="fastMRI folder with singlecoil_train/ and singlecoil_val/; default: the MNI152 template in nilearn")
    p.add_argument("--resolution", type=int, default=128, help="images are resampled to R x R")
    p.add_argument("--model", choices=sorted(MODELS), default="unet",
                   help="unet: residual U-Net with data consistency (models/model.py); vanilla: one 3x3 conv")
    p.add_argument("--width", type=int, default=16, help="channels of the U-Net's first level (unet only)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ...; default: CUDA when available")
    p.add_argument("--seed", type=int, default=0, help="seeds the initial mask scores, the split and training")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (0 suits the in-memory default data)")
    p.add_argument("--results-root", default="runs", help="run folders are created here")
    p.add_argument("--run-name", default=None, help="run folder name; default: <model>_drop<rate>_<fixed|learned>")
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--quick", action="store_true", help="smoke run: 32x32 images, <= 2 epochs, 16/8/8 slices, tiny network")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0.0 <= args.drop_rate < 1.0:
        parser.error(f"--drop-rate must be in [0, 1), got {args.drop_rate}")
    for name in ("lr", "mask_lr"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative, got {getattr(args, name)}")
    for name in ("epochs", "batch_size", "width"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.num_workers < 0:
        parser.error(f"--num-workers must not be negative, got {args.num_workers}")
    if args.quick:
        args.resolution, args.epochs, args.width, args.batch_size = 32, min(args.epochs, 2), 8, 4
    if args.resolution < 16 or args.resolution % 8:
        parser.error(f"--resolution must be a multiple of 8 and at least 16 (the U-Net pools 3 times), got {args.resolution}")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder; expected one holding singlecoil_train/ and singlecoil_val/ with fastMRI .h5 files")
    try:
        args.device = str(pick_device(args.device))
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    if args.run_name is None:
        args.run_name = f"{args.model}_drop{args.drop_rate:g}_{'learned' if args.learn_mask else 'fixed'}" + ("_quick" if args.quick else "")
    return args


def build_model(args: argparse.Namespace, shape: tuple[int, int]) -> torch.nn.Module:
    kwargs = {"width": args.width} if args.model == "unet" else {}
    return MODELS[args.model](args.drop_rate, args.device, args.learn_mask, shape, mask_seed=args.seed, **kwargs).to(args.device)


def run(args: argparse.Namespace) -> dict:
    """Train, pick the best epoch on validation, evaluate on train and test, write the run folder; return the metrics."""
    seed_everything(args.seed)
    run_dir = make_run_dir(args.results_root, args.run_name)
    ckpt_path, best_path = run_dir / "checkpoint.pt", run_dir / "best.pt"
    if args.resume and not ckpt_path.exists():
        raise ResumeError(f"--resume: no checkpoint at {ckpt_path}")
    device = torch.device(args.device)

    datasets, data_info = build_datasets(args.data_dir, args.resolution, args.seed)
    if args.quick:  # a few slices spread over each split
        datasets = {k: Subset(d, np.linspace(0, len(d) - 1, 16 if k == "train" else 8).astype(int).tolist())
                    for k, d in datasets.items()}
        data_info["sizes_used"] = {k: len(d) for k, d in datasets.items()}
    print(f"data: {data_info['dataset']} at {args.resolution}x{args.resolution}; "
          f"slices train/val/test = {len(datasets['train'])}/{len(datasets['val'])}/{len(datasets['test'])}; device {device}")

    def loader(name: str, shuffle: bool = False, generator: torch.Generator | None = None) -> DataLoader:
        return DataLoader(datasets[name], batch_size=args.batch_size, shuffle=shuffle, generator=generator,
                          num_workers=args.num_workers)

    shuffle_gen = torch.Generator()
    train_loader, val_loader = loader("train", True, shuffle_gen), loader("val")

    model = build_model(args, (args.resolution, args.resolution))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    n_params = sum(p.numel() for p in model.parameters())
    save_json(run_dir / "config.json", {"args": vars(args), "data": data_info, "device": str(device),
                                        "model_parameters": n_params, "num_keep": model.subsample.num_keep,
                                        "torch": torch.__version__})

    start_epoch, history, best_val, best_epoch, elapsed = 0, [], -np.inf, -1, 0.0
    if args.resume:
        ckpt = load_checkpoint(ckpt_path, device)
        changed = [k for k in FIXED_ON_RESUME if ckpt["args"].get(k) != vars(args)[k]]
        if changed:
            raise ResumeError(f"--resume: {', '.join(changed)} differ from the checkpoint's run; use the same arguments")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, history, best_val, best_epoch, elapsed = (
            ckpt["epoch"], ckpt["history"], ckpt["best_val_psnr"], ckpt["best_epoch"], ckpt["elapsed_s"])
        print(f"resuming {run_dir} after epoch {start_epoch}")

    t0 = time.time() - elapsed
    for epoch in range(start_epoch, args.epochs):
        model.train()
        shuffle_gen.manual_seed(args.seed * 10_000 + epoch)  # the same batches whether or not the run was resumed
        # The mask step follows the network's cosine schedule, so the mask settles and the network adapts to it.
        mask_lr = args.mask_lr * scheduler.get_last_lr()[0] / args.lr if args.lr > 0 else args.mask_lr
        losses = []
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False)
        for kspace, target in bar:
            kspace, target = kspace.to(device), target.to(device)
            loss = F.l1_loss(model(kspace), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.subsample.mask_grad(mask_lr)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        val = utils.evaluate(model, val_loader, device, desc="validation")
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "val_psnr": float(val["psnr"].mean()),
                        "val_zero_filled_psnr": float(val["zero_filled_psnr"].mean()),
                        "keep_in_center": utils.center_keep_fraction(model.subsample.hard_mask().cpu().numpy())})
        if history[-1]["val_psnr"] > best_val:
            best_val, best_epoch = history[-1]["val_psnr"], epoch + 1
            save_checkpoint(best_path, {"model": model.state_dict(), "epoch": epoch + 1, "args": vars(args)})
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                    "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "history": history,
                                    "best_val_psnr": best_val, "best_epoch": best_epoch,
                                    "elapsed_s": time.time() - t0, "args": vars(args)})
        print(f"epoch {epoch + 1:3d}  loss {history[-1]['train_loss']:.4f}  val PSNR {history[-1]['val_psnr']:.2f} dB "
              f"(zero-filled {history[-1]['val_zero_filled_psnr']:.2f})  centre kept {history[-1]['keep_in_center']:.2f}")

    # The best epoch on validation; the test set is touched only here.
    model.load_state_dict(load_checkpoint(best_path, device)["model"])
    train = utils.evaluate(model, loader("train"), device, with_ssim=True, desc="train set")
    test = utils.evaluate(model, loader("test"), device, with_ssim=True, desc="test set")
    mask = model.subsample.hard_mask().cpu().numpy()
    metrics = {
        "train_psnr": utils.summarize(train["psnr"]), "train_ssim": utils.summarize(train["ssim"]),
        "test_psnr": utils.summarize(test["psnr"]), "test_ssim": utils.summarize(test["ssim"]),
        "zero_filled_test_psnr": utils.summarize(test["zero_filled_psnr"]),
        "zero_filled_test_ssim": utils.summarize(test["zero_filled_ssim"]),
        "zero_filled_train_psnr": utils.summarize(train["zero_filled_psnr"]),
        "best_val_psnr": best_val, "best_epoch": best_epoch, "epochs": args.epochs,
        "keep_fraction": float(mask.mean()), "num_keep": int(mask.sum()),
        "keep_in_center": utils.center_keep_fraction(mask),
        "n_slices": {k: len(d) for k, d in datasets.items()}, "model_parameters": n_params,
        "device": str(device), "wall_time_s": time.time() - t0, "history": history,
    }
    save_json(run_dir / "metrics.json", metrics)
    write_figures(model, datasets["test"], device, mask, history, run_dir, args)
    print(f"train PSNR {metrics['train_psnr']['mean']:.2f} ± {metrics['train_psnr']['std']:.2f} dB, "
          f"test PSNR {metrics['test_psnr']['mean']:.2f} ± {metrics['test_psnr']['std']:.2f} dB "
          f"(zero-filled {metrics['zero_filled_test_psnr']['mean']:.2f}), test SSIM {metrics['test_ssim']['mean']:.3f}, "
          f"kept {metrics['keep_fraction']:.3f} of k-space, {metrics['wall_time_s']:.0f} s -> {run_dir}")
    return metrics


@torch.no_grad()
def write_figures(model, test_set, device, mask, history, run_dir: Path, args) -> None:
    """mask.png, curves.png, examples.png (3 test slices) and example.npz (the middle one, for the sweep figure)."""
    kind = "learned" if args.learn_mask else "fixed"
    utils.save_mask_figure(mask, run_dir / "mask.png", f"{kind} mask, drop rate {args.drop_rate:g}")
    utils.save_curves_figure(history, run_dir / "curves.png")
    idx = np.linspace(0, len(test_set) - 1, 3).astype(int)
    kspace = torch.stack([test_set[int(i)][0] for i in idx]).to(device)
    target = torch.stack([test_set[int(i)][1] for i in idx])
    model.eval()
    recon, zero_filled = model(kspace).cpu(), model.subsample(kspace).cpu()
    psnrs = (batch_psnr(zero_filled, target).tolist(), batch_psnr(recon, target).tolist())
    target, zero_filled, recon = (x[:, 0].numpy() for x in (target, zero_filled, recon))
    utils.save_examples_figure(target, zero_filled, recon, run_dir / "examples.png", psnrs)
    np.savez_compressed(run_dir / "example.npz", target=target[1], zero_filled=zero_filled[1], reconstruction=recon[1],
                        mask=mask.astype(np.uint8), psnr=psnrs[1][1], zero_filled_psnr=psnrs[0][1])


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (DataError, ResumeError) as e:
        sys.exit(f"{PROG}: error: {e}")


if __name__ == "__main__":
    main()
