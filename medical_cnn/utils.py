"""2-D cross-correlation (a naive reference and a fast vectorised version) and Dice losses.

Convolution convention (as in CNN layers and ``scipy.signal.correlate2d``):
the kernel is *not* flipped, the image is zero-padded, and the output has the
image's size. For a ``(kh, kw)`` kernel the output pixel ``(y, x)`` is
``sum_{i,j} kernel[i, j] * image[y + i - (kh - 1) // 2, x + j - (kw - 1) // 2]``,
which is what ``correlate2d(image, kernel, mode="same")`` returns for odd and
even kernel sizes alike.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn


def _as_2d_arrays(image, kernel) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=np.float64)
    ker = np.asarray(kernel.detach().cpu() if isinstance(kernel, torch.Tensor) else kernel, dtype=np.float64)
    if img.ndim != 2 or ker.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got shapes {img.shape} and {ker.shape}")
    if 0 in img.shape or 0 in ker.shape:
        raise ValueError(f"image and kernel must be non-empty, got shapes {img.shape} and {ker.shape}")
    return img, ker


def _zero_pad(img: np.ndarray, kh: int, kw: int) -> np.ndarray:
    # BEGIN SOLUTION
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return np.pad(img, ((top, kh - 1 - top), (left, kw - 1 - left)))
    # END SOLUTION


def _like_input(out: np.ndarray, image):
    """Return a tensor (same dtype and device) when the caller passed one, else the array."""
    if isinstance(image, torch.Tensor):
        dtype = image.dtype if image.is_floating_point() else torch.float64
        return torch.from_numpy(out).to(device=image.device, dtype=dtype)
    return out


def naive_2d_convolution(image, kernel):
    """Reference cross-correlation with explicit loops over output pixels: ``(H, W), (kh, kw) -> (H, W)``.

    One small window product per pixel, so it is slow (Python overhead per pixel);
    it exists to check :func:`discrete_2d_convolution` and to time against it.
    """
    # BEGIN SOLUTION
    img, ker = _as_2d_arrays(image, kernel)
    kh, kw = ker.shape
    padded = _zero_pad(img, kh, kw)
    out = np.zeros_like(img)
    for y in range(img.shape[0]):
        for x in range(img.shape[1]):
            out[y, x] = np.sum(padded[y : y + kh, x : x + kw] * ker)
    return _like_input(out, image)
    # END SOLUTION


def discrete_2d_convolution(image, kernel):
    """Zero-padded 2-D cross-correlation (no kernel flip), output the size of the input.

    ``image`` ``(H, W)`` and ``kernel`` ``(kh, kw)`` are NumPy arrays or torch tensors;
    the result is float64 NumPy, or a tensor on the image's device when a tensor was given.

    Vectorised over pixels: for each of the ``kh`` kernel rows, a strided view of every
    ``kw``-wide window of the shifted image (no copy) is multiplied by that kernel row as
    one matrix-vector product. That is ``kh`` NumPy calls instead of ``H * W`` Python
    iterations, and the inner products run in compiled code.
    """
    # BEGIN SOLUTION
    img, ker = _as_2d_arrays(image, kernel)
    height, (kh, kw) = img.shape[0], ker.shape
    padded = _zero_pad(img, kh, kw)
    out = np.zeros_like(img)
    for i in range(kh):
        windows = sliding_window_view(padded[i : i + height], kw, axis=1)  # (H, W, kw), a view
        out += windows @ ker[i]
    return _like_input(out, image)
    # END SOLUTION


def _check_pair(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.shape != targets.shape:
        raise ValueError(
            f"logits and targets must have the same shape, got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )


class DiceLoss(nn.Module):
    """Soft Dice loss over the whole batch: ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)``, ``p = sigmoid(logits)``.

    ``logits`` and ``targets`` (0/1 masks) share any shape, e.g. ``(B, 1, H, W)``;
    the sums run over every element, so the result is one scalar.
    """

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
        # BEGIN SOLUTION
        _check_pair(logits, targets)
        probs = torch.sigmoid(logits)
        targets = targets.to(probs.dtype)
        intersection = (probs * targets).sum()
        return 1.0 - (2.0 * intersection + smooth) / (probs.sum() + targets.sum() + smooth)
        # END SOLUTION


class DiceCELoss(nn.Module):
    """``0.5 * DiceLoss + 0.5 * binary cross-entropy`` (on logits, mean over elements).

    Cross-entropy gives every pixel a gradient from the first step; Dice balances the
    rare foreground (vessels are about 12 % of a retina image) against the background.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dice = DiceLoss()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
        # BEGIN SOLUTION
        _check_pair(logits, targets)
        bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))
        return 0.5 * self.dice(logits, targets, smooth) + 0.5 * bce
        # END SOLUTION
