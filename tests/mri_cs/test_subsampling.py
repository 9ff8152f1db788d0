"""The subsampling layer: budget, real/imaginary pairing, gradients, learned start, capped mask_grad, checkpoints."""

import pytest
import torch

from mri_cs.models.model import ReconstructionModel
from mri_cs.models.subsampling import SubsamplingLayer, centre_distance
from mri_cs.models.vanilla import VanillaModel
from mri_cs.utils import center_keep_fraction, freq_to_image

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


def test_fixed_mask_is_the_uniform_random_mask_of_the_seed():
    a = SubsamplingLayer(0.3, "cpu", False, SHAPE, seed=3).hard_mask()
    uniform = torch.rand(SHAPE, generator=torch.Generator().manual_seed(3)).flatten()
    expected = torch.zeros(uniform.numel())
    expected[torch.topk(uniform, round(0.7 * SHAPE[0] * SHAPE[1])).indices] = 1
    assert torch.equal(a, expected.view(SHAPE))
    assert not torch.equal(a, SubsamplingLayer(0.3, "cpu", False, SHAPE, seed=4).hard_mask())


def test_learned_masks_start_centre_first_and_nested_across_drop_rates():
    shape = (32, 32)
    masks = [SubsamplingLayer(d, "cpu", True, shape, seed=2).hard_mask() for d in (0.1, 0.3, 0.5, 0.7, 0.9)]
    for denser, sparser in zip(masks, masks[1:]):
        assert bool((sparser <= denser).all())  # a higher drop rate keeps a subset
    fixed = SubsamplingLayer(0.5, "cpu", False, shape, seed=2).hard_mask().numpy()
    assert center_keep_fraction(masks[2].numpy()) > center_keep_fraction(fixed) + 0.2
    assert all(m[16, 16] == 1 for m in masks)


def test_learned_mask_always_measures_the_central_region():
    for learn in (True, False):
        layer = SubsamplingLayer(0.5, "cpu", learn, (32, 32), seed=0)
        region = layer.centre_region()
        assert int(region.sum()) == round(0.02 * 32 * 32) and bool(region[16, 16])  # the DC sample among them
        assert float(centre_distance((32, 32))[region].max()) < float(centre_distance((32, 32))[~region].min()) + 1e-6
        with torch.no_grad():
            layer.scores.fill_(0.5)[region] = 0.0  # the lowest scores of all
        kept = layer.hard_mask()
        assert bool(kept[region].all()) == learn and int(kept.sum()) == layer.num_keep  # the fixed mask stays top-k
    layer = SubsamplingLayer(0.5, "cpu", True, (32, 32), seed=0)
    start = layer.scores.detach().clone()
    grad = torch.randn(32, 32, generator=torch.Generator().manual_seed(3))
    with_gradient(layer, start, grad).mask_grad(0.05)
    moved = layer.scores.detach() != start
    assert not bool(moved[layer.centre_region()].any()) and float(moved.float().mean()) > 0.9


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


def test_output_ignores_the_unmeasured_samples():
    """Whatever the network's weights, k-space changed only where the mask dropped it gives the same output
    (an inverted data-consistency mask reads exactly those samples)."""
    torch.manual_seed(0)
    model = ReconstructionModel(0.5, "cpu", False, shape=(16, 16), width=4).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        k = torch.randn(2, 16, 16, 2)
        changed = k + 5 * torch.randn_like(k) * (1 - model.subsample.hard_mask())[None, :, :, None]
        torch.testing.assert_close(model(changed), model(k), atol=1e-5, rtol=0)


def with_gradient(layer: SubsamplingLayer, scores: torch.Tensor, grad: torch.Tensor) -> SubsamplingLayer:
    with torch.no_grad():
        layer.scores.copy_(scores)
    layer.scores.requires_grad_(True)
    layer.scores.grad = grad.clone()
    return layer


def standardised_by_group(g: torch.Tensor, kept: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(g)  # the always-measured centre does not move
    for group in (kept & ~centre, ~kept):
        z[group] = (g[group] - g[group].mean()) / g[group].std()
    return z


def test_mask_grad_step_is_capped_and_scale_free():
    """One huge gradient (the k-space centre) moves its score by lr, not across the range; the others move by lr
    times their gradient standardised within their group (measured or dropped), whatever its scale and offset."""
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=5)
    start = layer.scores.detach().clone() * 0.5 + 0.25  # distinct scores, away from the clamp
    kept = layer.hard_mask().bool()
    g = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    dropped_outlier = tuple(int(i) for i in (~kept).nonzero()[0])
    g[dropped_outlier] = -1e4  # dozens of standard deviations: an uncapped standardised step moved it by 0.05 * 9.7
    steps = []
    for raw in (g, 1e-6 * g, 1e3 * g + 7.0):  # k-space gradients span orders of magnitude
        largest = with_gradient(layer, start, raw).mask_grad(0.05)
        step = start - layer.scores.detach()
        assert layer.scores.grad is None  # consumed
        assert float(step.abs().max()) <= 0.05 + 1e-6 and largest == pytest.approx(float(step.abs().max()), abs=1e-6)
        assert float(step[dropped_outlier]) == pytest.approx(-0.05, abs=1e-6)
        steps.append(step)
    torch.testing.assert_close(steps[1], steps[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(steps[2], steps[0], atol=1e-5, rtol=0)
    g[dropped_outlier] = 0.0  # without an outlier the bulk moves by lr times its standardised gradient, capped
    with_gradient(layer, start, g).mask_grad(0.05)
    torch.testing.assert_close(
        start - layer.scores.detach(),
        0.05 * standardised_by_group(g, kept, layer.centre_region()).clamp(-1, 1),
        atol=1e-6,
        rtol=0,
    )
    assert float(((start - layer.scores.detach()).abs() > 0.005).float().mean()) > 0.5


def test_mask_grad_ignores_the_bias_between_measured_and_dropped_positions():
    """A gradient that only says "measured: less, dropped: more" (the straight-through bias) moves nothing; the old
    all-positions standardisation pulled every score towards the top-k threshold."""
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=5)
    start = layer.scores.detach().clone()
    kept = layer.hard_mask().bool()
    bias = torch.where(kept, 1.0, -1.0)
    with_gradient(layer, start, bias).mask_grad(0.05)
    assert torch.equal(layer.scores.detach(), start)
    noise = 0.01 * torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    for _ in range(50):  # the bias plus noise: the scores keep their spread instead of collapsing on the threshold
        with_gradient(layer, layer.scores.detach().clone(), bias + noise).mask_grad(0.05)
    assert float(layer.scores.detach().std()) > 0.8 * float(start.std())


def test_mask_grad_with_zero_lr_freezes_the_mask():
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=5)
    before = layer.scores.detach().clone()
    assert with_gradient(layer, before, torch.randn(SHAPE)).mask_grad(0.0) == 0.0
    assert torch.equal(layer.scores.detach(), before) and layer.scores.grad is None


def test_mask_grad_step_is_large_enough_to_change_ranks():
    """With a tiny raw gradient an unnormalised step would leave the mask as it is; the standardised one moves it."""
    layer = SubsamplingLayer(0.5, "cpu", learn_mask=True, shape=SHAPE, seed=0)
    before = layer.hard_mask().clone()
    layer.scores.requires_grad_(True)
    layer.scores.grad = 1e-8 * torch.randn(SHAPE, generator=torch.Generator().manual_seed(2))
    layer.mask_grad(0.5)
    assert not torch.equal(layer.hard_mask(), before)
