"""Task 1 experiment: fill in the hidden bottom half of MNIST digits with a network of the hand-written
layers (:mod:`backprop.functions`), trained by stochastic gradient descent written out by hand.

The loss is the squared error over the hidden pixels; the measured top half is kept as it is
in the reconstruction. The weights kept are those of the epoch with the best validation PSNR.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from backprop.functions import FullyConnectedNet
from backprop.loaders import load_mnist
from backprop.restoration_eval import mean_psnr, show_grid
from common.checkpoint import load_progress, save_progress
from common.cli import DataError
from common.guard import DivergenceGuard
from common.metrics import psnr
from common.runs import append_log, open_run, save_json, seed_everything

# Arguments a --resume must repeat: all but --device, --results-root, --name, --resume, --overwrite and --download.
FIXED_ON_RESUME = (
    "seed",
    "quick",
    "precision",
    "command",
    "data_dir",
    "hidden",
    "epochs",
    "batch_size",
    "lr",
    "val_count",
)


@dataclass
class Digits:
    """Train / validation / test digits ``(N, 28, 28)`` and the mask of measured pixels ``(784,)``."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    known: torch.Tensor  # 1 on the measured top half, 0 on the hidden bottom half (flattened)
    source: dict


def setup(args: argparse.Namespace) -> Digits:
    """Load MNIST, hold out ``--val-count`` training digits (seeded) and build the half mask."""
    train_all = load_mnist(args.data_dir, train=True, download=args.download)
    test = load_mnist(args.data_dir, train=False, download=args.download)
    if args.quick:
        train_all, test = train_all[:2000], test[:500]
    if len(train_all) <= args.val_count:
        raise DataError(
            f"the MNIST training set has {len(train_all)} images; need more than --val-count={args.val_count}"
        )
    order = torch.randperm(len(train_all), generator=torch.Generator().manual_seed(args.seed))
    val, train = train_all[order[: args.val_count]], train_all[order[args.val_count :]]
    side = train.shape[-1]
    known = torch.ones(side, side)
    known[side // 2 :] = 0  # the bottom half is hidden
    source = {
        "name": "MNIST",
        "root": str(args.data_dir),
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
    }
    return Digits(train, val, test, known.flatten(), source)


def reconstruct(net: torch.nn.Module, images: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Measured top half kept as it is, hidden bottom half predicted by ``net``; ``(N, 28, 28)`` in [0, 1]."""
    x = images.flatten(1)
    out = known * x + (1 - known) * net(known * x)
    return out.clamp(0, 1).view_as(images)


@torch.no_grad()
def evaluate(net: torch.nn.Module, images: torch.Tensor, known: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Reconstructions of all ``images`` (on the CPU), in chunks of 1,000."""
    known = known.to(device)
    return torch.cat([reconstruct(net, chunk.to(device), known).cpu() for chunk in images.split(1000)])


def train_one_epoch(
    net: torch.nn.Module,
    data: Digits,
    args: argparse.Namespace,
    generator: torch.Generator,
    device: torch.device,
    desc: str,
    guard: DivergenceGuard | None = None,
) -> float:
    """One pass over the training digits in random order with plain SGD; returns the last batch's loss.
    ``guard`` stops a diverged run (:class:`common.cli.Diverged`) before the step."""
    known = data.known.to(device)
    perm = torch.randperm(len(data.train), generator=generator)
    bar = tqdm(perm.split(args.batch_size), desc=desc, leave=False, disable=None)
    for idx in bar:
        x = data.train[idx].flatten(1).to(device)
        pred = net(known * x)
        # Squared error over the hidden pixels, summed per image and averaged over the batch.
        loss = (((pred - x) * (1 - known)) ** 2).sum(1).mean()
        if guard is not None:
            guard.check(loss)
        net.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():  # stochastic gradient descent, written out
            for p in net.parameters():
                p -= args.lr * p.grad
        bar.set_postfix(loss=f"{loss.item():.3f}")
    return loss.item()


def test_metrics(net: torch.nn.Module, data: Digits, device: torch.device) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Test PSNRs of the network and of two baselines; also returns the measurements and reconstructions."""
    test, side = data.test, data.test.shape[-1]
    known = data.known.view(side, side)
    recon = evaluate(net, test, data.known, device)
    measured = test * known
    mean_fill = measured + (1 - known) * data.train.mean(0)  # baseline: the average digit's bottom half
    hidden = (1 - known).bool()
    metrics = {
        "test_psnr": mean_psnr(recon, test),
        "test_psnr_hidden_half": sum(psnr(p[hidden], t[hidden], 1.0) for p, t in zip(recon, test)) / len(test),
        "test_psnr_measurement": mean_psnr(measured, test),
        "test_psnr_mean_digit_fill": mean_psnr(mean_fill, test),
    }
    return metrics, measured, recon


def write_outputs(
    run_dir: Path, metrics: dict, test: torch.Tensor, measured: torch.Tensor, recon: torch.Tensor
) -> None:
    save_json(run_dir / "metrics.json", metrics)
    cols = min(8, len(test))
    rows = [[(im, "") for im in images[:cols]] for images in (test, measured, recon)]
    show_grid(rows, ["ground truth", "measurement", "reconstruction"], run_dir / "inpainting.png")


def run(args: argparse.Namespace, device: torch.device) -> str:
    """The ``inpaint`` command; returns its last line (run folder and headline numbers)."""
    seed_everything(args.seed)
    data = setup(args)
    side = data.train.shape[-1]
    net = FullyConnectedNet([side * side, *args.hidden, side * side]).to(device)
    generator = torch.Generator().manual_seed(args.seed)
    with open_run(
        args,
        FIXED_ON_RESUME,
        dataset=data.source,
        device=str(device),
        started=time.strftime("%Y-%m-%d %H:%M:%S"),
    ) as run_dir:
        ckpt_path, generators = run_dir / "inpaint_net.pt", {"batches": generator}
        progress = load_progress(ckpt_path, net, None, None, generators, resume=args.resume, device=device)
        history = progress.extra.setdefault("history", [])

        t0, guard = time.time() - progress.extra.setdefault("train_seconds", 0.0), DivergenceGuard("inpaint net")
        for epoch in range(progress.step, args.epochs):
            loss = train_one_epoch(
                net, data, args, generator, device, desc=f"inpaint epoch {epoch + 1}/{args.epochs}", guard=guard
            )
            val_psnr = mean_psnr(evaluate(net, data.val, data.known, device), data.val)
            history.append({"epoch": epoch + 1, "loss": loss, "val_psnr": val_psnr})
            append_log(run_dir, history[-1])
            if progress.improves(val_psnr):
                progress.keep_best(net, val_psnr, epoch + 1)
            progress.step, progress.extra["train_seconds"] = epoch + 1, time.time() - t0
            save_progress(ckpt_path, progress, net, None, None, generators)
            print(f"epoch {epoch + 1}: last batch loss {loss:.3f}, validation PSNR {val_psnr:.2f} dB")

        net.load_state_dict(progress.best_model)
        metrics, measured, recon = test_metrics(net, data, device)
        metrics.update(
            best_val_psnr=progress.best_score,
            best_epoch=progress.best_step,
            history=history,
            train_seconds=progress.extra["train_seconds"],
        )
        write_outputs(run_dir, metrics, data.test, measured, recon)
    return (
        f"{run_dir}: test PSNR {metrics['test_psnr']:.2f} dB (whole digit; hidden half alone "
        f"{metrics['test_psnr_hidden_half']:.2f} dB; measurement {metrics['test_psnr_measurement']:.2f} dB, "
        f"mean-digit fill {metrics['test_psnr_mean_digit_fill']:.2f} dB)"
    )
