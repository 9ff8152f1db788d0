"""Datasets and k-space transforms.

Every dataset yields ``(kspace (H, W, 2), target (1, H, W))``: the fully sampled
centred k-space of one slice and the magnitude image to reconstruct. The sources: the
MNI152 template (no ``--data-dir``), and in ``--data-dir`` one of three layouts
(:func:`detect_layout`): fastMRI single-coil ``.h5`` files, a folder of numbered image
files, NIfTI volumes.
"""

from __future__ import annotations

from pathlib import Path

from common.cli import DataError
from mri_cs.data.fastmri import build_fastmri
from mri_cs.data.images import IMAGE_SUFFIXES, build_image_folder, image_files
from mri_cs.data.mni152 import build_mni152
from mri_cs.data.nifti import build_nifti, nifti_files
from mri_cs.data.transforms import complex_abs, fft2, ifft2

LAYOUTS = (
    "fastMRI single-coil knee (DIR/singlecoil_train/*.h5 and DIR/singlecoil_val/*.h5)",
    f"an image folder of numbered grey images (DIR/N.png or DIR/images/N.png; {'/'.join(IMAGE_SUFFIXES)})",
    "NIfTI volumes (DIR/*.nii or DIR/*.nii.gz)",
)
BUILDERS = {"fastmri": build_fastmri, "images": build_image_folder, "nifti": build_nifti}


def detect_layout(data_dir: str | Path) -> tuple[str, Path]:
    """``(layout, folder)``: ``"fastmri"`` (``data_dir`` holds ``singlecoil_train/`` or ``singlecoil_val/``),
    ``"images"`` (image files in ``data_dir`` or in ``data_dir/images``) or ``"nifti"`` (``.nii[.gz]`` files in
    ``data_dir``), checked in this order; any other folder is a DataError naming the three layouts."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir} is not a folder")
    if (data_dir / "singlecoil_train").is_dir() or (data_dir / "singlecoil_val").is_dir():
        return "fastmri", data_dir
    for folder in (data_dir, data_dir / "images"):
        if folder.is_dir() and image_files(folder):
            return "images", folder
    if nifti_files(data_dir):
        return "nifti", data_dir
    raise DataError(
        f"no usable files in {data_dir}; expected one of three layouts: "
        + "; ".join(f"({i}) {text}" for i, text in enumerate(LAYOUTS, 1))
    )


def build_datasets(data_dir: str | Path | None, resolution: int, seed: int) -> tuple[dict, dict]:
    """``({"train", "val", "test"} -> Dataset, description)``: the MNI152 default without ``data_dir``, else the
    layout found in it. The description (``config.json``'s ``"data"``) names the dataset, layout and split."""
    if data_dir is None:
        return build_mni152(resolution, seed)
    layout, folder = detect_layout(data_dir)
    datasets, info = BUILDERS[layout](folder, resolution, seed)
    info.setdefault("layout", layout)
    return datasets, info


def describe_split(info: dict) -> list[str]:
    """Printable lines: how the data was split and, where the source has them, the file ranges or volumes per split."""
    lines = [f"split: {info.get('split', '?')}"]
    for name, ranges in info.get("file_ranges", {}).items():
        lines.append(f"  {name}: " + ", ".join(f"{a}..{b} ({n})" for a, b, n in ranges))
    if info.get("guard_files"):
        lines.append(f"  left out as guards: {len(info['guard_files'])} files")
    for name, volumes in info.get("volumes", {}).items():
        lines.append(
            f"  {name}: {len(volumes)} volumes ({', '.join(volumes[:4])}{', ...' if len(volumes) > 4 else ''})"
        )
    return lines


__all__ = [
    "DataError",
    "LAYOUTS",
    "build_datasets",
    "build_fastmri",
    "build_image_folder",
    "build_mni152",
    "build_nifti",
    "complex_abs",
    "describe_split",
    "detect_layout",
    "fft2",
    "ifft2",
]
