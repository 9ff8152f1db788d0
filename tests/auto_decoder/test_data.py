"""Loaders read both real formats (torchvision raw idx files and the course CSVs) the same way."""

from pathlib import Path

import pytest
import torch

from auto_decoder.utils import DataError, create_dataloaders, plot_tsne, save_image_grid

from .conftest import N_TEST, N_TRAIN, fake_split


@pytest.mark.parametrize("fmt", ["raw", "csv"])
def test_items_are_index_image_pairs(fmt, raw_dir, csv_dir):
    train_ds, train_dl, test_ds, test_dl = create_dataloaders(raw_dir if fmt == "raw" else csv_dir, batch_size=8)
    assert (len(train_ds), len(test_ds)) == (N_TRAIN, N_TEST)
    images, labels = fake_split(N_TRAIN, 0)
    index, image = train_ds[7]
    assert index == 7 and image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert torch.allclose(image[0], torch.from_numpy(images[7]).float() / 255)
    assert torch.equal(train_ds.labels, torch.from_numpy(labels).long())
    seen = torch.cat([idx for idx, _ in train_dl])
    assert sorted(seen.tolist()) == list(range(N_TRAIN))  # every image once per epoch, shuffled
    idx, batch = next(iter(test_dl))
    assert idx.tolist() == list(range(8)) and batch.shape == (8, 1, 28, 28)  # test order is fixed


def test_both_formats_give_identical_data(raw_dir, csv_dir):
    raw_train, _, raw_test, _ = create_dataloaders(raw_dir)
    csv_train, _, csv_test, _ = create_dataloaders(csv_dir)
    assert torch.equal(raw_train.images, csv_train.images) and torch.equal(raw_test.labels, csv_test.labels)
    assert "raw" in raw_train.source and "CSV" in csv_train.source


def test_raw_layout_found_from_inner_folders(raw_dir):
    for d in (raw_dir / "FashionMNIST", raw_dir / "FashionMNIST" / "raw"):
        assert len(create_dataloaders(d)[0]) == N_TRAIN


def test_subset_takes_first_images_of_each_split(csv_dir):
    train_ds, train_dl, test_ds, _ = create_dataloaders(csv_dir, batch_size=4, subset=10)
    full_train, _, full_test, _ = create_dataloaders(csv_dir)
    assert len(train_ds) == len(test_ds) == 10
    assert torch.equal(train_ds.images, full_train.images[:10]) and torch.equal(test_ds.images, full_test.images[:10])
    assert max(i for idx, _ in train_dl for i in idx.tolist()) == 9


def test_shuffling_repeats_with_the_seed(csv_dir):
    order = lambda seed: torch.cat([i for i, _ in create_dataloaders(csv_dir, 8, seed=seed)[1]])  # noqa: E731
    assert torch.equal(order(3), order(3)) and not torch.equal(order(3), order(4))


def test_missing_or_corrupt_data_says_what_is_expected(tmp_path, csv_dir):
    with pytest.raises(DataError, match="fashion-mnist_train.csv"):
        create_dataloaders(tmp_path)
    (tmp_path / "fashion-mnist_train.csv").write_text("label,pixel1\n3,4\n")
    (tmp_path / "fashion-mnist_test.csv").write_text("label,pixel1\n3,4\n")
    with pytest.raises(DataError, match="785"):
        create_dataloaders(tmp_path)
    broken = tmp_path / "tv" / "FashionMNIST" / "raw"
    broken.mkdir(parents=True)
    (broken / "train-images-idx3-ubyte").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="cannot read"):
        create_dataloaders(tmp_path / "tv")


def test_tsne_and_grid_figures_are_written(tmp_path):
    z, labels = torch.randn(40, 8), torch.arange(40) % 10
    plot_tsne({"train": (z, labels), "test": (z[:20], labels[:20])}, tmp_path / "t.png", "t")
    save_image_grid({"a": torch.rand(3, 1, 28, 28), "b": torch.rand(5, 1, 28, 28)}, tmp_path / "g.png")
    assert (tmp_path / "t.png").stat().st_size > 1000 and (tmp_path / "g.png").stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_tsne({"x": (torch.randn(40), labels)}, tmp_path / "bad.png")


def test_data_error_is_the_shared_one():
    from common.cli import DataError as shared

    assert DataError is shared


def test_failed_download_leaves_no_data_dir_behind(tmp_path, monkeypatch):
    from auto_decoder import utils

    def offline(root, train, download):  # torchvision makes its folders, then the download fails
        (Path(root) / "FashionMNIST" / "raw").mkdir(parents=True)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(utils, "FashionMNIST", offline)
    with pytest.raises(DataError, match="Error downloading"):
        create_dataloaders(tmp_path / "new" / "data", download=True)
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(DataError):
        create_dataloaders(tmp_path / "kept", download=True)
    assert (tmp_path / "kept").is_dir()  # a folder that was there stays
