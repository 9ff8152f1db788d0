"""Loaders read tiny fixtures written in each dataset's real format."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autoencoders import datasets


def test_cifar_image_folders_load_exact_pixels_and_class_indices(formats, tmp_path):
    written = formats.write_cifar_folders(tmp_path / "CIFAR10", per_class=2)
    data = datasets.load_cifar10(tmp_path)  # finds the CIFAR10/ sub-folder
    assert data["classes"] == formats.cifar_classes
    assert data["train_x"].shape == (20, 3, 32, 32) and data["train_x"].dtype == torch.uint8
    assert data["test_y"].tolist() == [c for c in range(10) for _ in range(2)]
    i = 2 * formats.cifar_classes.index("cat") + 1
    assert np.array_equal(data["train_x"][i].permute(1, 2, 0).numpy(), written[("train", "cat", 1)])


def test_cifar_missing_gives_a_data_error_naming_the_layout(tmp_path):
    with pytest.raises(datasets.DataError, match="train/<class>"):
        datasets.load_cifar10(tmp_path)


def test_mnist_raw_idx_files_load_through_torchvision(formats, tmp_path):
    written = formats.write_mnist_raw(tmp_path)
    data = datasets.load_mnist(tmp_path)
    assert data["train_x"].shape == (40, 1, 28, 28) and data["test_x"].shape == (20, 1, 28, 28)
    assert np.array_equal(data["test_x"][:, 0].numpy(), written["t10k"][0])
    assert np.array_equal(data["train_y"].numpy(), written["train"][1])
    with pytest.raises(datasets.DataError, match="idx"):
        datasets.load_mnist(tmp_path / "nowhere")


def test_stl10_binary_layout_is_read_column_major(formats, tmp_path):
    written = formats.write_stl10_binary(tmp_path)
    images, labels = datasets.load_stl10(tmp_path, "train")
    assert images.shape == (20, 3, 96, 96)
    assert np.array_equal(images, written["train"][0])
    assert np.array_equal(labels, written["train"][1].astype(np.int64) - 1) and labels.min() == 0 and labels.max() == 9
    unlabeled, none = datasets.load_stl10(tmp_path, "unlabeled")
    assert none is None and np.array_equal(unlabeled, written["unlabeled"][0])
    item = datasets.UnlabeledImages(unlabeled)[3]
    assert item.dtype == torch.float32 and torch.allclose(
        item * 255, torch.from_numpy(written["unlabeled"][0][3]).float()
    )


def test_stl10_missing_or_truncated_files_give_data_errors(formats, tmp_path):
    with pytest.raises(datasets.DataError, match="stl10_binary"):
        datasets.load_stl10(tmp_path, "test")
    formats.write_stl10_binary(tmp_path)
    with open(tmp_path / "stl10_binary" / "test_X.bin", "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(datasets.DataError, match="whole number"):
        datasets.load_stl10(tmp_path, "test")
    with pytest.raises(ValueError):
        datasets.load_stl10(tmp_path, "validation")


def test_brain_tumour_mat_v73_reads_resized_image_and_mask_in_matlab_orientation(formats, tmp_path):
    image = np.zeros((512, 512), dtype=np.int16)
    image[:, 256:] = 1000  # bright right half
    mask = np.zeros((512, 512), dtype=np.uint8)
    mask[:128, :64] = 1  # tall-thin block in the top-left corner: a transposed read would move it
    formats.write_tumour_mat(tmp_path / "7.mat", image, mask)
    x, m = datasets.read_brain_tumour_mat(tmp_path / "7.mat")
    assert x.shape == m.shape == (1, 240, 240)
    assert x.min() == 0 and x.max() == 1 and x[0, :, :100].max() < 0.05 and x[0, :, 140:].min() > 0.95
    assert set(m.unique().tolist()) == {0.0, 1.0}
    assert m[0, :55, :25].all() and not m[0, 70:, :].any() and not m[0, :, 35:].any()
    reference = F.interpolate(torch.from_numpy(mask).float()[None, None], size=(240, 240), mode="bilinear") > 0.5
    assert torch.equal(m.bool(), reference[0])


def test_brain_tumour_files_are_found_in_numeric_order_and_split_deterministically(formats, tmp_path):
    formats.write_tumour_set(tmp_path / "part1", n=12, size=32)
    files = datasets.find_brain_tumour_files(tmp_path)
    assert [f.stem for f in files] == [str(i) for i in range(1, 13)]
    slices = datasets.BrainTumourSlices(files, size=48)
    x, m = slices[0]
    assert x.shape == m.shape == (1, 48, 48) and m.sum() > 0
    train, test = datasets.split_indices(len(files), 0.2, seed=3)
    assert len(test) == 2 and sorted(train + test) == list(range(12))
    assert (train, test) == datasets.split_indices(len(files), 0.2, seed=3)
    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(datasets.DataError, match="v7.3"):
        datasets.read_brain_tumour_mat(tmp_path / "bad.mat")
    with pytest.raises(datasets.DataError, match="figshare"):
        datasets.find_brain_tumour_files(tmp_path / "empty")


def test_synthetic_lesions_are_binary_masks_inside_real_mni_slices():
    images, masks = datasets.synthetic_lesion_slices(4, size=96, seed=1)
    assert images.shape == masks.shape == (4, 1, 96, 96)
    assert images.min() >= 0 and images.max() <= 1
    assert set(masks.unique().tolist()) == {0.0, 1.0} and (masks.sum(dim=(1, 2, 3)) > 0).all()
    again, _ = datasets.synthetic_lesion_slices(4, size=96, seed=1)
    assert torch.equal(images, again)


def test_tensor_batches_cover_every_sample_and_augment_by_crop_and_flip():
    x = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    y = torch.arange(10)
    plain = list(datasets.TensorBatches(x, y, 4))
    assert [len(b[1]) for b in plain] == [4, 4, 2]
    assert torch.equal(torch.cat([b[0] for b in plain]), x.float() / 255)
    g = torch.Generator().manual_seed(0)
    shuffled = datasets.TensorBatches(
        x, y, 4, shuffle=True, augment=True, pad=2, mean=(0.5,) * 3, std=(0.25,) * 3, generator=g
    )
    labels = torch.cat([b[1] for b in shuffled])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    bx, by = next(iter(shuffled))
    assert bx.shape == (4, 3, 8, 8)
    # each augmented image is a shifted (and maybe mirrored) copy: its centre appears in the original
    for img, label in zip(bx * 0.25 + 0.5, by):
        src = F.pad(x[label].float()[None] / 255, (2,) * 4, mode="reflect")[0]
        centre = img[:, 2:6, 2:6]
        found = any(
            torch.allclose(c[:, dy : dy + 4, dx : dx + 4], centre, atol=1e-5)
            for c in (src, src.flip(-1))
            for dy in range(9)
            for dx in range(9)
        )
        assert found
    with pytest.raises(ValueError):
        datasets.TensorBatches(x.float(), y, 4)
