"""The dataset interface every source provides: one 2-D slice as (k-space, target).

Every dataset also says which volume each slice comes from (``volumes``, ``(N,)`` ids: a fastMRI or NIfTI
file, or a contiguous block of files or slices where a folder has no volume boundaries), so that PSNR can
also be reported per volume, as fastMRI does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from mri_cs.data.transforms import complex_abs, fft2


class InMemorySlices(Dataset):
    """Slices held in memory.

    Args:
        kspace: fully sampled centred k-space ``(N, H, W, 2)``.
        image: the matching complex images ``(N, H, W, 2)``; the target is their magnitude.
        volumes: the volume id of every slice ``(N,)`` (default: one volume).

    ``dataset[i]`` is ``(kspace (H, W, 2), target (1, H, W))``, both float32.
    """

    def __init__(self, kspace: torch.Tensor, image: torch.Tensor, volumes: np.ndarray | None = None):
        if kspace.ndim != 4 or kspace.shape[-1] != 2 or kspace.shape != image.shape:
            raise ValueError(
                "expected kspace and image of equal shape (N, H, W, 2), "
                f"got {tuple(kspace.shape)} and {tuple(image.shape)}"
            )
        self.kspace = kspace.float()
        self.target = complex_abs(image).unsqueeze(1).float()
        self.volumes = volume_ids(volumes, len(kspace))

    def __len__(self) -> int:
        return len(self.kspace)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.kspace[i], self.target[i]


class MagnitudeSlices(Dataset):
    """Real, normalised magnitude images held in memory; the k-space is made when a slice is read.

    Args:
        target: images ``(N, H, W)`` (non-negative, maximum 1 each).
        volumes: the volume id of every slice ``(N,)`` (default: one volume).

    ``dataset[i]`` is ``(kspace (H, W, 2), target (1, H, W))`` like :class:`InMemorySlices`, at half
    its memory (the image folders and NIfTI collections can hold thousands of slices).
    """

    def __init__(self, target: torch.Tensor, volumes: np.ndarray | None = None):
        if target.ndim != 3:
            raise ValueError(f"expected images (N, H, W), got {tuple(target.shape)}")
        self.target = target.float().unsqueeze(1)
        self.volumes = volume_ids(volumes, len(target))

    def __len__(self) -> int:
        return len(self.target)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        target = self.target[i]
        return fft2(torch.stack([target[0], torch.zeros_like(target[0])], dim=-1)), target


def volume_ids(volumes: np.ndarray | None, n: int) -> np.ndarray:
    """``volumes`` as an int array ``(n,)``; ``None`` is one volume."""
    ids = np.zeros(n, dtype=np.int64) if volumes is None else np.asarray(volumes, dtype=np.int64).reshape(-1)
    if len(ids) != n:
        raise ValueError(f"expected one volume id per slice ({n}), got {len(ids)}")
    return ids


def contiguous_runs(indices: np.ndarray) -> np.ndarray:
    """An id ``(N,)`` per sorted index: indices that follow each other (step 1) share one, a gap starts the next.

    The blocks of a split without volume boundaries: ``[3, 4, 5, 9, 10]`` -> ``[0, 0, 0, 1, 1]``.
    """
    indices = np.asarray(indices).reshape(-1)
    return (
        np.concatenate([[0], np.cumsum(np.diff(indices) != 1)]).astype(np.int64)
        if len(indices)
        else np.zeros(0, np.int64)
    )


def dataset_volumes(dataset: Dataset) -> np.ndarray | None:
    """The volume id of every slice of ``dataset`` (through a ``Subset``), or ``None`` if it does not say."""
    if isinstance(dataset, Subset):
        parent = dataset_volumes(dataset.dataset)
        return None if parent is None else parent[np.asarray(dataset.indices)]
    return getattr(dataset, "volumes", None)
