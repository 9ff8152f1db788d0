"""discrete_2d_convolution against scipy.signal.correlate2d;
Dice losses against hand computations and nn.BCEWithLogitsLoss."""

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d, correlate2d
from torch import nn

from medical_cnn.utils import DiceCELoss, DiceLoss, discrete_2d_convolution, naive_2d_convolution


@pytest.mark.parametrize(
    "image_shape, kernel_shape",
    [((16, 16), (3, 3)), ((13, 20), (5, 5)), ((9, 7), (4, 3)), ((8, 8), (2, 6)), ((5, 6), (9, 9)), ((1, 1), (1, 1))],
)
@pytest.mark.parametrize("fn", [discrete_2d_convolution, naive_2d_convolution])
def test_matches_scipy_correlate2d_same(fn, image_shape, kernel_shape):
    rng = np.random.default_rng(sum(image_shape) + sum(kernel_shape))
    image, kernel = rng.standard_normal(image_shape), rng.standard_normal(kernel_shape)
    out = fn(image, kernel)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, correlate2d(image, kernel, mode="same"), atol=1e-10)


def test_is_correlation_not_convolution():
    rng = np.random.default_rng(1)
    image, kernel = rng.standard_normal((10, 10)), np.arange(9.0).reshape(3, 3)  # asymmetric kernel
    out = discrete_2d_convolution(image, kernel)
    assert not np.allclose(out, convolve2d(image, kernel, mode="same"))
    np.testing.assert_allclose(out, convolve2d(image, kernel[::-1, ::-1], mode="same"), atol=1e-10)


def test_zero_padding_at_the_border():
    out = discrete_2d_convolution(np.ones((4, 5)), np.ones((3, 3)))
    assert out[0, 0] == 4 and out[0, 2] == 6 and out[1, 1] == 9


def test_torch_tensors_come_back_as_tensors():
    image, kernel = torch.randn(12, 11), torch.randn(3, 3)
    out = discrete_2d_convolution(image, kernel)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (12, 11)
    np.testing.assert_allclose(
        out.numpy(), correlate2d(image.double().numpy(), kernel.double().numpy(), mode="same"), atol=1e-5
    )


def test_wrong_dimensions_are_value_errors():
    with pytest.raises(ValueError, match="2-D"):
        discrete_2d_convolution(np.zeros((3, 4, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="2-D"):
        naive_2d_convolution(np.zeros((4, 4)), np.ones(3))


def reference_dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float) -> float:
    probs = [1.0 / (1.0 + np.exp(-v)) for v in logits.flatten().tolist()]
    t = targets.flatten().tolist()
    inter = sum(p * q for p, q in zip(probs, t))
    return 1.0 - (2.0 * inter + smooth) / (sum(probs) + sum(t) + smooth)


@pytest.mark.parametrize("smooth", [1.0, 0.1])
def test_dice_loss_matches_a_hand_computation_over_the_whole_batch(smooth):
    torch.manual_seed(0)
    logits = torch.randn(3, 1, 5, 4, dtype=torch.float64)
    targets = (torch.rand(3, 1, 5, 4) > 0.6).double()
    got = DiceLoss()(logits, targets, smooth=smooth)
    assert got.ndim == 0
    assert float(got) == pytest.approx(reference_dice_loss(logits, targets, smooth), rel=1e-12)


def test_dice_loss_extremes():
    targets = (torch.rand(2, 1, 8, 8) > 0.5).float()
    perfect = DiceLoss()(torch.where(targets > 0, 50.0, -50.0), targets)
    wrong = DiceLoss()(torch.where(targets > 0, -50.0, 50.0), targets)
    assert float(perfect) < 0.02 and float(wrong) > 0.95


def test_dice_ce_is_half_dice_plus_half_bce():
    torch.manual_seed(1)
    logits = torch.randn(2, 1, 6, 6, requires_grad=True)
    targets = (torch.rand(2, 1, 6, 6) > 0.5).float()
    got = DiceCELoss()(logits, targets)
    expected = 0.5 * reference_dice_loss(logits.detach().double(), targets.double(), 1.0) + 0.5 * float(
        nn.BCEWithLogitsLoss()(logits.detach(), targets)
    )
    assert got.item() == pytest.approx(expected, rel=1e-5)
    got.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_losses_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        DiceLoss()(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="same shape"):
        DiceCELoss()(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5))
