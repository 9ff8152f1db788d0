"""Tiny fastMRI-layout .h5 files, built in the real format (kspace complex64, reconstruction_esc, acquisition)."""

from pathlib import Path

import h5py
import numpy as np


def write_volume(
    path: Path, rng: np.random.Generator, slices: int = 2, shape: tuple[int, int] = (40, 36), compress: bool = False
) -> np.ndarray:
    """One volume; returns its complex images ``(slices, H, W)`` (the k-space is their centred FFT).

    ``compress`` stores ``kspace`` gzip-compressed in one chunk per slice, as the challenge files can be.
    """
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    images = []
    for _ in range(slices):
        blob = np.exp(
            -(((yy - shape[0] / 2) / rng.uniform(4, 9)) ** 2 + ((xx - shape[1] / 2) / rng.uniform(4, 9)) ** 2)
        )
        images.append((blob + 0.1 * rng.random(shape)) * np.exp(1j * rng.uniform(0, np.pi)))
    images = np.stack(images)
    kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(images, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    chunking = {"chunks": (1, *shape), "compression": "gzip"} if compress else {}
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace.astype(np.complex64), **chunking)
        f.create_dataset("reconstruction_esc", data=np.abs(images).astype(np.float32))
        f.attrs["acquisition"] = "CORPD_FBK"
    return images


def corrupt_chunk(path: Path, slice_index: int = 0) -> None:
    """Overwrite the middle of the compressed ``kspace`` chunk of one slice:
    the header still reads, the slice does not."""
    with h5py.File(path, "r") as f:
        info = f["kspace"].id.get_chunk_info(slice_index)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(b"\xff" * 64)


def make_fastmri_dir(
    root: Path, n_train: int = 2, n_val: int = 4, slices: int = 2, shape=(40, 36), seed: int = 0, compress: bool = False
) -> Path:
    rng = np.random.default_rng(seed)
    for split, n in (("singlecoil_train", n_train), ("singlecoil_val", n_val)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            write_volume(root / split / f"file{split[-3:]}{i:03d}.h5", rng, slices, shape, compress)
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (to show that a refused command changed nothing)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def brain_like(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A bright ellipse with darker blobs inside and a little noise, values in [0, 1]."""
    yy, xx = np.mgrid[: shape[0], : shape[1]] / np.array(shape).reshape(2, 1, 1)
    image = (((yy - 0.5) / rng.uniform(0.3, 0.42)) ** 2 + ((xx - 0.5) / rng.uniform(0.3, 0.42)) ** 2 < 1) * 0.6
    for _ in range(3):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.04, 0.12)
        image = image + 0.4 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)
    return np.clip(image + 0.03 * rng.random(shape), 0, 1)


def make_image_dir(folder: Path, n: int = 40, shape: tuple[int, int] = (40, 36), seed: int = 0, bits: int = 8) -> Path:
    """``folder/1.png ... folder/n.png``: grey brain-like images (8- or 16-bit PNG)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(1, n + 1):
        image = brain_like(rng, shape)
        array = (image * (255 if bits == 8 else 65535)).astype(np.uint8 if bits == 8 else np.uint16)
        Image.fromarray(array).save(folder / f"{i}.png")
    return folder


def write_nifti(path: Path, shape: tuple[int, int, int] = (36, 40, 32), seed: int = 0) -> np.ndarray:
    """A small 3-D NIfTI volume (a bright ellipsoid with blobs); returns its array."""
    import nibabel

    rng = np.random.default_rng(seed)
    volume = np.stack(
        [brain_like(rng, shape[1:]) * (0.3 + np.sin(np.pi * (z + 0.5) / shape[0])) for z in range(shape[0])]
    )
    volume = volume.astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(path))
    return volume
