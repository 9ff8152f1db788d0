"""Additive Gaussian noise, the one corruption more than one assignment needs
(the denoising autoencoders and the backprop denoisers)."""

from __future__ import annotations

import torch


def add_noise(
    x: torch.Tensor, sigma: float, generator: torch.Generator | None = None, clamp: tuple[float, float] | None = None
) -> torch.Tensor:
    """``x`` plus white Gaussian noise of standard deviation ``sigma``.

    The noise is drawn on ``generator``'s device (CPU by default) so that a seeded run
    draws the same noise on any device.

    Args:
        x: a tensor of any shape, e.g. images ``(B, C, H, W)``.
        sigma: the noise's standard deviation (non-negative; 0 returns ``x`` unchanged up to ``clamp``).
        generator: the random-number generator to draw from (``None``: torch's global one, on the CPU).
        clamp: ``(low, high)`` to clip the result to, e.g. ``(0, 1)`` to keep it a valid image.

    Returns:
        The noisy tensor, of ``x``'s shape, dtype and device.
    """
    if sigma < 0:
        raise ValueError(f"noise sigma must be non-negative, got {sigma}")
    device = generator.device if generator is not None else torch.device("cpu")
    noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
    noisy = x + sigma * noise
    return noisy.clamp(*clamp) if clamp is not None else noisy
