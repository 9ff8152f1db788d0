"""What the restoration experiments (``inpaint``, ``ablation``, ``wiener``) share to evaluate and show
image-to-image models: crops, running a model on one image, PSNR over a list, the train/validation/test
image splits, and saving a grid of grey images."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from backprop.loaders import ImageSplits, load_natural_images
from common.metrics import psnr
from common.runs import save_figure

# What the patch-trained denoisers (ablation.py, deblur.py) keep fixed on --resume: the run's data and schedule.
PATCH_TRAINING_FIXED = (
    "seed",
    "quick",
    "precision",
    "command",
    "data_dir",
    "test_dir",
    "val_count",
    "val_crop",
    "patch_size",
    "batch_size",
    "steps",
    "lr",
    "eval_every",
    "depth",
)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` part of an ``(..., H, W)`` image (the whole side when it is smaller)."""
    h, w = image.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top : top + size, left : left + size]


@torch.no_grad()
def restore(model: torch.nn.Module, image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Run an image-to-image model on one ``(H, W)`` image; the output is clipped to ``[0, 1]``."""
    was_training = model.training
    model.eval()
    out = model(image[None, None].to(device)).clamp(0, 1)[0, 0].cpu()
    model.train(was_training)
    return out


def mean_psnr(outputs: list[torch.Tensor], targets: list[torch.Tensor]) -> float:
    """Mean PSNR (data range 1) of paired images."""
    return sum(psnr(x, y, data_range=1.0) for x, y in zip(outputs, targets)) / len(targets)


def model_psnr(
    model: torch.nn.Module, inputs: list[torch.Tensor], targets: list[torch.Tensor], device: torch.device
) -> float:
    """Mean PSNR of ``model``'s (clipped) outputs on ``inputs`` against ``targets``."""
    return mean_psnr([restore(model, x, device) for x in inputs], targets)


def load_image_splits(args: argparse.Namespace) -> ImageSplits:
    """Train/validation/test images; validation crops keep model selection cheap, --quick keeps two tiny ones."""
    splits = load_natural_images(args.data_dir, args.test_dir, args.val_count, args.seed, args.patch_size)
    if args.quick:
        splits.val = [center_crop(im, 64) for im in splits.val[:2]]
        splits.test = [center_crop(im, 64) for im in splits.test[:2]]
    else:
        splits.val = [center_crop(im, args.val_crop) for im in splits.val]
    return splits


def show_grid(rows: list[list[tuple[torch.Tensor, str]]], row_labels: list[str], path: Path, dpi: int = 100) -> None:
    """Save a grid of grey images (atomically); ``rows[i][j] = (image, title)``."""
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.4 * n_cols, 2.4 * n_rows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(row):
                image, title = row[j]
                ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_title(title, fontsize=8)
        axes[i][0].text(
            -0.08, 0.5, row_labels[i], transform=axes[i][0].transAxes, rotation=90, ha="right", va="center", fontsize=9
        )
    save_plot(fig, path, dpi)


def save_plot(fig, path: Path, dpi: int = 100) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    save_figure(fig, path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
