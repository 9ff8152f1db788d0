"""The subsampling layer: budget, real/imaginary pairing, gradients, mask_grad, checkpointing."""
import numpy as np
import pytest
import torch

from mri_cs.models.model import ReconstructionModel
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.models.vanilla import VanillaModel
from mri_cs.utils import freq_to_image

SHAPE = (16, 12)


@pytest.mark.parametrize("drop", [0.0, 0.1, 0.3, 0.55, 0.9])
def test_keeps_exactly_the_requested_fraction(drop):
    layer = SubsamplingLayer(drop, "cpu", learn_mask=True, shape=SHAPE)
    mask = layer.hard_mask()
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert int(mask.sum()) == round((1 - drop) * SHAPE[0] * SHAPE[1])


def test_real_and_imaginary_parts_are_masked_alike():
    layer = SubsamplingLayer(0.4, "cpu", learn_mask=False, shape=SHAPE)
    out = layer.subsample(torch.randn(2, *SHAPE, 2) + 5.0)  # no sample is zero before masking
    assert torch.equal(out[..., 0] == 0, out[..., 1] == 0)
    assert torch.equal((out[0, ..., 0] != 0).float(), layer.hard_mask())


def test_forward_is_the_zero_filled_magnitude():
    layer = SubsamplingLayer(0.3, "cpu", learn_mask=False, shape=SHAPE)
    k = torch.randn(3, *SHAPE, 2)
    out = layer(k)
    assert out.shape == (3, 1, *SHAPE)
    torch.testing.assert_close(out[:, 0], freq_to_image(k * layer.hard_mask()[..., None]))
    assert torch.equal(SubsamplingLayer(0.0, "cpu", False, SHAPE).hard_mask(), torch.ones(SHAPE))


def test_straight_through_gradient_reaches_the_scores():
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE)
    layer(torch.randn(2, *SHAPE, 2)).sum().backward()
    grad = layer.scores.grad
    assert grad is not None and grad.abs().sum() > 0
    dropped = layer.hard_mask() == 0
    assert grad[dropped].abs().sum() > 0  # dropped samples learn how much they would help


@pytest.mark.parametrize("learn", [True, False])
def test_mask_changes_after_mask_grad_only_when_learning(learn):
    torch.manual_seed(0)
    model = ReconstructionModel(0.5, "cpu", learn, shape=(16, 16), width=4)
    before_mask, before_scores = model.subsample.hard_mask().clone(), model.subsample.scores.detach().clone()
    k, t = torch.randn(2, 16, 16, 2), torch.rand(2, 1, 16, 16)
    for _ in range(5):
        torch.nn.functional.l1_loss(model(k), t).backward()
        model.subsample.mask_grad(0.5)
    scores = model.subsample.scores.detach()
    assert bool((scores >= 0).all() and (scores <= 1).all())  # the clamp is applied in place
    assert torch.equal(model.subsample.hard_mask(), before_mask) != learn
    assert torch.equal(scores, before_scores) != learn
    assert int(model.subsample.hard_mask().sum()) == 128


def test_optimizer_never_sees_the_scores_and_the_mask_is_in_the_checkpoint():
    model = VanillaModel(0.3, "cpu", True, shape=SHAPE, mask_seed=1)
    assert all(p is not model.subsample.scores for p in model.parameters())
    with torch.no_grad():
        model.subsample.scores.copy_(torch.linspace(0, 1, SHAPE[0] * SHAPE[1]).view(SHAPE))
    other = VanillaModel(0.3, "cpu", True, shape=SHAPE, mask_seed=2)
    assert not torch.equal(other.subsample.hard_mask(), model.subsample.hard_mask())
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.subsample.hard_mask(), model.subsample.hard_mask())


def test_fixed_mask_depends_only_on_the_seed():
    a = SubsamplingLayer(0.3, "cpu", False, SHAPE, seed=3).hard_mask()
    assert torch.equal(a, SubsamplingLayer(0.3, "cpu", True, SHAPE, seed=3).hard_mask())
    assert not torch.equal(a, SubsamplingLayer(0.3, "cpu", False, SHAPE, seed=4).hard_mask())


@pytest.mark.parametrize("drop", [-0.1, 1.0, 1.5])
def test_bad_drop_rate(drop):
    with pytest.raises(ValueError, match="drop_rate"):
        SubsamplingLayer(drop, "cpu", False, SHAPE)


def test_data_consistency_returns_the_measurement_when_nothing_is_dropped():
    model = ReconstructionModel(0.0, "cpu", False, shape=(16, 16), width=4).eval()
    k = torch.randn(2, 16, 16, 2)
    with torch.no_grad():
        out = model(k)
    assert out.shape == (2, 1, 16, 16)
    torch.testing.assert_close(out[:, 0], freq_to_image(k), atol=1e-5, rtol=1e-5)  # whatever the U-Net predicts
    with pytest.raises(ValueError):
        model(torch.randn(2, 8, 8, 2))


def test_mask_grad_takes_a_normalised_step():
    """The step is lr * (g - mean g) / std g, whatever the scale and offset of the raw gradient g."""
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=5)
    scores = torch.full(SHAPE, 0.5)
    g = torch.linspace(-1, 2, SHAPE[0] * SHAPE[1]).view(SHAPE) ** 3
    mean, std = float(g.mean()), float(np.std(g.numpy(), ddof=1))
    expected = np.clip(0.5 - 0.05 * (g.numpy() - mean) / std, 0, 1)
    for raw in (g, 1e-6 * g, 1e3 * g + 7.0):  # k-space gradients span orders of magnitude
        with torch.no_grad():
            layer.scores.copy_(scores)
        layer.scores.requires_grad_(True)
        layer.scores.grad = raw.clone()
        layer.mask_grad(0.05)
        np.testing.assert_allclose(layer.scores.detach().numpy(), expected, atol=1e-4)
        assert layer.scores.grad is None  # consumed


def test_mask_grad_step_is_large_enough_to_change_ranks():
    """With a tiny raw gradient an unnormalised step would leave the mask as it is; the normalised one moves it."""
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=0)
    before = layer.hard_mask().clone()
    layer.scores.requires_grad_(True)
    layer.scores.grad = -1e-8 * (1 - before)  # favour every dropped position, very weakly
    layer.mask_grad(0.5)
    assert not torch.equal(layer.hard_mask(), before)
