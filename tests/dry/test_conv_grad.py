"""A6/B5: the analytical gradient of a Conv2d(1, 1, 32) against torch.autograd."""

import pytest
import torch

from dry import compute


def autograd_gradients(conv: torch.nn.Conv2d, x: torch.Tensor, y: torch.Tensor):
    conv.zero_grad()
    loss = ((conv(x) - y) ** 2).sum()  # (1, 1, 1) broadcast against (1, 32, 32)
    loss.backward()
    return conv.weight.grad.clone(), conv.bias.grad.clone()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_formula_matches_autograd_on_random_data(seed):
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(1, 1, 32).double()
    x, y = torch.randn(1, 32, 32, dtype=torch.float64), torch.randn(1, 32, 32, dtype=torch.float64)
    assert conv(x).shape == (1, 1, 1)
    dw, db = compute.conv_full_gradients(x, y, conv.weight.detach(), conv.bias.detach())
    ref_dw, ref_db = autograd_gradients(conv, x, y)
    assert dw.shape == conv.weight.shape and db.shape == conv.bias.shape
    torch.testing.assert_close(dw, ref_dw)
    torch.testing.assert_close(db, ref_db)
    # The closed form of the answer: 2 * sum(y_hat - y) * x and 2 * 1024 * (y_hat - mean(y)).
    y_hat = (conv.weight[0] * x).sum() + conv.bias[0]
    torch.testing.assert_close(ref_db[0], 2 * 1024 * (y_hat - y.mean()).detach())


def test_worked_example_in_the_text(answers):
    rows = {k: float(v[0]) for k, v in answers.rows("conv_example").items()}
    conv = torch.nn.Conv2d(1, 1, 32)
    with torch.no_grad():
        conv.weight.fill_(rows["W_uv (every tap)"])
        conv.bias.fill_(rows["b"])
    x = torch.full((1, 32, 32), rows["x_ij (every pixel)"])
    y = torch.full((1, 32, 32), rows["y_ij (every pixel)"])
    assert float(conv(x).detach().squeeze()) == pytest.approx(rows["y_hat"])
    dw, db = autograd_gradients(conv, x, y)
    assert float((conv(x).detach() - y).sum()) == pytest.approx(rows["sum_ij (y_hat - y_ij)"])
    assert float(db[0]) == pytest.approx(rows["dL/db"])
    assert torch.all(dw == rows["dL/dW_uv (every tap)"])


def test_wrong_shapes_are_rejected():
    with pytest.raises(ValueError):
        compute.conv_full_gradients(
            torch.zeros(1, 32, 32), torch.zeros(1, 16, 16), torch.zeros(1, 1, 32, 32), torch.zeros(1)
        )
