"""common.metrics against scikit-image / scikit-learn references, plus edge cases."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import accuracy_score, f1_score, jaccard_score

from common import metrics


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("data_range", [1.0, 2.5, None])
def test_psnr_matches_skimage(rng, data_range):
    target = rng.random((32, 40))
    pred = target + 0.05 * rng.standard_normal(target.shape)
    ref_range = data_range if data_range is not None else target.max() - target.min()
    expected = peak_signal_noise_ratio(target, pred, data_range=ref_range)
    assert metrics.psnr(pred, target, data_range) == pytest.approx(expected, rel=1e-10)
    assert metrics.psnr(torch.from_numpy(pred).float(), torch.from_numpy(target).float(), data_range) == pytest.approx(
        expected, rel=1e-5
    )


def test_batch_psnr_is_per_image(rng):
    target = rng.random((5, 1, 16, 16))
    pred = target + rng.uniform(0.01, 0.2, size=(5, 1, 1, 1)) * rng.standard_normal(target.shape)
    values = metrics.batch_psnr(pred, target, data_range=1.0)
    assert values.shape == (5,)
    for v, p, t in zip(values, pred, target):
        assert float(v) == pytest.approx(peak_signal_noise_ratio(t, p, data_range=1.0), rel=1e-10)
    assert values.std() > 0  # different noise levels give different values


def test_volume_psnr_is_fastmris_whole_volume_psnr(rng):
    """Per volume, from per-slice values: skimage's PSNR of the stacked volume with the volume's maximum as range
    (fastMRI's evaluation), which is not the mean of the slices' PSNRs."""
    target = rng.random((7, 12, 12)) * rng.uniform(0.2, 1.0, size=(7, 1, 1))  # slices of different brightness
    pred = target + rng.uniform(0.01, 0.1, size=(7, 1, 1)) * rng.standard_normal(target.shape)
    volumes = np.array([3, 3, 3, 0, 0, 5, 5])  # ids need not be contiguous or sorted
    mse = ((pred - target) ** 2).reshape(7, -1).mean(1)
    values = metrics.volume_psnr(mse, target.reshape(7, -1).max(1), volumes)
    expected = [
        peak_signal_noise_ratio(target[volumes == v], pred[volumes == v], data_range=target[volumes == v].max())
        for v in (0, 3, 5)
    ]
    assert values.tolist() == pytest.approx(expected, rel=1e-10)
    per_slice = metrics.batch_psnr(pred[volumes == 3], target[volumes == 3])
    assert float(values[1]) != pytest.approx(float(per_slice.mean()), abs=1e-3)
    assert metrics.volume_psnr(np.zeros(2), np.ones(2), np.zeros(2)).tolist() == [math.inf]
    with pytest.raises(ValueError, match="one length"):
        metrics.volume_psnr(mse, mse[:3], volumes)


def test_psnr_edge_cases(rng):
    img = rng.random((8, 8))
    assert metrics.psnr(img, img) == math.inf
    constant = np.zeros((8, 8))
    value = metrics.psnr(constant + 0.1, constant)  # constant target: range falls back to 1
    assert value == pytest.approx(20.0)
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(np.zeros((4, 4)), np.zeros((4, 5)))


@pytest.mark.parametrize("data_range", [1.0, None])
def test_ssim_matches_skimage(rng, data_range):
    target = rng.random((48, 40))
    pred = np.clip(target + 0.1 * rng.standard_normal(target.shape), 0, 1)
    ref_range = data_range if data_range is not None else target.max() - target.min()
    expected = structural_similarity(target, pred, data_range=ref_range)
    assert metrics.ssim(pred, target, data_range) == pytest.approx(expected, abs=1e-10)


def test_ssim_multichannel_and_batch(rng):
    target = rng.random((2, 3, 24, 24))
    pred = target + 0.1 * rng.standard_normal(target.shape)
    values = metrics.batch_ssim(pred, target, data_range=1.0)
    assert values.shape == (2,)
    for v, p, t in zip(values, pred, target):
        expected = structural_similarity(t, p, data_range=1.0, channel_axis=0)
        assert float(v) == pytest.approx(expected, abs=1e-10)


def test_ssim_edge_cases(rng):
    img = rng.random((16, 16))
    assert metrics.ssim(img, img) == pytest.approx(1.0)
    zeros = np.zeros((16, 16))
    assert metrics.ssim(zeros, zeros) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 7x7"):
        metrics.ssim(np.zeros((5, 5)), np.zeros((5, 5)))


def test_dice_iou_match_sklearn(rng):
    pred = rng.random((4, 20, 20)) > 0.6
    target = rng.random((4, 20, 20)) > 0.5
    assert metrics.dice(pred, target) == pytest.approx(f1_score(target.ravel(), pred.ravel()))
    assert metrics.iou(pred, target) == pytest.approx(jaccard_score(target.ravel(), pred.ravel()))
    per_image = metrics.dice(torch.from_numpy(pred), torch.from_numpy(target), per_image=True)
    assert per_image.shape == (4,)
    for v, p, t in zip(per_image, pred, target):
        assert float(v) == pytest.approx(f1_score(t.ravel(), p.ravel()))
    per_image_iou = metrics.iou(pred, target, per_image=True)
    for v, p, t in zip(per_image_iou, pred, target):
        assert float(v) == pytest.approx(jaccard_score(t.ravel(), p.ravel()))


def test_dice_iou_edge_cases():
    empty = np.zeros((6, 6))
    full = np.ones((6, 6))
    assert metrics.dice(empty, empty) == 1.0  # nothing to find, nothing found
    assert metrics.iou(empty, empty) == 1.0
    assert metrics.dice(empty, full) == 0.0  # all-zero prediction of a non-empty mask
    assert metrics.iou(empty, full) == 0.0
    batch = np.stack([empty, full])
    assert metrics.dice(batch, batch, per_image=True).tolist() == [1.0, 1.0]
    assert not torch.isnan(metrics.dice(np.stack([empty, empty]), batch, per_image=True)).any()


def test_accuracy_matches_sklearn(rng):
    logits = rng.standard_normal((50, 4))
    labels = rng.integers(0, 4, size=50)
    expected = accuracy_score(labels, logits.argmax(1))
    assert metrics.accuracy(logits, labels) == pytest.approx(expected)
    assert metrics.accuracy(torch.from_numpy(logits.argmax(1)), torch.from_numpy(labels)) == pytest.approx(expected)
    assert metrics.accuracy(np.zeros((0, 3)), np.zeros(0)) == 0.0
