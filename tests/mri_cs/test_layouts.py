"""The three --data-dir layouts: detection, the image folder's contiguous-block split, NIfTI volumes."""

import numpy as np
import pytest
import torch

from mri_cs.data import DataError, build_datasets, detect_layout
from mri_cs.data.images import build_image_folder, guard_size, image_files, read_image
from mri_cs.data.nifti import build_nifti
from mri_cs.data.transforms import square_images
from mri_cs.utils import freq_to_image

from .fixtures import make_fastmri_dir, make_image_dir, write_nifti


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """``brain_tumor/images/1.png ... 40.png``."""
    return make_image_dir(tmp_path_factory.mktemp("brain_tumor") / "images", n=40)


def test_the_three_layouts_are_detected(tmp_path, image_dir):
    fastmri = make_fastmri_dir(tmp_path / "knee", n_train=1, n_val=2)
    assert detect_layout(fastmri) == ("fastmri", fastmri)
    assert detect_layout(image_dir) == ("images", image_dir)
    assert detect_layout(image_dir.parent) == ("images", image_dir)  # a folder holding images/
    (tmp_path / "nii").mkdir()
    write_nifti(tmp_path / "nii" / "a.nii.gz")
    assert detect_layout(tmp_path / "nii") == ("nifti", tmp_path / "nii")


def test_a_folder_with_no_layout_is_one_line_naming_the_three(tmp_path):
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / "images").mkdir()  # an images/ folder without images does not count
    with pytest.raises(DataError) as exc:
        build_datasets(tmp_path, 16, 0)
    message = str(exc.value)
    assert "\n" not in message and "three layouts" in message
    assert all(word in message for word in ("singlecoil_train", "images/N.png", ".nii.gz"))


def test_image_files_are_in_numeric_order(image_dir):
    names = [p.name for p in image_files(image_dir)]
    assert names == [f"{i}.png" for i in range(1, 41)]  # not 1, 10, 11, ..., 2


def test_contiguous_block_split_is_ordered_disjoint_guarded_and_deterministic(image_dir):
    _, info = build_image_folder(image_dir, 16, seed=0)
    guard = info["guard"]
    assert guard == guard_size(40) >= 1
    number = {}  # file number -> split
    for name, ranges in info["file_ranges"].items():
        for first, last, count in ranges:
            lo, hi = int(first[:-4]), int(last[:-4])
            assert hi - lo + 1 == count  # a range is contiguous in numeric order
            for i in range(lo, hi + 1):
                assert i not in number  # disjoint
                number[i] = name
        assert info["sizes"][name] == sum(c for _, _, c in ranges) > 0
    guards = {int(n[:-4]) for n in info["guard_files"]}
    assert guards and guards.isdisjoint(number) and guards | set(number) == set(range(1, 41))
    for i, name in number.items():  # a file's neighbours within the guard are in its own split or left out
        assert all(number.get(j, name) == name for j in range(i - guard, i + guard + 1))
    kept = sorted(number)  # exactly 2 * guard files left out at each border between two splits, none elsewhere
    gaps = [(b - a - 1, number[a] != number[b]) for a, b in zip(kept, kept[1:])]
    assert all(gap == (2 * guard if border else 0) for gap, border in gaps)
    assert kept[0] == 1 and kept[-1] == 40 and len(guards) == 2 * guard * sum(border for _, border in gaps)
    assert build_image_folder(image_dir, 16, seed=0)[1] == info  # deterministic
    assert (
        build_image_folder(image_dir, 16, seed=1)[1]["file_ranges"] != info["file_ranges"]
    )  # the blocks' roles follow --seed


def test_each_contiguous_block_of_files_is_one_volume(image_dir):
    """The per-volume PSNR's volumes: one id per contiguous range of files of a split, in file order."""
    datasets, info = build_image_folder(image_dir, 16, seed=0)
    for name, ranges in info["file_ranges"].items():
        expected = np.concatenate([np.full(count, i) for i, (_, _, count) in enumerate(ranges)])
        assert datasets[name].volumes.tolist() == expected.tolist()


def test_mni_slabs_and_fastmri_files_are_volumes(tmp_path):
    from mri_cs.data.fastmri import build_fastmri
    from mri_cs.data.mni152 import SLABS_PER_AXIS, build_mni152

    volume = np.zeros((64, 70, 60), dtype=np.float32)
    volume[4:60, 4:66, 2:58] = np.random.default_rng(0).uniform(0.5, 1.0, (56, 62, 56))
    datasets, info = build_mni152(16, 0, volume)
    test = datasets["test"].volumes
    counts = [info["slabs_first_last_count"][f"axis{a}"]["test"][2] for a in range(3)]
    assert len(test) == sum(counts) and (np.diff(test) >= 0).all()
    for a, n in enumerate(counts):  # every axis's test slices carry that axis's ids only
        ids = test[sum(counts[:a]) : sum(counts[: a + 1])]
        assert len(ids) == n and (ids // SLABS_PER_AXIS == a).all()
    fastmri, _ = build_fastmri(make_fastmri_dir(tmp_path / "knee", n_train=1, n_val=4, slices=3), 16, 0)
    assert fastmri["test"].volumes.tolist() == [0, 0, 0, 1, 1, 1]


def test_an_image_sample_is_its_resized_file_and_its_kspace_inverts_to_it(image_dir):
    datasets, info = build_image_folder(image_dir, 32, seed=0)
    first_test = info["file_ranges"]["test"][0][0]
    kspace, target = datasets["test"][0]
    assert kspace.shape == (32, 32, 2) and target.shape == (1, 32, 32) and float(target.max()) == pytest.approx(1.0)
    expected = square_images(torch.from_numpy(read_image(image_dir / first_test))[None], 32)[0, ..., 0]
    torch.testing.assert_close(target[0], expected)
    torch.testing.assert_close(freq_to_image(kspace), target[0], atol=1e-5, rtol=1e-4)  # centred iFFT magnitude
    image = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(torch.view_as_complex(kspace).numpy()), norm="ortho"))
    np.testing.assert_allclose(np.abs(image), target[0].numpy(), atol=1e-5)  # the same with numpy's FFT


def test_16_bit_images_and_bad_files(tmp_path):
    folder = make_image_dir(tmp_path / "deep", n=30, bits=16)
    assert read_image(folder / "3.png").max() > 255
    datasets, info = build_datasets(folder, 16, 0)
    assert info["layout"] == "image folder" and sum(info["sizes"].values()) + len(info["guard_files"]) == 30
    broken = info["file_ranges"]["test"][-1][1]  # guard files are never read; a test file is
    (folder / broken).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DataError, match=f"{broken} is not a readable image"):
        build_image_folder(folder, 16, 0)
    with pytest.raises(DataError, match="need at least 30"):
        build_image_folder(make_image_dir(tmp_path / "few", n=12), 16, 0)


def test_nifti_volumes_split_by_volume_or_by_slabs(tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for i in range(4):
        write_nifti(many / f"sub{i}.nii.gz", seed=i)
    datasets, info = build_nifti(many, 16, seed=0)
    vols = info["volumes"]
    assert sorted(sum(vols.values(), [])) == [f"sub{i}.nii.gz" for i in range(4)] and all(vols.values())
    assert info["sizes"] == {k: sum(info["slices_per_volume"][v] for v in vols[k]) for k in vols}
    kspace, target = datasets["val"][0]
    torch.testing.assert_close(freq_to_image(kspace), target[0], atol=1e-5, rtol=1e-4)

    one = tmp_path / "one"
    one.mkdir()
    write_nifti(one / "brain.nii", shape=(60, 64, 56))
    datasets, info = build_datasets(one, 16, seed=0)
    assert info["layout"] == "NIfTI volumes" and "slabs" in info["split"] and all(len(d) for d in datasets.values())
    assert set(info["slabs_first_last_count"]) == {"brain.nii"}
    (one / "broken.nii.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="broken.nii.gz"):
        build_nifti(one, 16, 0)
