"""Offline default data: 2-D slices of the MNI152 T1 template that ships inside nilearn.

The template (``nilearn.datasets.load_mni152_template(resolution=1)``, 197 x 233 x 189
voxels of 1 mm) is a real T1-weighted MRI volume, an average of 152 brains. We cut it
along its three axes, keep the slices that hold enough tissue, zero-pad each slice to a
square, resample it to ``resolution x resolution`` and make its k-space with the
centred FFT. Because there is only one volume, the split is by *contiguous slabs*:
each axis is cut into blocks of neighbouring slices, whole blocks go to train,
validation or test, and a few slices at every border between two splits are dropped
so that almost identical neighbours never sit on both sides.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from mri_cs.data.slices import InMemorySlices, contiguous_runs
from mri_cs.data.transforms import fft2, square_images

DATASET_NAME = "MNI152 T1 template (nilearn, 1 mm), 2-D slices along 3 axes"
LAYOUT = "MNI152 template (offline default)"
SLAB_SPLIT = "contiguous slabs per axis (10 blocks: 7 train, 1 val, 2 test; 2 slices dropped at split borders)"
SLABS_PER_AXIS = 100  # slab ids of axis a start at a * SLABS_PER_AXIS (an axis has at most 10 blocks)


@lru_cache(maxsize=1)  # a sweep builds the datasets once per case; read the file once
def load_volume() -> np.ndarray:
    """The MNI152 T1 template as a float32 array ``(197, 233, 189)`` with values in ``[0, 1]``."""
    from nilearn.datasets import load_mni152_template  # nilearn is slow to import; only the offline default needs it

    return np.asarray(load_mni152_template(resolution=1).get_fdata(), dtype=np.float32)


def tissue_slices(volume: np.ndarray, axis: int, min_tissue: float = 0.1) -> np.ndarray:
    """Indices along ``axis`` of the slices whose fraction of tissue voxels (> 10 % of the maximum)
    is at least ``min_tissue``."""
    tissue = volume > 0.1 * volume.max()
    other = tuple(a for a in range(3) if a != axis)
    return np.flatnonzero(tissue.mean(axis=other) >= min_tissue)


def slab_split(
    indices: np.ndarray, rng: np.random.Generator, n_blocks: int = 10, n_val: int = 1, n_test: int = 2, guard: int = 2
) -> dict[str, np.ndarray]:
    """Split sorted slice ``indices`` into contiguous blocks and deal whole blocks to the three splits.

    ``guard`` slices are dropped on each side of a border between blocks of two different splits.
    Returns ``{"train": ..., "val": ..., "test": ...}`` arrays of slice indices.
    """
    blocks = np.array_split(indices, n_blocks)
    order = rng.permutation(n_blocks)
    role = np.empty(n_blocks, dtype=object)
    role[order[:n_val]] = "val"
    role[order[n_val : n_val + n_test]] = "test"
    role[order[n_val + n_test :]] = "train"
    out: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for b, block in enumerate(blocks):
        lo = guard if b > 0 and role[b - 1] != role[b] else 0
        hi = guard if b < n_blocks - 1 and role[b + 1] != role[b] else 0
        out[role[b]].extend(block[lo : len(block) - hi].tolist())
    return {k: np.array(v, dtype=int) for k, v in out.items()}


def axis_images(volume: np.ndarray, axis: int, indices: np.ndarray, resolution: int) -> torch.Tensor:
    """Slices ``indices`` along ``axis`` as normalised complex images ``(N, resolution, resolution, 2)``
    (imaginary part zero)."""
    planes = torch.from_numpy(np.ascontiguousarray(np.moveaxis(volume, axis, 0)[indices]))
    return square_images(planes, resolution, pad_to=max(volume.shape))


def slab_slices(
    volume: np.ndarray, resolution: int, rng: np.random.Generator
) -> tuple[dict[str, list[torch.Tensor]], dict[str, dict[str, list[int]]], dict[str, np.ndarray]]:
    """The tissue slices of one volume along its three axes, split by :func:`slab_split` per axis.

    Returns ``({split: [complex images (N, R, R, 2) of each axis]}, {"axis<a>": {split: [first, last, count]}},
    {split: slab id of every slice (N,)})``: each contiguous slab of one axis is one id (``SLABS_PER_AXIS * axis``
    plus its number), the volumes of the per-volume PSNR.
    """
    images: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
    ids: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    slabs: dict[str, dict[str, list[int]]] = {}
    for axis in range(3):
        split = slab_split(tissue_slices(volume, axis), rng)
        slabs[f"axis{axis}"] = {k: [int(v.min()), int(v.max()), len(v)] if len(v) else [] for k, v in split.items()}
        for name, idx in split.items():
            images[name].append(axis_images(volume, axis, idx, resolution))
            ids[name].append(contiguous_runs(idx) + SLABS_PER_AXIS * axis)
    return images, slabs, {k: np.concatenate(v) for k, v in ids.items()}


def build_mni152(
    resolution: int, seed: int, volume: np.ndarray | None = None
) -> tuple[dict[str, InMemorySlices], dict]:
    """Train/val/test :class:`InMemorySlices` of the template at ``resolution`` and a description of the split.

    ``volume`` replaces the template (tests pass a small synthetic one).
    """
    volume = load_volume() if volume is None else volume
    images, slabs, volumes = slab_slices(volume, resolution, np.random.default_rng(seed))
    datasets = {}
    for name, imgs in images.items():
        image = torch.cat(imgs)  # (N, H, W, 2)
        if len(image) == 0:
            raise ValueError(f"the {name} split of the volume is empty; is the volume too small?")
        datasets[name] = InMemorySlices(fft2(image), image, volumes[name])
    info = {
        "dataset": DATASET_NAME,
        "layout": LAYOUT,
        "source": "nilearn.datasets.load_mni152_template(resolution=1)",
        "volume_shape": list(volume.shape),
        "resolution": resolution,
        "split": SLAB_SPLIT,
        "slabs_first_last_count": slabs,
        "sizes": {k: len(v) for k, v in datasets.items()},
    }
    return datasets, info
