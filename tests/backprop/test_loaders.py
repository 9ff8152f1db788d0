"""Image folders, the scikit-image fallback, patches and MNIST raw files."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from backprop.loaders import (
    DataError,
    load_image_folder,
    load_mnist,
    load_natural_images,
    random_patches,
    skimage_images,
)

_spec = importlib.util.spec_from_file_location("backprop_fixtures", Path(__file__).with_name("fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


def test_image_folder_loads_grey_and_rgb_pngs_sorted_in_unit_range(tmp_path):
    arrays = fixtures.write_image_folder(tmp_path, 4, 20, 30, seed=0)
    (tmp_path / "notes.txt").write_text("not an image")
    images, names = load_image_folder(tmp_path)
    assert names == [f"img_{i:03d}.png" for i in range(4)]
    for im, ref in zip(images, arrays):
        assert im.dtype == torch.float32 and im.shape == (20, 30)
        np.testing.assert_allclose(im.numpy(), ref / 255.0, atol=1 / 255)  # RGB->L may round by one level


def test_image_folder_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no image files"):
        load_image_folder(tmp_path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DataError, match="cannot read image"):
        load_image_folder(tmp_path)


def test_too_small_images_are_rejected(tmp_path):
    fixtures.write_image_folder(tmp_path, 2, 10, 10, seed=1)
    with pytest.raises(DataError, match="smaller than"):
        load_image_folder(tmp_path, min_size=16)


def test_natural_image_splits_hold_out_validation_deterministically(tmp_path):
    fixtures.write_image_folder(tmp_path / "train", 10, 24, 24, seed=2)
    fixtures.write_image_folder(tmp_path / "test", 3, 24, 24, seed=3)
    a = load_natural_images(str(tmp_path / "train"), str(tmp_path / "test"), val_count=3, seed=5, min_size=16)
    b = load_natural_images(str(tmp_path / "train"), str(tmp_path / "test"), val_count=3, seed=5, min_size=16)
    assert (len(a.train), len(a.val), len(a.test)) == (7, 3, 3)
    assert a.source["val_images"] == b.source["val_images"]
    train_keys = {im.sum().item() for im in a.train}
    assert not train_keys & {im.sum().item() for im in a.val}  # disjoint
    with pytest.raises(DataError, match="--test-dir"):
        load_natural_images(str(tmp_path / "train"), None, 3, 0, 16)
    with pytest.raises(DataError, match="need more than"):
        load_natural_images(str(tmp_path / "train"), str(tmp_path / "test"), 10, 0, 16)


def test_skimage_fallback_gives_grey_unit_range_images():
    camera, astronaut = skimage_images(["camera", "astronaut"])
    assert camera.shape == (512, 512) and astronaut.ndim == 2
    assert 0 <= float(astronaut.min()) and float(astronaut.max()) <= 1


def test_random_patches_cut_the_same_place_from_aligned_stacks():
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(30, 40), torch.rand(25, 25)]
    stacks = [torch.stack([im, 2 * im]) for im in images]
    clean, stacked = random_patches(images, 6, 16, g, [stacks])
    assert clean.shape == (6, 1, 16, 16) and stacked.shape == (6, 2, 16, 16)
    torch.testing.assert_close(stacked[:, :1], clean)
    torch.testing.assert_close(stacked[:, 1:], 2 * clean)


def test_mnist_raw_idx_files_load_through_torchvision(tmp_path):
    train, test = fixtures.write_mnist_raw(tmp_path, n_train=12, n_test=5)
    got = load_mnist(tmp_path, train=True)
    assert got.shape == (12, 28, 28) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), train / 255.0, atol=1e-7)
    np.testing.assert_allclose(load_mnist(tmp_path, train=False).numpy(), test / 255.0, atol=1e-7)


def test_mnist_missing_or_corrupt_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, train=True)
    fixtures.write_mnist_raw(tmp_path, 4, 4)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataError, match="could not be loaded"):
        load_mnist(tmp_path, train=True)
