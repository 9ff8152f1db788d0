"""Classical compressed sensing: complex total variation and L1-wavelet reconstruction, no training.

Both solve ``min_x 1/2 ||M F x - y||^2 + lambda R(x)`` for the complex image ``x``, with ``F`` the centred
orthonormal 2-D FFT (``data/transforms.py``, deepinv's ``physics.MRI`` and BART's ``fft -u``) and ``M`` the mask:

* ``tv``: ``R`` the isotropic total variation of the complex image (forward differences, the gradient's two
  directions and the real and imaginary parts under one norm), solved by Chambolle-Pock's primal-dual method,
  whose data step is exact in k-space: ``prox(v) = F^H (F v + tau M y) / (1 + tau M)``; a large primal step
  (``TV_TAU``) converges within a few hundred iterations at the weights images scaled to 1 need.
* ``wavelet``: ``R`` the L1 norm of the orthonormal Daubechies-4 wavelet coefficients (PyWavelets,
  periodised, 4 levels; the coarse band unpenalised), solved by FISTA with step 1
  (``||M F|| = 1``).

No learning: the only choice is ``lambda``, made on validation slices (:func:`choose_lambda`).
:func:`convergence` records that a solver has converged: the PSNR change when the iterations are doubled.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch

from common.metrics import batch_psnr

LAMBDAS = tuple(1e-4 * 2.0**i for i in range(12))  # a factor-2 grid, 1e-4 ... 0.2; images have a maximum of 1
ITERATIONS = {"tv": 600, "wavelet": 300}
WAVELET, LEVELS = "db4", 4
TV_TAU = 3.0  # primal step; the dual step follows. Large, because images are O(1) and the dual variable O(lambda)


def _fft(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def _ifft(k: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def _grad(x: np.ndarray) -> np.ndarray:
    """Forward differences ``(2, B, H, W)`` with zero at the last row/column (Neumann)."""
    g = np.zeros((2, *x.shape), dtype=x.dtype)
    g[0, :, :-1] = x[:, 1:] - x[:, :-1]
    g[1, :, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return g


def _grad_adjoint(g: np.ndarray) -> np.ndarray:
    """The adjoint of :func:`_grad` (minus the divergence)."""
    d = np.zeros(g.shape[1:], dtype=g.dtype)
    d[:, :-1] -= g[0, :, :-1]
    d[:, 1:] += g[0, :, :-1]
    d[:, :, :-1] -= g[1, :, :, :-1]
    d[:, :, 1:] += g[1, :, :, :-1]
    return d


def tv_solve(y: np.ndarray, mask: np.ndarray, lam: float, iterations: int) -> np.ndarray:
    """Complex TV reconstruction ``(B, H, W)`` of measured k-space ``y (B, H, W)`` (zero where not measured)."""
    tau = TV_TAU
    sigma = 0.99 / (8.0 * tau)  # tau * sigma * ||grad||^2 < 1
    x = _ifft(y)
    x_bar, p = x.copy(), np.zeros((2, *x.shape), dtype=x.dtype)
    for _ in range(iterations):
        p += sigma * _grad(x_bar)
        p /= np.maximum(1.0, np.sqrt((np.abs(p) ** 2).sum(0)) / lam)[None]  # onto the lambda-ball, per pixel
        x_new = _ifft((_fft(x - tau * _grad_adjoint(p)) + tau * mask * y) / (1.0 + tau * mask))
        x_bar, x = 2 * x_new - x, x_new
    return x


def wavelet_solve(y: np.ndarray, mask: np.ndarray, lam: float, iterations: int) -> np.ndarray:
    """L1-wavelet reconstruction ``(B, H, W)`` of measured k-space ``y (B, H, W)`` by FISTA."""
    import pywt

    def shrink(v: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():  # small images: deep levels see the boundary, the transform stays orthonormal
            warnings.simplefilter("ignore", UserWarning)
            coeffs = pywt.wavedec2(v, WAVELET, mode="periodization", level=LEVELS, axes=(-2, -1))
        arr, slices = pywt.coeffs_to_array(coeffs, axes=(-2, -1))
        coarse = arr[(...,) + slices[0]].copy()
        arr = arr * np.maximum(0.0, 1.0 - lam / np.maximum(np.abs(arr), 1e-12))  # complex soft threshold
        arr[(...,) + slices[0]] = coarse
        tree = pywt.array_to_coeffs(arr, slices, output_format="wavedec2")
        return pywt.waverec2(tree, WAVELET, mode="periodization", axes=(-2, -1))

    x = z = _ifft(y)
    t = 1.0
    for _ in range(iterations):
        x_new = shrink(z - _ifft(mask * _fft(z) - y))
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z, x, t = x_new + (t - 1) / t_new * (x_new - x), x_new, t_new
    return x


SOLVERS = {"tv": tv_solve, "wavelet": wavelet_solve}
METHODS = tuple(SOLVERS)


def reconstruct(
    method: str, kspace: torch.Tensor, mask: torch.Tensor, lam: float, iterations: int | None = None
) -> torch.Tensor:
    """Magnitude ``(B, 1, H, W)`` by ``method`` from the samples ``mask (H, W)`` keeps of ``kspace (B, H, W, 2)``.

    Only the masked samples of ``kspace`` enter: they are the measurement ``y``.
    """
    if method not in SOLVERS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if kspace.ndim != 4 or kspace.shape[-1] != 2 or tuple(mask.shape) != tuple(kspace.shape[1:3]):
        raise ValueError(
            f"expected kspace (B, H, W, 2) and mask (H, W), got {tuple(kspace.shape)} and {tuple(mask.shape)}"
        )
    m = mask.detach().cpu().double().numpy()
    k = kspace.detach().cpu().double().numpy()
    y = (k[..., 0] + 1j * k[..., 1]) * m
    x = SOLVERS[method](y, m, lam, iterations or ITERATIONS[method])
    return torch.from_numpy(np.abs(x)).float().unsqueeze(1)


def tv_reconstruct(kspace: torch.Tensor, mask: torch.Tensor, lam: float, iterations: int | None = None):
    """:func:`reconstruct` with complex total variation."""
    return reconstruct("tv", kspace, mask, lam, iterations)


def mean_psnr(recon: torch.Tensor, target: torch.Tensor) -> float:
    return float(batch_psnr(recon, target).mean())


def choose_lambda(
    method: str, kspace: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, lambdas: Sequence[float] = LAMBDAS
) -> tuple[float, dict[str, float]]:
    """The ``lambda`` with the best mean PSNR on validation slices ``kspace (B, H, W, 2)``, ``target (B, 1, H, W)``;
    returns it and the mean PSNR of every ``lambda`` tried (keys ``f"{lambda:g}"``). A grid without a positive
    value is a ``ValueError``."""
    lambdas = [float(v) for v in lambdas if v > 0]
    if not lambdas:
        raise ValueError("the lambda grid holds no positive value")
    tried = {f"{lam:g}": mean_psnr(reconstruct(method, kspace, mask, lam), target) for lam in lambdas}
    best = max(tried, key=tried.get)
    return float(best), tried


def convergence(method: str, kspace: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, lam: float) -> dict:
    """The iteration check: mean PSNR after the method's iterations and after twice as many, and their difference
    (dB); a converged solver changes by a few thousandths of a dB at most."""
    n = ITERATIONS[method]
    at_n, at_2n = (mean_psnr(reconstruct(method, kspace, mask, lam, i), target) for i in (n, 2 * n))
    return {"iterations": n, "psnr": at_n, "psnr_doubled": at_2n, "change_db": at_2n - at_n}


def subset(n: int, k: int) -> list[int]:
    """``k`` slice indices spread evenly over ``n`` (all of them when ``k >= n``): the recorded CS subset."""
    return list(range(n)) if k >= n else np.linspace(0, n - 1, k).round().astype(int).tolist()
