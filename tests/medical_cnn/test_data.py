"""Loaders on tiny files in the real formats, pre-processing, patches and augmentations."""

import numpy as np
import pytest
import torch

from medical_cnn.augment import AUGMENTATIONS, augment, sample_patches
from medical_cnn.data_io import DataError, find_or_download, load_drive, load_medmnist_npz, preprocess_fundus


def test_medmnist_grey_and_rgb_files_load_with_channels_and_classes_from_the_file(medmnist_dir):
    grey = load_medmnist_npz(medmnist_dir / "pneumoniamnist.npz")
    assert (grey.n_channels, grey.n_classes) == (1, 2)
    assert grey.images["train"].shape == (60, 1, 28, 28) and grey.labels["val"].shape == (20,)
    assert 0.0 <= float(grey.images["test"].min()) and float(grey.images["test"].max()) <= 1.0
    rgb = load_medmnist_npz(medmnist_dir / "pathmnist.npz")
    assert (rgb.n_channels, rgb.n_classes) == (3, 9) and rgb.images["train"].shape == (45, 3, 28, 28)
    assert rgb.labels["train"].dtype == torch.int64


def test_medmnist_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_medmnist_npz(tmp_path / "nothing.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="cannot read"):
        load_medmnist_npz(tmp_path / "corrupt.npz")
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="missing"):
        load_medmnist_npz(tmp_path / "partial.npz")
    with pytest.raises(DataError, match="zenodo"):
        find_or_download(tmp_path, "pathmnist", download=False)


def test_drive_tree_loads_with_masks_paired_by_number(drive_dir):
    train = load_drive(drive_dir, "training")
    assert train.names == ["21", "22", "23"]
    assert train.images.shape == (3, 52, 50, 3) and train.images.dtype == np.uint8
    assert train.vessels.dtype == bool and train.fov.shape == (3, 52, 50)
    assert train.vessels.any() and not (train.vessels & ~train.fov).any()
    assert load_drive(drive_dir, "test").names == ["01", "02"]


def test_drive_missing_files_are_data_errors(drive_dir, tmp_path):
    with pytest.raises(DataError, match="no DRIVE images"):
        load_drive(tmp_path / "empty", "training")
    (drive_dir / "test" / "1st_manual" / "02_manual1.gif").unlink()
    with pytest.raises(DataError, match="02_manual1.gif"):
        load_drive(drive_dir, "test")


def test_preprocessing_is_standardised_inside_the_fov(drive_dir):
    train = load_drive(drive_dir, "training")
    x = preprocess_fundus(train.images, train.fov)
    assert x.shape == (3, 1, 52, 50) and x.dtype == np.float32
    inside = x[:, 0][train.fov]
    assert abs(inside.mean()) < 0.05 and (x[:, 0][~train.fov] == 0).all()
    # vessels are darker than background in the green channel
    assert x[:, 0][train.vessels].mean() < x[:, 0][train.fov & ~train.vessels].mean()


def test_patches_and_every_augmentation_keep_shapes_and_binary_masks():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 1, 40, 40)
    masks = (torch.rand(2, 1, 40, 40) > 0.8).float()
    x, y = sample_patches(images, masks, 16, 5, generator)
    assert x.shape == y.shape == (5, 1, 16, 16)
    for strategy in AUGMENTATIONS:
        xa, ya = augment(x, y, strategy, generator)
        assert xa.shape == ya.shape == (5, 1, 16, 16)
        assert set(ya.unique().tolist()) <= {0.0, 1.0}
    same_x, same_y = augment(x, y, "none", generator)
    assert torch.equal(same_x, x) and torch.equal(same_y, y)
    with pytest.raises(ValueError):
        augment(x, y, "mixup", generator)
    with pytest.raises(ValueError):
        sample_patches(images, masks, 64, 2, generator)


def test_flip_augmentation_moves_image_and_mask_together():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(6, 1, 12, 12)
    xa, ya = augment(x, (x > 0.5).float(), "flip", generator)
    assert torch.equal(ya, (xa > 0.5).float())
