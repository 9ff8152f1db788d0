"""k-space transforms on real tensors that carry a complex number in a last axis of size 2.

A complex image or k-space of size ``H x W`` is stored as ``(..., H, W, 2)``
(real, imaginary), the fastMRI convention. The FFTs are *centred* (the zero
frequency sits in the middle of the array, where it is drawn in the figures) and
*orthonormal* (Parseval holds, so image and k-space have the same energy and
``ifft2(fft2(x)) == x`` without rescaling).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_complex(x: torch.Tensor, name: str = "input") -> None:
    if x.ndim < 3 or x.shape[-1] != 2:
        raise ValueError(f"{name} must have shape (..., H, W, 2), got {tuple(x.shape)}")


def _centred(x: torch.Tensor, transform) -> torch.Tensor:
    """Apply an orthonormal FFT ``transform`` with the zero frequency at the centre of ``(..., H, W, 2)``."""
    z = torch.fft.ifftshift(torch.view_as_complex(x.contiguous()), dim=(-2, -1))
    return torch.view_as_real(torch.fft.fftshift(transform(z, norm="ortho"), dim=(-2, -1)))


def fft2(image: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2-D FFT: complex image ``(..., H, W, 2)`` -> k-space ``(..., H, W, 2)``."""
    _check_complex(image, "image")
    return _centred(image, torch.fft.fft2)


def ifft2(kspace: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2-D inverse FFT: k-space ``(..., H, W, 2)`` -> complex image ``(..., H, W, 2)``."""
    _check_complex(kspace, "kspace")
    return _centred(kspace, torch.fft.ifft2)


def complex_abs(x: torch.Tensor) -> torch.Tensor:
    """Magnitude ``(..., H, W)`` of a complex tensor ``(..., H, W, 2)``."""
    _check_complex(x)
    return torch.sqrt((x**2).sum(dim=-1))


def center_crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Crop the centre ``shape = (h, w)`` out of the last two axes of ``x`` (..., H, W)."""
    h, w = shape
    H, W = x.shape[-2:]
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"cannot crop {(h, w)} out of an image of size {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top : top + h, left : left + w]


def complex_center_crop(x: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """:func:`center_crop` for complex tensors ``(..., H, W, 2)``."""
    _check_complex(x)
    return center_crop(x.movedim(-1, 0), shape).movedim(0, -1)


def pad_to_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad the last two axes of ``x`` (..., H, W) symmetrically to ``size x size``."""
    H, W = x.shape[-2:]
    if H > size or W > size:
        raise ValueError(f"cannot pad an image of size {(H, W)} to {size}x{size}")
    top, left = (size - H) // 2, (size - W) // 2
    return F.pad(x, (left, size - W - left, top, size - H - top))


def resize_complex(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resample a complex image ``(H, W, 2)`` to ``(size, size, 2)``, anti-aliased bilinear
    on real and imaginary parts."""
    _check_complex(x)
    if x.shape[-3:-1] == (size, size):
        return x
    planes = x.permute(2, 0, 1).unsqueeze(0)  # (1, 2, H, W)
    out = F.interpolate(planes, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out[0].permute(1, 2, 0).contiguous()


def square_images(planes: torch.Tensor, resolution: int, pad_to: int | None = None) -> torch.Tensor:
    """Real images ``(N, H, W)`` as normalised complex images ``(N, resolution, resolution, 2)`` (imaginary part zero).

    Each image is zero-padded to a square of side ``pad_to`` (default ``max(H, W)``), resampled
    (anti-aliased bilinear) to ``resolution x resolution`` and scaled to a maximum of 1, as
    :func:`normalize_instance` does. Every image source (the template, an image folder, NIfTI
    volumes) goes through here.
    """
    planes = pad_to_square(planes, pad_to or max(planes.shape[-2:])).unsqueeze(1)  # (N, 1, S, S)
    planes = F.interpolate(planes, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)[
        :, 0
    ]
    planes = planes / planes.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-11)  # per-image max 1
    return torch.stack([planes, torch.zeros_like(planes)], dim=-1)


def normalize_instance(image: torch.Tensor, eps: float = 1e-11) -> torch.Tensor:
    """Scale a complex image ``(..., H, W, 2)`` so that its largest magnitude is 1.

    Only a scale, no shift: a scale commutes with the (linear) FFT, so the k-space
    made from the normalised image stays consistent with its target, which a
    mean subtraction would break.
    """
    return image / (complex_abs(image).max() + eps)
