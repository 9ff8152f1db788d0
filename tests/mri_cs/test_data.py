"""Data loaders: the fastMRI .h5 layout, volume-level splits, the offline MNI152 slab split."""

import numpy as np
import pytest
import torch

from mri_cs.data import DataError, build_fastmri
from mri_cs.data.fastmri import FastMRISlices
from mri_cs.data.mni152 import build_mni152, slab_split
from mri_cs.utils import freq_to_image

from .fixtures import corrupt_chunk, make_fastmri_dir, write_volume


def test_fastmri_fixture_loads(tmp_path):
    rng = np.random.default_rng(1)
    images = write_volume(tmp_path / "vol.h5", rng, slices=3, shape=(40, 36))
    ds = FastMRISlices([tmp_path / "vol.h5"], resolution=36)  # crop to min(320, 40, 36) = 36, no resampling
    assert len(ds) == 3 and ds.acquisitions == {"CORPD_FBK": 1}
    kspace, target = ds[2]
    assert kspace.shape == (36, 36, 2) and target.shape == (1, 36, 36)
    expected = np.abs(images[2])[2:38, :]
    np.testing.assert_allclose(target[0].numpy(), expected / expected.max(), atol=1e-5)
    torch.testing.assert_close(freq_to_image(kspace), target[0], atol=1e-5, rtol=1e-4)  # k-space matches its target


def test_fastmri_val_and_test_split_by_volume(tmp_path):
    root = make_fastmri_dir(tmp_path, n_train=1, n_val=5, slices=3)
    datasets, info = build_fastmri(root, resolution=16, seed=0)
    vols = info["volumes"]
    assert set(vols["val"]).isdisjoint(vols["test"]) and len(vols["val"]) + len(vols["test"]) == 5
    assert {p for p, _ in datasets["val"].index}.isdisjoint({p for p, _ in datasets["test"].index})
    assert info["sizes"] == {"train": 3, "val": 3 * len(vols["val"]), "test": 3 * len(vols["test"])}
    assert datasets["test"][0][0].shape == (16, 16, 2)
    assert build_fastmri(root, resolution=16, seed=0)[1]["volumes"] == vols  # deterministic


def test_fastmri_errors_are_clear(tmp_path):
    with pytest.raises(DataError, match="singlecoil_train"):
        build_fastmri(tmp_path, 16, 0)
    root = make_fastmri_dir(tmp_path / "d", n_train=1, n_val=2)
    (root / "singlecoil_val" / "broken.h5").write_bytes(b"this is not hdf5")
    with pytest.raises(DataError, match="broken.h5"):
        build_fastmri(root, 16, 0)


def test_a_corrupt_data_chunk_is_a_data_error_naming_the_file(tmp_path):
    write_volume(tmp_path / "vol.h5", np.random.default_rng(0), slices=2, compress=True)
    corrupt_chunk(tmp_path / "vol.h5", 1)
    ds = FastMRISlices([tmp_path / "vol.h5"], resolution=16)  # the header and slice 0 read fine
    assert ds[0][0].shape == (16, 16, 2)
    with pytest.raises(DataError, match=r"vol\.h5: slice 1"):
        ds[1]


@pytest.mark.parametrize("n", [60, 137])
def test_slab_split_is_disjoint_and_keeps_a_gap(n):
    split = slab_split(np.arange(n), np.random.default_rng(0), guard=2)
    sets = {k: set(v.tolist()) for k, v in split.items()}
    assert all(sets.values())
    assert (
        sets["train"].isdisjoint(sets["val"])
        and sets["train"].isdisjoint(sets["test"])
        and sets["val"].isdisjoint(sets["test"])
    )
    where = {i: k for k, s in sets.items() for i in s}
    for i in where:  # no slice has a neighbour (within the guard) in another split
        assert all(where.get(j, where[i]) == where[i] for j in range(i - 2, i + 3))


def test_mni152_builder_on_a_small_volume():
    rng = np.random.default_rng(0)
    volume = np.zeros((64, 70, 60), dtype=np.float32)
    volume[4:60, 4:66, 2:58] = rng.uniform(0.5, 1.0, (56, 62, 56))
    datasets, info = build_mni152(16, seed=0, volume=volume)
    assert info["sizes"]["train"] > info["sizes"]["val"] > 0 and info["sizes"]["test"] > 0
    kspace, target = datasets["val"][0]
    assert kspace.shape == (16, 16, 2) and target.shape == (1, 16, 16)
    assert target.max() == pytest.approx(1.0)
    torch.testing.assert_close(freq_to_image(kspace), target[0], atol=1e-5, rtol=1e-4)
