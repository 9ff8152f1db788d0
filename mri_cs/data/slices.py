"""The dataset interface every source provides: one 2-D slice as (k-space, target)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from mri_cs.data.transforms import complex_abs


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
