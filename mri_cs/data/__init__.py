"""Datasets and k-space transforms.

Every dataset yields ``(kspace (H, W, 2), target (1, H, W))``: the fully sampled
centred k-space of one slice and the magnitude image to reconstruct.
"""

from __future__ import annotations

from pathlib import Path

from common.cli import DataError
from mri_cs.data.fastmri import build_fastmri
from mri_cs.data.mni152 import build_mni152
from mri_cs.data.transforms import complex_abs, fft2, ifft2


def build_datasets(data_dir: str | Path | None, resolution: int, seed: int) -> tuple[dict, dict]:
    """``({"train", "val", "test"} -> Dataset, description)``: fastMRI when ``data_dir`` is given, else the MNI152 default."""
    if data_dir is None:
        return build_mni152(resolution, seed)
    return build_fastmri(data_dir, resolution, seed)


__all__ = ["DataError", "build_datasets", "build_fastmri", "build_mni152", "complex_abs", "fft2", "ifft2"]
