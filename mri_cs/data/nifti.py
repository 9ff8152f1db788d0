"""MR volumes in NIfTI files (``DIR/*.nii``, ``DIR/*.nii.gz``), cut into 2-D slices like the template.

Each volume is read with nibabel (it comes with nilearn), negative values are set to zero
(a magnitude image has none; resampling in preprocessing can leave some), and the slices
along its three axes that are at least 10 % tissue become images exactly as the template's
do (zero-padded to the volume's largest side, resampled, maximum 1; k-space = centred FFT).

The split: with 3 or more volumes, by volume (whole files: 10 % validation, 20 % test, at
least one each, the rest train, drawn with ``--seed``), so no volume gives slices to two
splits; with 1 or 2 volumes, each volume is split by contiguous slabs per axis like the
template (:func:`mri_cs.data.mni152.slab_split`).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from common.checks import check_images
from common.cli import DataError
from mri_cs.data.images import natural_key
from mri_cs.data.mni152 import SLAB_SPLIT, axis_images, slab_slices, tissue_slices
from mri_cs.data.slices import MagnitudeSlices

SPLITS = ("train", "val", "test")
FILE_STRIDE = 1000  # slab ids of the k-th file start at k * FILE_STRIDE (3 axes of at most 100 ids each)


def nifti_files(folder: Path) -> list[Path]:
    """The ``.nii`` / ``.nii.gz`` files directly inside ``folder``, in numeric order."""
    files = (p for p in folder.iterdir() if p.name.lower().endswith((".nii", ".nii.gz")) and not p.name.startswith("."))
    return sorted((p for p in files if p.is_file()), key=natural_key)


def read_volume(path: Path) -> np.ndarray:
    """One volume as float32 ``(X, Y, Z)``, negatives set to zero; an unreadable or non-3-D file, or one with
    NaN or infinite voxels, is a DataError."""
    import nibabel
    from nibabel.filebasedimages import ImageFileError

    try:
        data = np.asarray(nibabel.load(str(path)).dataobj, dtype=np.float32)
    except (ImageFileError, OSError, EOFError, ValueError, zlib.error) as e:
        raise DataError(f"{path} is not a readable NIfTI volume ({e.__class__.__name__}: {e})") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3 or min(data.shape) < 2:
        raise DataError(f"{path}: expected a 3-D volume, got shape {data.shape}; split 4-D series into 3-D files")
    check_images(data, path)  # NaN or infinite voxels: one line naming the file
    return np.clip(data, 0, None)


def all_slices(volume: np.ndarray, resolution: int) -> torch.Tensor:
    """Every tissue slice of ``volume`` along its three axes as magnitude images ``(N, R, R)``."""
    return torch.cat([axis_images(volume, a, tissue_slices(volume, a), resolution) for a in range(3)])[..., 0]


def volume_roles(n_volumes: int, seed: int) -> list[str]:
    """The split of each volume (in file order): 10 % val, 20 % test (at least one each), the rest train."""
    order = np.random.default_rng(seed).permutation(n_volumes)
    n_val, n_test = max(1, round(0.1 * n_volumes)), max(1, round(0.2 * n_volumes))
    roles = ["train"] * n_volumes
    for i in order[:n_val]:
        roles[i] = "val"
    for i in order[n_val : n_val + n_test]:
        roles[i] = "test"
    return roles


def build_nifti(folder: str | Path, resolution: int, seed: int) -> tuple[dict[str, MagnitudeSlices], dict]:
    """Train/val/test datasets of the NIfTI volumes in ``folder`` and their description."""
    folder = Path(folder)
    files = nifti_files(folder)
    images: dict[str, list[torch.Tensor]] = {k: [] for k in SPLITS}
    volumes: dict[str, list[np.ndarray]] = {k: [] for k in SPLITS}  # a file, or a slab of one, per id
    info = {
        "dataset": f"NIfTI volumes, {folder.name}",
        "layout": "NIfTI volumes",
        "source": str(folder),
        "n_volumes": len(files),
        "resolution": resolution,
    }
    if len(files) >= 3:
        roles = volume_roles(len(files), seed)
        slices = {}
        for v, (path, role) in enumerate(zip(files, roles)):
            images[role].append(all_slices(read_volume(path), resolution))
            volumes[role].append(np.full(len(images[role][-1]), v))
            slices[path.name] = len(images[role][-1])
        info.update(
            split="by volume (whole files): 10 % validation, 20 % test (at least one each), the rest train, "
            "drawn with --seed",
            volumes={k: [p.name for p, r in zip(files, roles) if r == k] for k in SPLITS},
            slices_per_volume=slices,
        )
    else:
        rng = np.random.default_rng(seed)
        slabs = {}
        for v, path in enumerate(files):
            split, slabs[path.name], ids = slab_slices(read_volume(path), resolution, rng)
            for k in SPLITS:
                images[k].extend(x[..., 0] for x in split[k])
                volumes[k].append(ids[k] + FILE_STRIDE * v)
        info.update(split=f"{SLAB_SPLIT}, in each volume", slabs_first_last_count=slabs)
    datasets = {}
    for k in SPLITS:
        target = torch.cat(images[k]) if images[k] else torch.zeros(0)
        if len(target) == 0:
            raise DataError(f"the {k} split of the NIfTI volumes in {folder} is empty; are the volumes too small?")
        datasets[k] = MagnitudeSlices(target, np.concatenate(volumes[k]))
    info["sizes"] = {k: len(d) for k, d in datasets.items()}
    return datasets, info
