"""Random training patches from DRIVE and the four augmentation strategies compared in ``segment --study augment``.

All functions work on batches ``(B, 1, P, P)``: ``x`` the pre-processed image
(standardised inside the field of view), ``y`` the 0/1 vessel mask, and draw their
randomness from a ``torch.Generator`` so runs repeat with ``--seed``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "affine", "intensity")
AUGMENTATION_HELP = {
    "none": "patches as cropped",
    "flip": "random horizontal/vertical flips and 90-degree rotations (the retina has no preferred orientation)",
    "affine": (
        "flip, plus a random rotation in [-180, 180] degrees and scaling in [0.8, 1.2] (bilinear, reflected borders)"
    ),
    "intensity": "flip, plus random contrast x[0.7, 1.3], brightness +-0.3 std and Gaussian noise (std 0.1)",
}


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def sample_patches(
    images: torch.Tensor, masks: torch.Tensor, size: int, batch: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` random ``size x size`` crops from random images:
    ``(N, 1, H, W)`` x2 -> ``(batch, 1, size, size)`` x2."""
    if images.shape != masks.shape or images.ndim != 4:
        raise ValueError(
            f"images and masks must both be (N, 1, H, W), got {tuple(images.shape)} and {tuple(masks.shape)}"
        )
    n, _, height, width = images.shape
    if size > min(height, width):
        raise ValueError(f"patch size {size} exceeds the image size {height}x{width}")
    idx = torch.randint(n, (batch,), generator=generator).tolist()
    tops = torch.randint(height - size + 1, (batch,), generator=generator).tolist()
    lefts = torch.randint(width - size + 1, (batch,), generator=generator).tolist()
    x = torch.stack([images[i, :, t : t + size, left : left + size] for i, t, left in zip(idx, tops, lefts)])
    y = torch.stack([masks[i, :, t : t + size, left : left + size] for i, t, left in zip(idx, tops, lefts)])
    return x, y


def _flip_rot90(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    flips = torch.randint(2, (len(x), 2), generator=generator).tolist()
    turns = torch.randint(4, (len(x),), generator=generator).tolist()
    xs, ys = [], []
    for xi, yi, (fh, fv), k in zip(x, y, flips, turns):
        dims = [d for d, f in ((-1, fh), (-2, fv)) if f]
        if dims:
            xi, yi = xi.flip(dims), yi.flip(dims)
        xs.append(torch.rot90(xi, k, (-2, -1)))
        ys.append(torch.rot90(yi, k, (-2, -1)))
    return torch.stack(xs), torch.stack(ys)


def _rotate_scale(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(x)
    angle = _uniform(n, -math.pi, math.pi, generator)
    scale = _uniform(n, 0.8, 1.2, generator)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(n)], 1), torch.stack([sin, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    y = F.grid_sample(y, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return x, (y > 0.5).to(y.dtype)


def _jitter_intensity(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n = len(x)
    contrast = _uniform(n, 0.7, 1.3, generator).view(n, 1, 1, 1)
    brightness = _uniform(n, -0.3, 0.3, generator).view(n, 1, 1, 1)
    noise = 0.1 * torch.randn(x.shape, generator=generator)
    return x * contrast + brightness + noise


def augment(
    x: torch.Tensor, y: torch.Tensor, strategy: str, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one of :data:`AUGMENTATIONS` to a batch of patches ``(B, 1, P, P)``; the mask stays 0/1."""
    if strategy not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {strategy!r}; choose one of {AUGMENTATIONS}")
    if strategy == "none":
        return x, y
    x, y = _flip_rot90(x, y, generator)
    if strategy == "affine":
        x, y = _rotate_scale(x, y, generator)
    elif strategy == "intensity":
        x = _jitter_intensity(x, generator)
    return x, y
