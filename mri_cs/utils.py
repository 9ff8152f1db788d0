"""Helpers for train.py, sweep.py and the report: k-space to image, evaluation, mask statistics, figures."""

from __future__ import annotations

from pathlib import Path

# No matplotlib.use() here: a notebook importing this module keeps its inline backend, and
# matplotlib picks the headless Agg backend by itself when there is no display.
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, SequentialSampler
from tqdm import tqdm

from common.metrics import batch_psnr, batch_ssim, volume_psnr
from common.runs import save_figure
from mri_cs.data.slices import dataset_volumes
from mri_cs.data.transforms import complex_abs, ifft2


def stack_slices(dataset, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kspace (N, H, W, 2), target (N, 1, H, W))`` of the given slices of ``dataset``."""
    pairs = [dataset[i] for i in indices]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def freq_to_image(kspace: torch.Tensor) -> torch.Tensor:
    """Magnitude image ``(..., H, W)`` of a centred k-space ``(..., H, W, 2)`` (the course's ``freq.to_image``)."""
    return complex_abs(ifft2(kspace))


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: DataLoader, device: torch.device, with_ssim: bool = False, desc: str = "eval"
) -> dict[str, np.ndarray]:
    """Per-image PSNR (and SSIM) of the model and of the zero-filled input over ``loader``.

    Returns arrays of shape ``(N,)`` under ``psnr``, ``zero_filled_psnr`` (and ``ssim``, ``zero_filled_ssim``),
    and, where the dataset names each slice's volume (``data.slices.dataset_volumes``), fastMRI's per-volume
    PSNR ``(V,)`` under ``psnr_volume`` and ``zero_filled_psnr_volume``. The zero-filled image uses the
    model's own (current) mask.
    """
    model.eval()
    out: dict[str, list[torch.Tensor]] = {"psnr": [], "zero_filled_psnr": []}
    if with_ssim:
        out.update(ssim=[], zero_filled_ssim=[])
    raw: dict[str, list[torch.Tensor]] = {"mse": [], "zero_filled_mse": [], "peak": []}
    for kspace, target in tqdm(loader, desc=desc, leave=False, disable=None):  # bars only on a terminal
        kspace = kspace.to(device)
        recon, zero_filled = model(kspace).cpu(), model.subsample(kspace).cpu()
        out["psnr"].append(batch_psnr(recon, target))
        out["zero_filled_psnr"].append(batch_psnr(zero_filled, target))
        if with_ssim:
            out["ssim"].append(batch_ssim(recon, target))
            out["zero_filled_ssim"].append(batch_ssim(zero_filled, target))
        for key, image in (("mse", recon), ("zero_filled_mse", zero_filled)):
            raw[key].append((image.double() - target.double()).pow(2).flatten(1).mean(1))
        raw["peak"].append(target.flatten(1).amax(1))
    result = {k: torch.cat(v).numpy() for k, v in out.items()}
    volumes = dataset_volumes(loader.dataset) if isinstance(loader.sampler, SequentialSampler) else None  # in order
    if volumes is not None:
        peak = torch.cat(raw["peak"])
        for key in ("", "zero_filled_"):
            result[f"{key}psnr_volume"] = volume_psnr(torch.cat(raw[f"{key}mse"]), peak, volumes).numpy()
    return result


@torch.no_grad()
def example_images(
    model: nn.Module, dataset, device: torch.device, n: int = 3
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[list[float], list[float]]]:
    """``n`` slices spread over ``dataset``: ``(target, zero-filled, reconstruction)`` arrays ``(n, H, W)`` and
    ``(zero-filled PSNRs, reconstruction PSNRs)``, for :func:`save_examples_figure`."""
    idx = np.linspace(0, len(dataset) - 1, n).astype(int)
    kspace = torch.stack([dataset[int(i)][0] for i in idx]).to(device)
    target = torch.stack([dataset[int(i)][1] for i in idx])
    model.eval()
    recon, zero_filled = model(kspace).cpu(), model.subsample(kspace).cpu()
    psnrs = (batch_psnr(zero_filled, target).tolist(), batch_psnr(recon, target).tolist())
    return tuple(x[:, 0].numpy() for x in (target, zero_filled, recon)), psnrs


def summarize(values: np.ndarray) -> dict[str, float]:
    """``{"mean": ..., "std": ...}`` of per-image values (population std)."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def center_keep_fraction(mask: np.ndarray, area: float = 0.1) -> float:
    """Fraction of k-space positions kept inside the central disc that covers ``area`` of k-space.

    A uniform random mask gives about its keep fraction; a mask concentrated on the centre gives 1.
    """
    h, w = mask.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h // 2, xx - w // 2)
    inside = r <= np.sqrt(area * h * w / np.pi)
    return float(mask[inside].mean())


def radial_keep_profile(mask: np.ndarray, bins: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of positions kept against distance from the k-space centre (normalised to 1 at the edge midpoint)."""
    h, w = mask.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h // 2) / (h / 2), (xx - w // 2) / (w / 2)).ravel()
    edges = np.linspace(0, np.sqrt(2), bins + 1)
    which = np.clip(np.digitize(r, edges) - 1, 0, bins - 1)
    kept = np.bincount(which, weights=mask.ravel(), minlength=bins) / np.maximum(np.bincount(which, minlength=bins), 1)
    return (edges[:-1] + edges[1:]) / 2, kept


def save_mask_figure(mask: np.ndarray, path: Path, title: str) -> None:
    """The binary mask and its radial keep profile."""
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 4))
    ax0.imshow(mask, cmap="gray", vmin=0, vmax=1)
    ax0.set_title(title)
    ax0.axis("off")
    radius, kept = radial_keep_profile(mask)
    ax1.plot(radius, kept, marker="o")
    ax1.axhline(mask.mean(), color="gray", ls="--", label=f"overall keep fraction {mask.mean():.2f}")
    ax1.set(xlabel="distance from k-space centre (1 = edge)", ylabel="fraction kept", ylim=(-0.02, 1.02))
    ax1.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def save_examples_figure(
    target: np.ndarray, zero_filled: np.ndarray, recon: np.ndarray, path: Path, psnrs: tuple[list[float], list[float]]
) -> None:
    """Rows of (target, zero-filled, reconstruction, |error| x 5) for images ``(N, H, W)``;
    ``psnrs = (zero-filled PSNRs, reconstruction PSNRs)``."""
    n = len(target)
    fig, axes = plt.subplots(n, 4, figsize=(12, 3 * n), squeeze=False)
    for i in range(n):
        panels = [
            (target[i], "target"),
            (zero_filled[i], f"zero-filled {psnrs[0][i]:.1f} dB"),
            (recon[i], f"reconstruction {psnrs[1][i]:.1f} dB"),
            (np.clip(5 * np.abs(recon[i] - target[i]), 0, 1), "|error| x 5"),
        ]
        for ax, (image, title) in zip(axes[i], panels):
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(title)
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def save_curves_figure(history: list[dict], path: Path) -> None:
    """Training loss and validation PSNR against epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    losses = [h["train_loss"] for h in history]
    ax0.plot(epochs, losses, marker="o")
    ax0.set(xlabel="epoch", ylabel="train loss", yscale="log" if min(losses) > 0 else "linear")
    ax1.plot(epochs, [h["val_psnr"] for h in history], marker="o", label="reconstruction")
    ax1.plot(epochs, [h["val_zero_filled_psnr"] for h in history], ls="--", label="zero-filled")
    ax1.set(xlabel="epoch", ylabel="validation PSNR (dB)")
    ax1.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)
