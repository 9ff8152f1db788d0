"""Augmentation of training batches: k-space and target stay consistent, seeded, training only."""

import numpy as np
import pytest
import torch

from common.runs import load_json
from mri_cs import augment, train
from mri_cs import main as mri_main
from mri_cs.data.transforms import fft2
from mri_cs.utils import freq_to_image

from .fixtures import brain_like


def batch(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(k-space (n, size, size, 2), target (n, 1, size, size))`` of brain-like images with maximum 1."""
    rng = np.random.default_rng(0)
    images = torch.from_numpy(np.stack([brain_like(rng, (size, size)) for _ in range(n)])).float()
    images = images / images.amax(dim=(1, 2), keepdim=True)
    return fft2(torch.stack([images, torch.zeros_like(images)], dim=-1)), images.unsqueeze(1)


@pytest.mark.parametrize("kinds", [[k] for k in mri_main.AUGMENT_KINDS] + [list(mri_main.AUGMENT_KINDS)])
def test_kspace_is_recomputed_from_the_augmented_target(kinds):
    kspace, target = batch()
    new_kspace, new_target = augment.augment_batch(kspace, kinds, torch.Generator().manual_seed(1))
    assert new_kspace.shape == kspace.shape and new_target.shape == target.shape
    torch.testing.assert_close(freq_to_image(new_kspace), new_target[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(new_target.amax(dim=(1, 2, 3)), torch.ones(4), atol=1e-5, rtol=0)  # max 1, like the data
    assert (new_target - target).abs().amax() > 0.05  # it did change the images


def test_flip_is_a_symmetry_of_the_square():
    kspace, target = batch(n=8)
    _, flipped = augment.augment_batch(kspace, ["flip"], torch.Generator().manual_seed(0))
    variants = lambda x: [v for t in (x, x.transpose(-2, -1)) for v in (t, t.flip(-1), t.flip(-2), t.flip(-2, -1))]  # noqa: E731
    for new, old in zip(flipped, target):
        assert any(torch.allclose(new, v, atol=1e-5) for v in variants(old))  # exact: no interpolation
    assert not torch.allclose(flipped, target, atol=1e-5)


def test_same_seed_same_batch_other_seed_other_batch():
    kspace, _ = batch()
    kinds = list(mri_main.AUGMENT_KINDS)
    a = augment.augment_batch(kspace, kinds, torch.Generator().manual_seed(3))
    b = augment.augment_batch(kspace, kinds, torch.Generator().manual_seed(3))
    c = augment.augment_batch(kspace, kinds, torch.Generator().manual_seed(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.allclose(a[1], c[1], atol=1e-3)


def test_the_names_match_main_py():
    assert tuple(augment.AUGMENTATIONS) == mri_main.AUGMENT_KINDS


@pytest.mark.parametrize(
    "flag, expected",
    [
        ([], ["head", *mri_main.DEFAULT_AUGMENT["realistic"]]),
        (["--acquisition", "ideal"], ["head", *mri_main.DEFAULT_AUGMENT["ideal"]]),
        (["--augment", "none"], []),
        (["--augment", "noise", "head"], ["head", "noise"]),
        (["--augment", "noise", "flip", "noise"], ["flip", "noise"]),
    ],
)
def test_augment_flag(flag, expected):
    assert mri_main.parse_args(["--quick"] + flag).augment == expected


def test_head_is_a_default_only_for_the_skull_stripped_template(tmp_path):
    assert mri_main.parse_args(["--data-dir", str(tmp_path)]).augment == list(mri_main.DEFAULT_AUGMENT["realistic"])
    assert mri_main.parse_args(["--data-dir", str(tmp_path), "--augment", "head"]).augment == ["head"]


def test_augment_none_with_others_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        mri_main.parse_args(["--augment", "none", "flip"])
    assert exc.value.code == 2 and "--augment none cannot be combined with flip" in capsys.readouterr().err


@pytest.mark.parametrize("kinds", [["flip", "noise"], []])
def test_only_training_batches_are_augmented(tmp_path, monkeypatch, kinds):
    """A quick run augments its 4 training batches per epoch and nothing else (validation, test, figures)."""
    calls = []

    def spy(kspace, chosen, generator):
        calls.append(list(chosen))
        return augment.augment_batch(kspace, chosen, generator)

    monkeypatch.setattr(train, "augment_batch", spy)
    augment_flag = ["--augment"] + (kinds or ["none"])
    metrics = mri_main.main(["--quick", "--model", "vanilla", "--results-root", str(tmp_path)] + augment_flag)
    assert calls == [kinds] * (8 if kinds else 0)  # 16 training slices in batches of 4, 2 epochs
    assert metrics["n_slices"] == {"train": 16, "val": 8, "test": 8}
    assert load_json(tmp_path / "vanilla_drop0.3_fixed_quick" / "config.json")["args"]["augment"] == kinds


def test_head_wraps_the_tissue_in_a_ring_with_a_gap():
    """A disk of tissue: inside it nothing changes; half the images (seeded) get a ring outside it, with an empty gap
    at least 1 pixel wide between disk and ring; the others are untouched."""
    size, radius = 64, 16
    yy, xx = torch.meshgrid(torch.arange(size) - size / 2 + 0.5, torch.arange(size) - size / 2 + 0.5, indexing="ij")
    distance = (yy**2 + xx**2).sqrt()
    disk = (distance <= radius).float() * 0.8
    image = torch.stack([disk, torch.zeros_like(disk)], dim=-1).expand(16, -1, -1, -1).clone()
    out = augment.head(image, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[:, distance <= radius], image[:, distance <= radius])
    assert (out[..., 1] == 0).all()  # the ring is real: zero phase
    added = out[..., 0] - image[..., 0]
    assert (added[:, (distance > radius) & (distance <= radius + 1)] == 0).all()  # the skull's gap
    ringed = added.flatten(1).amax(dim=1) > 0
    assert 4 <= int(ringed.sum()) <= 12  # about half the images
    assert (added[ringed][:, distance > radius + 12] == 0).all() and (added[ringed] > 0).sum(dim=(1, 2)).min() > 100
