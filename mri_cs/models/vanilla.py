"""The course's minimal reference model: subsampling, then one 3x3 convolution."""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.models.subsampling import SubsamplingLayer


class VanillaModel(nn.Module):
    """Zero-filled magnitude image followed by a single 3x3 convolution (a learned local filter).

    It can only smooth or sharpen the zero-filled image, so it shows how much a real
    network adds. ``forward``: full k-space ``(B, H, W, 2)`` -> image ``(B, 1, H, W)``.
    """

    def __init__(
        self,
        drop_rate: float,
        device: torch.device | str,
        learn_mask: bool,
        shape: tuple[int, int] = (128, 128),
        mask_seed: int = 0,
    ):
        super().__init__()
        self.subsample = SubsamplingLayer(drop_rate, device, learn_mask, shape, seed=mask_seed)
        self.conv = nn.Conv2d(1, 1, kernel_size=3, padding=1)
        # Start as the identity, i.e. as the zero-filled image: the baseline then measures what one
        # filter can add, not how slowly a random filter trains.
        nn.init.dirac_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, kspace: torch.Tensor) -> torch.Tensor:
        """Filtered zero-filled magnitude ``(B, 1, H, W)`` of full k-space ``(B, H, W, 2)``."""
        return self.conv(self.subsample(kspace))
