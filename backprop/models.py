"""Tasks 2 and 3: a small residual CNN that removes noise (and, in task 3, blur) from grey images."""

from __future__ import annotations

import torch
from torch import nn


class ResidualDenoiser(nn.Module):
    """``output = x - body(x)``: the body, ``depth`` 3x3 convolutions with ReLUs between them
    and no batch norm, predicts what to remove from ``x``.

    ``bias=False`` removes every additive constant, so the network is positively
    homogeneous: ``f(a * x) = a * f(x)`` for ``a > 0``, a property that helps it
    generalise to noise levels it never saw (Mohan et al., 2020).
    Input and output are ``(B, 1, H, W)`` with any ``H, W``.
    """

    def __init__(self, channels: int = 64, depth: int = 5, bias: bool = True) -> None:
        super().__init__()
        if depth < 2 or channels < 1:
            raise ValueError(f"need depth >= 2 and channels >= 1, got depth={depth}, channels={channels}")
        layers: list[nn.Module] = [nn.Conv2d(1, channels, 3, padding=1, bias=bias), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=bias), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(channels, 1, 3, padding=1, bias=bias))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoised ``x - body(x)``, ``(B, 1, H, W)`` in and out."""
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W), got {tuple(x.shape)}")
        return x - self.body(x)
