"""Task 2: the ResidualDenoiser's contract, output = input - body(input), and the exact positive
homogeneity of its bias-free version."""

import pytest
import torch

from backprop.models import ResidualDenoiser


def test_output_is_input_minus_the_predicted_noise():
    torch.manual_seed(0)
    model = ResidualDenoiser(channels=6, depth=4, bias=True).eval()
    x = torch.rand(2, 1, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x - model.body(x))
        last = model.body[-1]
        last.weight.zero_()
        last.bias.zero_()
        torch.testing.assert_close(model(x), x, rtol=0, atol=0)  # a body that predicts no noise changes nothing
        last.bias.fill_(0.25)
        torch.testing.assert_close(model(x), x - 0.25)  # predicted noise is subtracted, not added or returned


@pytest.mark.parametrize("scale", [0.1, 0.5, 3.0, 20.0])
def test_bias_free_network_is_positively_homogeneous(scale):
    torch.manual_seed(1)
    model = ResidualDenoiser(channels=8, depth=5, bias=False).eval()
    assert not any("bias" in name for name, _ in model.named_parameters())
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    model = model.double()
    with torch.no_grad():
        torch.testing.assert_close(model(scale * x), scale * model(x), rtol=1e-10, atol=1e-12)


def test_network_with_biases_is_not_homogeneous():
    """The check above can fail: biases break f(a x) = a f(x)."""
    torch.manual_seed(1)
    model = ResidualDenoiser(channels=8, depth=5, bias=True).double().eval()
    x = torch.randn(3, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        assert not torch.allclose(model(3.0 * x), 3.0 * model(x), rtol=1e-6, atol=1e-8)


def test_any_image_size_and_bad_shapes():
    model = ResidualDenoiser(channels=4, depth=3)
    assert model(torch.rand(1, 1, 7, 9)).shape == (1, 1, 7, 9)
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError):
        ResidualDenoiser(channels=4, depth=1)
