"""Image-quality and classification metrics shared by every assignment.

All functions accept ``torch.Tensor`` or ``numpy.ndarray`` inputs and compute in
float64, so results agree with the scikit-image / scikit-learn references to
within floating-point noise.

Data-range convention (PSNR and SSIM)
-------------------------------------
``data_range`` is the distance between the smallest and largest value the
*target* image can take. Pass it explicitly when it is known (``1.0`` for images
in ``[0, 1]``). When it is ``None`` it is taken per image as
``target.max() - target.min()``, which suits images of arbitrary scale such as
normalised MRI magnitudes; a constant target falls back to ``1.0`` so the value
stays defined.

Single-image functions return a Python ``float``; ``batch_*`` functions take a
leading batch dimension and return a float64 tensor of per-image values, so the
caller can report mean and standard deviation.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

ArrayLike = torch.Tensor | np.ndarray


def _as_float64(x: ArrayLike) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = np.ascontiguousarray(x)
    return torch.as_tensor(x).detach().to("cpu", torch.float64)


def _check_same_shape(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")


def _data_range(target: torch.Tensor, data_range: float | None) -> float:
    if data_range is not None:
        if data_range <= 0:
            raise ValueError(f"data_range must be positive, got {data_range}")
        return float(data_range)
    span = float(target.max() - target.min())
    return span if span > 0 else 1.0


# --------------------------------------------------------------------------- PSNR
def psnr(pred: ArrayLike, target: ArrayLike, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB of one image (any shape).

    ``10 * log10(data_range**2 / mean((pred - target)**2))``. Identical images give
    ``inf`` (as scikit-image does), never NaN.
    """
    p, t = _as_float64(pred), _as_float64(target)
    _check_same_shape(p, t)
    mse = float(torch.mean((p - t) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(_data_range(t, data_range) ** 2 / mse)


def batch_psnr(pred: ArrayLike, target: ArrayLike, data_range: float | None = None) -> torch.Tensor:
    """Per-image PSNR of a batch ``(B, ...)``; returns shape ``(B,)``."""
    p, t = _as_float64(pred), _as_float64(target)
    _check_same_shape(p, t)
    if p.ndim < 2:
        raise ValueError(f"expected a batch (B, ...), got shape {tuple(p.shape)}")
    return torch.tensor([psnr(pi, ti, data_range) for pi, ti in zip(p, t)], dtype=torch.float64)


def volume_psnr(slice_mse: ArrayLike, slice_max: ArrayLike, volumes: ArrayLike) -> torch.Tensor:
    """fastMRI's per-volume PSNR from per-slice values: ``10 * log10(max_v**2 / mse_v)`` per volume ``v``.

    Args:
        slice_mse: mean squared error of every slice, shape ``(N,)`` (slices of one size).
        slice_max: the maximum of every target slice, ``(N,)``; a volume's data range is its largest.
        volumes: the volume id of every slice, ``(N,)``.

    Returns:
        float64 ``(V,)``, one value per volume in increasing id order; ``inf`` for a perfect volume.
    """
    mse, peak, vol = (_as_float64(x).reshape(-1) for x in (slice_mse, slice_max, volumes))
    if not len(mse) == len(peak) == len(vol):
        raise ValueError(f"expected three arrays of one length, got {len(mse)}, {len(peak)} and {len(vol)}")
    out = []
    for v in torch.unique(vol):
        m, top = float(mse[vol == v].mean()), float(peak[vol == v].max())
        out.append(math.inf if m == 0.0 else 10.0 * math.log10((top if top > 0 else 1.0) ** 2 / m))
    return torch.tensor(out, dtype=torch.float64)


# --------------------------------------------------------------------------- SSIM
def _ssim_map_mean(p: torch.Tensor, t: torch.Tensor, data_range: float, win_size: int) -> float:
    """SSIM of ``(C, H, W)`` images with a uniform window, averaged over channels.

    Matches ``skimage.metrics.structural_similarity`` defaults: K1=0.01, K2=0.03,
    sample covariance, and a border of ``win_size // 2`` pixels left out of the mean.
    """
    if min(p.shape[-2:]) < win_size:
        raise ValueError(f"images must be at least {win_size}x{win_size} for SSIM, got {tuple(p.shape[-2:])}")
    x, y = p.unsqueeze(1), t.unsqueeze(1)  # channels as batch: (C, 1, H, W)
    mean = lambda z: F.avg_pool2d(z, win_size, stride=1)  # noqa: E731
    n = win_size * win_size
    cov_norm = n / (n - 1)
    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def ssim(pred: ArrayLike, target: ArrayLike, data_range: float | None = None, win_size: int = 7) -> float:
    """Structural similarity of one image, ``(H, W)`` or ``(C, H, W)`` (mean over channels).

    Identical images give exactly 1.0.
    """
    p, t = _as_float64(pred), _as_float64(target)
    _check_same_shape(p, t)
    if p.ndim == 2:
        p, t = p[None], t[None]
    if p.ndim != 3:
        raise ValueError(f"ssim expects (H, W) or (C, H, W), got shape {tuple(p.shape)}")
    return _ssim_map_mean(p, t, _data_range(t, data_range), win_size)


def batch_ssim(pred: ArrayLike, target: ArrayLike, data_range: float | None = None, win_size: int = 7) -> torch.Tensor:
    """Per-image SSIM of a batch ``(B, H, W)`` or ``(B, C, H, W)``; returns shape ``(B,)``."""
    p, t = _as_float64(pred), _as_float64(target)
    _check_same_shape(p, t)
    if p.ndim not in (3, 4):
        raise ValueError(f"batch_ssim expects (B, H, W) or (B, C, H, W), got shape {tuple(p.shape)}")
    return torch.tensor([ssim(pi, ti, data_range, win_size) for pi, ti in zip(p, t)], dtype=torch.float64)


# --------------------------------------------------------------- segmentation
def _overlap(pred: ArrayLike, target: ArrayLike, per_image: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    p, t = _as_float64(pred) > 0.5, _as_float64(target) > 0.5
    _check_same_shape(p, t)
    dims = tuple(range(1, p.ndim)) if per_image else tuple(range(p.ndim))
    if per_image and p.ndim < 2:
        raise ValueError(f"per_image=True expects a batch (B, ...), got shape {tuple(p.shape)}")
    inter = (p & t).sum(dim=dims).double()
    return inter, p.sum(dim=dims).double(), t.sum(dim=dims).double()


def dice(pred: ArrayLike, target: ArrayLike, per_image: bool = False) -> float | torch.Tensor:
    """Dice coefficient (F1) of binary masks; values above 0.5 count as foreground.

    ``2|P & T| / (|P| + |T|)``. Two empty masks agree perfectly and give 1.0.
    With ``per_image=True`` the first dimension is the batch and a ``(B,)`` tensor is returned.
    """
    inter, sp, st = _overlap(pred, target, per_image)
    denom = sp + st
    value = torch.where(denom > 0, 2 * inter / denom.clamp_min(1), torch.ones_like(denom))
    return value if per_image else float(value)


def iou(pred: ArrayLike, target: ArrayLike, per_image: bool = False) -> float | torch.Tensor:
    """Intersection over union (Jaccard) of binary masks; two empty masks give 1.0."""
    inter, sp, st = _overlap(pred, target, per_image)
    union = sp + st - inter
    value = torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
    return value if per_image else float(value)


# ------------------------------------------------------------- classification
def accuracy(pred: ArrayLike, target: ArrayLike) -> float:
    """Fraction of correct predictions.

    ``pred`` is either class indices ``(N,)`` or scores/logits ``(N, C)`` (arg-max is taken);
    ``target`` holds class indices ``(N,)``. An empty batch gives 0.0.
    """
    p, t = _as_float64(pred), _as_float64(target).reshape(-1)
    if p.ndim == 2:
        p = p.argmax(dim=1).double()
    p = p.reshape(-1)
    _check_same_shape(p, t)
    if p.numel() == 0:
        return 0.0
    return float((p == t).double().mean())
