"""The dataset interface every source provides: one 2-D slice as (k-space, target)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from mri_cs.data.transforms import complex_abs, fft2


class InMemorySlices(Dataset):
    """Slices held in memory.

    Args:
        kspace: fully sampled centred k-space ``(N, H, W, 2)``.
        image: the matching complex images ``(N, H, W, 2)``; the target is their magnitude.

    ``dataset[i]`` is ``(kspace (H, W, 2), target (1, H, W))``, both float32.
    """

    def __init__(self, kspace: torch.Tensor, image: torch.Tensor):
        if kspace.ndim != 4 or kspace.shape[-1] != 2 or kspace.shape != image.shape:
            raise ValueError(f"expected kspace and image of equal shape (N, H, W, 2), got {tuple(kspace.shape)} and {tuple(image.shape)}")
        self.kspace = kspace.float()
        self.target = complex_abs(image).unsqueeze(1).float()

    def __len__(self) -> int:
        return len(self.kspace)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.kspace[i], self.target[i]


class MagnitudeSlices(Dataset):
    """Real, normalised magnitude images held in memory; the k-space is made when a slice is read.

    Args:
        target: images ``(N, H, W)`` (non-negative, maximum 1 each).

    ``dataset[i]`` is ``(kspace (H, W, 2), target (1, H, W))`` like :class:`InMemorySlices`, at half
    its memory (the image folders and NIfTI collections can hold thousands of slices).
    """

    def __init__(self, target: torch.Tensor):
        if target.ndim != 3:
            raise ValueError(f"expected images (N, H, W), got {tuple(target.shape)}")
        self.target = target.float().unsqueeze(1)

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        target = self.target[i]
        return fft2(torch.stack([target[0], torch.zeros_like(target[0])], dim=-1)), target
