"""Task 2 experiment: residual CNN denoisers with / without biases and of two widths, tested at three
noise levels; and :func:`train_image_net`, the training loop of every image-to-image network here.

Each network trains on random patches of the training images with a noise level drawn uniformly
from ``--train-sigma``; the weights kept are those with the best validation PSNR (held-out training
images, noise levels inside the training range). The test images choose nothing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from backprop.loaders import random_patches
from backprop.models import ResidualDenoiser
from backprop.restoration_eval import (
    PATCH_TRAINING_FIXED,
    load_image_splits,
    mean_psnr,
    model_psnr,
    restore,
    save_plot,
    show_grid,
)
from common.checkpoint import load_progress, save_progress
from common.guard import DivergenceGuard
from common.noise import add_noise
from common.runs import append_log, open_run, save_json, save_text, seed_everything

# Arguments a --resume must repeat: all but --device, --results-root, --name, --resume, --overwrite and --download.
FIXED_ON_RESUME = PATCH_TRAINING_FIXED + ("channels", "train_sigma", "test_sigmas")

Batch = Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def train_image_net(
    model: torch.nn.Module,
    sample_batch: Batch,
    val: tuple[list[torch.Tensor], list[torch.Tensor]],
    args: argparse.Namespace,
    ckpt_path: Path,
    device: torch.device,
    desc: str,
) -> dict:
    """Train an image-to-image network on random patches with Adam and a cosine learning-rate decay.

    ``sample_batch(generator)`` returns ``(inputs, targets)`` of shape ``(B, 1, P, P)``; ``val`` is the validation
    images' ``(inputs, targets)``.
    Every ``args.eval_every`` steps the mean validation PSNR is measured and the best weights
    so far are kept: that is the model the test images see. The checkpoint (written atomically
    after each validation) lets ``--resume`` pick up where a stopped run left off; a finished
    checkpoint is simply reloaded.
    """
    val_inputs, val_targets = val
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr / 20)
    generator = torch.Generator().manual_seed(args.seed)
    generators = {"patches": generator}
    progress = load_progress(ckpt_path, model, optimizer, scheduler, generators, resume=args.resume, device=device)
    history = progress.extra.setdefault("history", [])

    t0, guard = time.time() - progress.extra.setdefault("train_seconds", 0.0), DivergenceGuard(desc)
    bar = tqdm(
        range(progress.step, args.steps), desc=desc, initial=progress.step, total=args.steps, leave=False, disable=None
    )
    for step in bar:
        inputs, targets = sample_batch(generator)
        loss = F.mse_loss(model(inputs.to(device)), targets.to(device))
        guard.check(loss, step)  # a diverged run stops with common.cli.Diverged
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            val = model_psnr(model, val_inputs, val_targets, device)
            history.append({"step": step + 1, "loss": loss.item(), "val_psnr": val})
            append_log(ckpt_path.parent, history[-1], f"log_{ckpt_path.stem}.csv")
            if progress.improves(val):
                progress.keep_best(model, val, step + 1)
            progress.step, progress.extra["train_seconds"] = step + 1, time.time() - t0
            save_progress(ckpt_path, progress, model, optimizer, scheduler, generators)
            bar.set_postfix(loss=f"{loss.item():.2e}", val_psnr=f"{val:.2f}")
    model.load_state_dict(progress.best_model)
    return {
        "best_val_psnr": progress.best_score,
        "best_step": progress.best_step,
        "history": history,
        "train_seconds": progress.extra["train_seconds"],
    }


def noisy_versions(images: list[torch.Tensor], sigmas: list[float], seed: int) -> dict[float, list[torch.Tensor]]:
    """The same noisy version of each image at each ``sigma`` for every model (seeded, not clipped)."""
    generator = torch.Generator().manual_seed(seed)
    return {s: [add_noise(im, s, generator) for im in images] for s in sigmas}


def patch_sampler(train: list[torch.Tensor], args: argparse.Namespace) -> Batch:
    """Noisy/clean patch pairs; each patch's sigma is uniform in ``--train-sigma``."""
    low, high = args.train_sigma

    def sample_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        (clean,) = random_patches(train, args.batch_size, args.patch_size, generator)
        sigma = low + (high - low) * torch.rand(len(clean), 1, 1, 1, generator=generator)
        return clean + sigma * torch.randn(clean.shape, generator=generator), clean

    return sample_batch


def markdown_table(header: str, columns: list[str], rows: dict[str, list[float]]) -> str:
    lines = [f"| {header} | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in values) + " |" for name, values in rows.items()]
    return "\n".join(lines) + "\n"


def write_outputs(
    run_dir: Path,
    metrics: dict,
    models: dict,
    test_noisy: dict,
    clean: torch.Tensor,
    sigmas: list[float],
    device: torch.device,
) -> str:
    """metrics.json, table.md, one test image through every model, the validation curves; returns the table."""
    save_json(run_dir / "metrics.json", metrics)
    rows = {"noisy input": [metrics["noisy_psnr"][str(s)] for s in sigmas]}
    rows.update(
        {
            f"{r['channels']} channels, {'with' if r['bias'] else 'no'} bias": [r["test_psnr"][str(s)] for s in sigmas]
            for r in metrics["models"]
        }
    )
    table = markdown_table("model", [f"sigma={s}" for s in sigmas], rows)
    save_text(run_dir / "table.md", table)

    grid = []
    for s in sigmas:
        noisy = test_noisy[s][0]
        row = [(clean, "clean"), (noisy.clamp(0, 1), f"noisy {mean_psnr([noisy], [clean]):.2f} dB")]
        for name, model in models.items():
            out = restore(model, noisy, device)
            row.append((out, f"{name} {mean_psnr([out], [clean]):.2f} dB"))
        grid.append(row)
    show_grid(grid, [f"sigma={s}" for s in sigmas], run_dir / "denoising_examples.png")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in metrics["models"]:
        ax.plot([h["step"] for h in r["history"]], [h["val_psnr"] for h in r["history"]], marker=".", label=r["model"])
    ax.set(xlabel="training step", ylabel="validation PSNR (dB)", title="denoiser training")
    ax.legend()
    save_plot(fig, run_dir / "validation_curves.png")
    return table


def train_variants(
    args: argparse.Namespace, device: torch.device, run_dir: Path, sample_batch: Batch, val: tuple, test: tuple
) -> tuple[list[dict], dict]:
    """Every width with and without biases, each from the same seed, scored on the ``test`` images
    (``(noisy versions per sigma, clean)``); returns their records and the trained models."""
    test_noisy, test_clean = test
    results, models = [], {}
    for channels in args.channels:
        for bias in (True, False):
            name = f"{channels}ch_{'bias' if bias else 'nobias'}"
            seed_everything(args.seed)
            model = ResidualDenoiser(channels, args.depth, bias).to(device)
            info = train_image_net(model, sample_batch, val, args, run_dir / f"{name}.pt", device, desc=f"train {name}")
            test_psnr = {str(s): model_psnr(model, test_noisy[s], test_clean, device) for s in args.test_sigmas}
            parameters = sum(p.numel() for p in model.parameters())
            results.append(
                {"model": name, "channels": channels, "bias": bias, "parameters": parameters, "test_psnr": test_psnr}
                | info
            )
            models[name] = model
            print(
                f"{name}: validation PSNR {info['best_val_psnr']:.2f} dB (step {info['best_step']}), test PSNR "
                + ", ".join(f"sigma={s}: {v:.2f}" for s, v in test_psnr.items())
            )
    return results, models


def run(args: argparse.Namespace, device: torch.device) -> str:
    """The ``ablation`` command; returns its last line (run folder and headline numbers)."""
    splits = load_image_splits(args)
    low, high = args.train_sigma
    val_sigmas = [s for s in args.test_sigmas if low <= s <= high] or [high]
    val_noisy = noisy_versions(splits.val, val_sigmas, args.seed + 1)
    val = [x for s in val_sigmas for x in val_noisy[s]], splits.val * len(val_sigmas)
    test_noisy = noisy_versions(splits.test, args.test_sigmas, args.seed + 2)
    sample_batch = patch_sampler(splits.train, args)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    with open_run(args, FIXED_ON_RESUME, dataset=splits.source, device=str(device), started=started) as run_dir:
        results, models = train_variants(args, device, run_dir, sample_batch, val, (test_noisy, splits.test))
        noisy_psnr = {str(s): mean_psnr(test_noisy[s], splits.test) for s in args.test_sigmas}
        chosen = max(results, key=lambda r: r["best_val_psnr"])
        metrics = {
            "noisy_psnr": noisy_psnr,
            "models": results,
            "chosen_on_validation": chosen["model"],
            "validation_sigmas": val_sigmas,
            "train_sigma": args.train_sigma,
        }
        print(write_outputs(run_dir, metrics, models, test_noisy, splits.test[0], args.test_sigmas, device), end="")
    return f"{run_dir}: chosen on validation: {chosen['model']}, test PSNR " + ", ".join(
        f"sigma={s}: {v:.2f} dB (noisy {noisy_psnr[s]:.2f})" for s, v in chosen["test_psnr"].items()
    )
