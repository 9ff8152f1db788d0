"""fastMRI single-coil knee data, read lazily from the challenge's ``.h5`` files.

Expected layout (https://fastmri.med.nyu.edu, free after accepting the licence)::

    <data_dir>/singlecoil_train/*.h5
    <data_dir>/singlecoil_val/*.h5

Each file is one volume: ``kspace`` (slices, H, W) complex64 (640 x 368 for knees),
``reconstruction_esc`` (or ``reconstruction_rss``) and the ``acquisition`` attribute
(CORPD_FBK / CORPDFS_FBK). As in the course, the image is the centred inverse FFT of
``kspace`` cropped to 320 x 320 (this magnitude is what ``reconstruction_esc`` holds);
we resample it to the run's resolution, scale it to a maximum of 1 and make its k-space
again with the centred FFT. ``singlecoil_train`` is the training set; ``singlecoil_val``
is split *by volume* into validation and test, so no knee appears in two splits.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from common.checks import check_images, check_not_empty
from common.cli import DataError
from mri_cs.data.transforms import complex_abs, complex_center_crop, fft2, ifft2, normalize_instance, resize_complex

DATASET_NAME = "fastMRI single-coil knee"
CROP = 320


def scan_volume(path: Path) -> tuple[int, str]:
    """Check that ``path`` is a fastMRI volume; return its number of slices and its acquisition."""
    try:
        with h5py.File(path, "r") as f:
            if "kspace" not in f:
                raise DataError(f"{path} has no 'kspace' dataset; is it a fastMRI single-coil file?")
            kspace = f["kspace"]
            if kspace.ndim != 3 or not np.issubdtype(kspace.dtype, np.complexfloating):
                raise DataError(f"{path}: 'kspace' must be complex (slices, H, W), got {kspace.dtype} {kspace.shape}")
            check_not_empty(kspace.shape[0], path, "slices in 'kspace'")
            check_images(kspace[0], f"{path}: slice 0 of 'kspace'")  # NaN or infinite
            return kspace.shape[0], str(f.attrs.get("acquisition", "unknown"))
    except OSError as e:
        raise DataError(f"{path} is not a readable .h5 file ({e.__class__.__name__}: {e})") from None


class FastMRISlices(Dataset):
    """All slices of some fastMRI single-coil volumes.

    ``dataset[i]`` is ``(kspace (R, R, 2), target (1, R, R))`` with ``R = resolution``.
    """

    def __init__(self, files: list[Path], resolution: int):
        self.resolution = resolution
        self.index: list[tuple[Path, int]] = []
        self.acquisitions: dict[str, int] = {}
        volumes = []
        for v, path in enumerate(files):
            n, acq = scan_volume(path)
            self.index.extend((path, s) for s in range(n))
            volumes += [v] * n
            self.acquisitions[acq] = self.acquisitions.get(acq, 0) + 1
        self.files = list(files)
        self.volumes = np.array(volumes, dtype=np.int64)  # the file of every slice, for the per-volume PSNR

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path, s = self.index[i]
        try:
            with h5py.File(path, "r") as f:
                raw = torch.from_numpy(np.asarray(f["kspace"][s], dtype=np.complex64))
        except OSError as e:  # a header that reads fine can hide a corrupt data chunk
            raise DataError(
                f"{path}: slice {s} of 'kspace' cannot be read ({e}); replace the file or remove it"
            ) from None
        check_images(torch.view_as_real(raw), f"{path}: slice {s} of 'kspace'")  # NaN or infinite samples
        image = ifft2(torch.view_as_real(raw))
        crop = min(CROP, *image.shape[-3:-1])  # tiny test files are smaller than 320
        image = normalize_instance(resize_complex(complex_center_crop(image, (crop, crop)), self.resolution))
        return fft2(image), complex_abs(image).unsqueeze(0)


def build_fastmri(data_dir: str | Path, resolution: int, seed: int) -> tuple[dict[str, FastMRISlices], dict]:
    """Train (``singlecoil_train``), val and test (``singlecoil_val`` split by volume) datasets
    and their description."""
    data_dir = Path(data_dir)
    how = "expected <data-dir>/singlecoil_train/*.h5 and <data-dir>/singlecoil_val/*.h5 (fastMRI single-coil knee, from https://fastmri.med.nyu.edu)"
    train_files = sorted((data_dir / "singlecoil_train").glob("*.h5"))
    val_files = sorted((data_dir / "singlecoil_val").glob("*.h5"))
    if not train_files or len(val_files) < 2:
        raise DataError(
            f"no usable files in {data_dir}: found {len(train_files)} training and {len(val_files)} "
            f"validation volumes (need >= 1 and >= 2); {how}"
        )
    order = np.random.default_rng(seed).permutation(len(val_files))
    half = len(val_files) // 2
    splits = {
        "train": train_files,
        "val": [val_files[i] for i in sorted(order[:half])],
        "test": [val_files[i] for i in sorted(order[half:])],
    }
    datasets = {name: FastMRISlices(files, resolution) for name, files in splits.items()}
    info = {
        "dataset": DATASET_NAME,
        "source": str(data_dir),
        "resolution": resolution,
        "split": "train = singlecoil_train; singlecoil_val split by volume into val and test",
        "volumes": {name: [p.name for p in files] for name, files in splits.items()},
        "acquisitions": {name: ds.acquisitions for name, ds in datasets.items()},
        "sizes": {name: len(ds) for name, ds in datasets.items()},
    }
    return datasets, info
