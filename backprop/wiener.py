"""Task 3: blur kernels, the optical transfer function and Wiener deconvolution.

All blurring here is *circular* convolution, done in the Fourier domain: the blurred
image is ``ifft2(fft2(x) * psf2otf(kernel, x.shape))``. Wiener deconvolution inverts
exactly this model, so the only things it cannot undo are the noise and the
frequencies the kernel wipes out.
"""

from __future__ import annotations

import math

import torch


def _check_kernel(kernel: torch.Tensor) -> None:
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (kh, kw), got shape {tuple(kernel.shape)}")


def psf2otf(kernel: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Optical transfer function of a point-spread function, like MATLAB's ``psf2otf``.

    The ``(kh, kw)`` kernel is zero-padded to ``shape = (H, W)`` and rolled so that its
    centre ``(kh // 2, kw // 2)`` lands on pixel ``(0, 0)``; the 2-D FFT of that is the
    OTF, a complex ``(H, W)`` tensor. Multiplying an image's spectrum by it is circular
    convolution with the kernel centred on each pixel.
    """
    _check_kernel(kernel)
    height, width = shape
    kh, kw = kernel.shape
    if kh > height or kw > width:
        raise ValueError(f"kernel {tuple(kernel.shape)} is larger than the image {tuple(shape)}")
    padded = kernel.new_zeros(height, width)
    padded[:kh, :kw] = kernel
    padded = torch.roll(padded, shifts=(-(kh // 2), -(kw // 2)), dims=(0, 1))
    return torch.fft.fft2(padded)


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Circular convolution of ``x`` (``(..., H, W)``) with ``kernel`` (``(kh, kw)``); same shape out."""
    otf = psf2otf(kernel.to(x.dtype), tuple(x.shape[-2:]))
    return torch.fft.ifft2(torch.fft.fft2(x) * otf).real


def wiener_deconv(x: torch.Tensor, kernel: torch.Tensor, snr: float) -> torch.Tensor:
    """Wiener deconvolution of a blurred, noisy image ``x`` (``(..., H, W)``).

    ``X_hat = conj(K) Y / (|K|^2 + 1 / snr)`` with ``K`` the kernel's OTF and ``snr``
    the ratio of signal power to noise power (a positive scalar; large means "trust
    the data", small means "smooth more").
    """
    if snr <= 0:
        raise ValueError(f"snr must be positive, got {snr}")
    otf = psf2otf(kernel.to(x.dtype), tuple(x.shape[-2:]))
    filt = otf.conj() / (otf.abs() ** 2 + 1.0 / snr)
    return torch.fft.ifft2(torch.fft.fft2(x) * filt).real


def gaussian_kernel(size: int, std: float) -> torch.Tensor:
    """Isotropic Gaussian ``(size, size)`` kernel that sums to 1."""
    if size < 1 or size % 2 == 0 or std <= 0:
        raise ValueError(f"need an odd size >= 1 and std > 0, got size={size}, std={std}")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(r**2) / (2 * std**2))
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def motion_kernel(size: int, length: float, angle_deg: float) -> torch.Tensor:
    """Straight-line motion blur of ``length`` pixels at ``angle_deg``, in a ``(size, size)`` kernel summing to 1.

    The segment is sampled at the midpoints of 8 equal pieces per pixel of length and
    every sample adds to its nearest pixel, so a horizontal line of length ``L`` gives
    ``L`` equal taps.
    """
    if size < 1 or size % 2 == 0 or not 0 < length <= size:
        raise ValueError(f"need an odd size and 0 < length <= size, got size={size}, length={length}")
    k = torch.zeros(size, size, dtype=torch.float64)
    c = size // 2
    theta = math.radians(angle_deg)
    n = max(1, round(8 * length))
    for i in range(n):
        t = -length / 2 + (i + 0.5) * length / n
        row, col = round(c - t * math.sin(theta)), round(c + t * math.cos(theta))
        k[min(max(row, 0), size - 1), min(max(col, 0), size - 1)] += 1
    return (k / k.sum()).float()


def make_kernel(name: str, size: int) -> torch.Tensor:
    """The kernels the ``wiener`` command offers: ``"gaussian"`` (std = size / 6)
    or ``"motion"`` (full length, 30 degrees)."""
    if name == "gaussian":
        return gaussian_kernel(size, size / 6)
    if name == "motion":
        return motion_kernel(size, float(size), 30.0)
    raise ValueError(f"unknown kernel {name!r}; choose 'gaussian' or 'motion'")
