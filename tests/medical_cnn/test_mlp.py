"""The hand-written Linear and MLP against torch.nn."""

import math

import pytest
import torch
from torch import nn

from medical_cnn.mlp import MLP, Linear


def test_linear_matches_nn_linear_with_the_same_weights():
    torch.manual_seed(0)
    ours, ref = Linear(7, 5), nn.Linear(7, 5)
    assert ours.weight.shape == ref.weight.shape == (5, 7) and ours.bias.shape == (5,)
    with torch.no_grad():
        ours.weight.copy_(ref.weight)
        ours.bias.copy_(ref.bias)
    x = torch.randn(3, 4, 7, requires_grad=True)
    torch.testing.assert_close(ours(x), ref(x))
    ours(x).square().sum().backward()
    ours_grad = ours.weight.grad.clone()
    ref(x).square().sum().backward()
    torch.testing.assert_close(ours_grad, ref.weight.grad)


def test_linear_rejects_wrong_feature_size():
    with pytest.raises(ValueError, match="expects"):
        Linear(4, 2)(torch.randn(3, 5))


def test_mlp_is_built_from_our_linear_layers():
    model = MLP(12, [8, 6], 3)
    hidden, output = model._build_layers(12, [8, 6], 3)
    assert isinstance(hidden, nn.ModuleList) and len(hidden) == 2
    assert all(isinstance(layer, Linear) for layer in hidden) and isinstance(output, Linear)
    assert [(layer.in_features, layer.out_features) for layer in hidden] == [(12, 8), (8, 6)]
    assert (output.in_features, output.out_features) == (6, 3)
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def test_glorot_normal_variance_and_zero_bias():
    torch.manual_seed(0)
    layer = Linear(600, 400)
    MLP._initialize_linear_layer(layer)
    expected = 2.0 / (600 + 400)
    assert torch.count_nonzero(layer.bias) == 0
    assert abs(layer.weight.mean().item()) < 0.02 * math.sqrt(expected)
    assert layer.weight.var().item() == pytest.approx(expected, rel=0.03)
    # every layer of a fresh MLP is initialised this way
    model = MLP(784, [500], 10)
    assert model.hidden_layers[0].weight.var().item() == pytest.approx(2.0 / (784 + 500), rel=0.05)
    assert torch.count_nonzero(model.output_layer.bias) == 0


def test_glorot_weights_are_normal_not_uniform_with_the_same_variance():
    """Glorot *uniform* U(-a, a), a = sqrt(6 / (fan_in + fan_out)), has the same variance; its shape differs:
    no weight beyond a, and a kurtosis of 1.8 instead of the normal's 3."""
    torch.manual_seed(0)
    layer = Linear(600, 400)
    MLP._initialize_linear_layer(layer)
    w = layer.weight.detach().double().flatten()
    bound = math.sqrt(6.0 / (600 + 400))
    assert w.abs().max().item() > 1.5 * bound  # a normal sample of 240,000 reaches ~4.5 std = 2.6 a
    z = (w - w.mean()) / w.std()
    assert z.pow(4).mean().item() == pytest.approx(3.0, abs=0.1)


def test_initialisation_leaves_other_modules_alone():
    conv = nn.Conv2d(1, 1, 3)
    before = conv.weight.clone()
    MLP._initialize_linear_layer(conv)
    torch.testing.assert_close(conv.weight, before)


@pytest.mark.parametrize("name, fn", [("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)])
def test_activation_fn_matches_torch(name, fn):
    x = torch.linspace(-3, 3, 13)
    torch.testing.assert_close(MLP(4, [3], 2).activation_fn(name, x), fn(x))


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP.activation_fn("gelu", torch.zeros(2))
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(4, [3], 2, activation="softplus")


def test_forward_flattens_images_and_uses_the_activation():
    torch.manual_seed(0)
    model = MLP(3 * 28 * 28, [64, 32], 9, activation="tanh")
    x = torch.randn(5, 3, 28, 28)
    out = model(x)
    assert out.shape == (5, 9)
    manual = x.reshape(5, -1)
    for layer in model.hidden_layers:
        manual = torch.tanh(manual @ layer.weight.T + layer.bias)
    torch.testing.assert_close(out, manual @ model.output_layer.weight.T + model.output_layer.bias)
    with pytest.raises(ValueError):
        model(torch.randn(5, 1, 28, 28))
