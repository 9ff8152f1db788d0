"""Task 1: the hand-written backward passes agree with finite differences and with autograd."""

import pytest
import torch
import torch.nn.functional as F

from backprop.functions import FullyConnectedNet, Linear, LinearFunction, ReLU, ReLUFunction, first_layer_grads

F64 = dict(dtype=torch.float64)


def test_linear_matches_torch_forward_and_backward():
    torch.manual_seed(0)
    x = torch.randn(7, 5, **F64, requires_grad=True)
    w = torch.randn(3, 5, **F64, requires_grad=True)
    b = torch.randn(3, **F64, requires_grad=True)
    g = torch.randn(7, 3, **F64)
    ours = LinearFunction.apply(x, w, b)
    ours_grads = torch.autograd.grad(ours, (x, w, b), g)
    ref = F.linear(x, w, b)
    ref_grads = torch.autograd.grad(ref, (x, w, b), g)
    torch.testing.assert_close(ours, ref)
    for a, r in zip(ours_grads, ref_grads):
        torch.testing.assert_close(a, r)


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_function_gradcheck(with_bias):
    torch.manual_seed(1)
    x = torch.randn(4, 6, **F64, requires_grad=True)
    w = torch.randn(3, 6, **F64, requires_grad=True)
    b = torch.randn(3, **F64, requires_grad=True) if with_bias else None
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, b))


def test_relu_function_gradcheck_and_zero_gradient_below_zero():
    torch.manual_seed(2)
    x = torch.randn(5, 7, **F64, requires_grad=True)
    assert torch.autograd.gradcheck(ReLUFunction.apply, (x,))
    (grad,) = torch.autograd.grad(ReLUFunction.apply(x).sum(), x)
    torch.testing.assert_close(grad, (x > 0).to(grad.dtype))


def test_relu_gradient_is_zero_at_exactly_zero_like_torch():
    """gradcheck cannot see the kink (it never samples x = 0 exactly): inputs that are exactly 0
    must get gradient 0, as torch.relu's autograd gives, not 1 (a backward using x >= 0)."""
    x = torch.tensor([[-2.0, -0.0, 0.0, 1e-30, 3.0], [0.0, 0.0, -1.0, 0.0, 0.5]], **F64)
    g = torch.randn(2, 5, **F64)
    ours = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(ReLUFunction.apply(ours), ours, g)
    ref = x.clone().requires_grad_()
    (expected,) = torch.autograd.grad(torch.relu(ref), ref, g)
    torch.testing.assert_close(grad, expected, rtol=0, atol=0)
    assert (grad[x == 0] == 0).all()
    hidden = torch.zeros(3, 4, **F64)  # a whole layer of zero pre-activations: nothing flows back
    net = FullyConnectedNet([4, 4, 2]).to(**F64)
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.zero_()
    net(hidden).sum().backward()
    assert net[0].weight.grad.abs().max() == 0 and net[0].bias.grad.abs().max() == 0


def test_gradcheck_detects_a_wrong_backward():
    """The checks above could fail: a backward missing a transpose is caught."""

    class Broken(LinearFunction):
        @staticmethod
        def backward(ctx, grad_out):
            gx, gw, gb = LinearFunction.backward(ctx, grad_out)
            return gx, 2 * gw, gb

    x = torch.randn(4, 3, **F64, requires_grad=True)
    w = torch.randn(3, 3, **F64, requires_grad=True)
    assert not torch.autograd.gradcheck(Broken.apply, (x, w, None), raise_exception=False)


def test_network_gradcheck_in_input_and_all_parameters():
    torch.manual_seed(3)
    net = FullyConnectedNet([5, 8, 6, 2]).to(**F64)
    params = dict(net.named_parameters())
    assert len(params) == 6

    def f(x, *p):
        return torch.func.functional_call(net, dict(zip(params, p)), (x,))

    x = torch.randn(4, 5, **F64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, *params.values()))


@pytest.mark.parametrize("sizes", [[4, 3], [6, 5, 2], [7, 9, 8, 3]])
def test_hand_derived_first_layer_grads_match_autograd(sizes):
    torch.manual_seed(len(sizes))
    net = FullyConnectedNet(sizes).to(**F64)
    x, target = torch.randn(10, sizes[0], **F64), torch.randn(10, sizes[-1], **F64)
    F.mse_loss(net(x), target).backward()
    grad_w, grad_b = first_layer_grads(net, x, target)
    torch.testing.assert_close(grad_w, net[0].weight.grad)
    torch.testing.assert_close(grad_b, net[0].bias.grad)


def test_network_is_built_from_the_hand_written_modules():
    net = FullyConnectedNet([4, 3, 2])
    assert [type(m) for m in net] == [Linear, ReLU, Linear]
    assert net(torch.randn(5, 4)).shape == (5, 2)


def test_bad_shapes_raise_value_error():
    with pytest.raises(ValueError):
        Linear(4, 3)(torch.randn(2, 5))
    with pytest.raises(ValueError):
        LinearFunction.apply(torch.randn(2, 4), torch.randn(3, 4), torch.randn(2))
    with pytest.raises(ValueError):
        first_layer_grads(FullyConnectedNet([4, 2]), torch.randn(3, 4), torch.randn(3, 5))
