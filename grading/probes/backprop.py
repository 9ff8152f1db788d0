"""Probes of backprop (tests/backprop/test_functions.py).

Every gradient is compared with the reference solution's on the same inputs, which is what gradcheck
establishes (the reference's backward agrees with finite differences, tests/backprop). Problem 3 (the
network) runs on autograd-backed stand-ins for ``LinearFunction`` and ``ReLUFunction``, so a wrong hand-written
backward costs problems 1 or 2 only, never problem 3 as well.
"""

from __future__ import annotations

from grading.probes import probe, raised, randn

A = "backprop"


def _grads(fn, inputs: list, g) -> list:
    import torch

    leaves = [t for t in inputs if t is not None and t.requires_grad]
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, leaves, g)]


# ------------------------------------------------------------------ problem 1: LinearFunction
@probe(A, "1", rtol=1e-7, atol=1e-9)
def test_linear_matches_torch_forward_and_backward(rng):
    from backprop.functions import LinearFunction

    x, w, b = (randn(rng, *s, dtype="float64").requires_grad_() for s in ((7, 5), (3, 5), (3,)))
    out, gx, gw, gb = _grads(LinearFunction.apply, [x, w, b], randn(rng, 7, 3, dtype="float64"))
    return {"out": out, "grad_x": gx, "grad_w": gw, "grad_b": gb}


@probe(A, "1", rtol=1e-7, atol=1e-9)
def test_linear_function_gradcheck(rng):
    from backprop.functions import LinearFunction

    values = {}
    for bias in (True, False):
        x, w = randn(rng, 4, 6, dtype="float64").requires_grad_(), randn(rng, 3, 6, dtype="float64").requires_grad_()
        b = randn(rng, 3, dtype="float64").requires_grad_() if bias else None
        grads = _grads(LinearFunction.apply, [x, w, b], randn(rng, 4, 3, dtype="float64"))
        values.update({f"bias{bias}_{i}": g for i, g in enumerate(grads)})
    return values


@probe(A, "1", rtol=1e-7, atol=1e-9)
def test_gradcheck_detects_a_wrong_backward(rng):
    from backprop.functions import LinearFunction

    class Broken(LinearFunction):
        @staticmethod
        def backward(ctx, grad_out):
            gx, gw, gb = LinearFunction.backward(ctx, grad_out)
            return gx, 2 * gw, gb

    x, w = randn(rng, 4, 3, dtype="float64").requires_grad_(), randn(rng, 3, 3, dtype="float64").requires_grad_()
    out, gx, gw = _grads(Broken.apply, [x, w, None], randn(rng, 4, 3, dtype="float64"))
    return {"out": out, "grad_x": gx, "doubled_grad_w": gw}


# ------------------------------------------------------------------ problem 2: ReLUFunction
@probe(A, "2", rtol=0, atol=0)
def test_relu_function_gradcheck_and_zero_gradient_below_zero(rng):
    from backprop.functions import ReLUFunction

    x = randn(rng, 5, 7, dtype="float64").requires_grad_()
    out, gx = _grads(ReLUFunction.apply, [x], randn(rng, 5, 7, dtype="float64"))
    return {"out": out, "grad": gx}


@probe(A, "2", rtol=0, atol=0)
def test_relu_gradient_is_zero_at_exactly_zero_like_torch(rng):
    import torch

    from backprop.functions import ReLUFunction

    x = torch.tensor([[-2.0, -0.0, 0.0, 1e-30, 3.0], [0.0, 0.0, -1.0, 0.0, 0.5]], dtype=torch.float64)
    _, grad = _grads(ReLUFunction.apply, [x.clone().requires_grad_()], randn(rng, 2, 5, dtype="float64"))
    net = _network_module(relu=False).FullyConnectedNet([4, 4, 2]).to(torch.float64)  # the student's ReLU only
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.zero_()
    net(torch.zeros(3, 4, dtype=torch.float64)).sum().backward()
    return {"grad": grad, "dead_layer_grads": net[0].weight.grad.abs().max() + net[0].bias.grad.abs().max()}


# ------------------------------------------------------------------ problem 3: the network, on reference Functions
class _Linear:
    """Autograd-backed ``LinearFunction``: the same checks of shapes, torch's own gradient."""

    @staticmethod
    def apply(x, weight, bias=None):
        import torch.nn.functional as F

        if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
            raise ValueError(f"expected x (N, in) and weight (out, in), got {tuple(x.shape)}, {tuple(weight.shape)}")
        if bias is not None and tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"expected bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        return F.linear(x, weight, bias)


class _ReLU:
    @staticmethod
    def apply(x):
        import torch

        return torch.relu(x)


def _network_module(relu: bool = True):
    """The student's module with its ``LinearFunction`` (and ``ReLUFunction``) replaced by autograd-backed
    stand-ins, so that the network's checks do not depend on the hand-written backward passes."""
    from backprop import functions

    functions.LinearFunction = _Linear
    if relu:
        functions.ReLUFunction = _ReLU
    return functions


def _seeded_net(functions, sizes: list[int], rng):
    import torch

    net = functions.FullyConnectedNet(sizes).to(torch.float64)
    with torch.no_grad():
        for _name, p in net.named_parameters():
            p.copy_(randn(rng, *p.shape, dtype="float64"))
    return net


@probe(A, "3", rtol=1e-7, atol=1e-9)
def test_network_gradcheck_in_input_and_all_parameters(rng):
    functions = _network_module()
    net = _seeded_net(functions, [5, 8, 6, 2], rng)
    x = randn(rng, 4, 5, dtype="float64").requires_grad_()
    params = [p for _, p in net.named_parameters()]
    out, *grads = _grads(lambda x: net(x), [x], randn(rng, 4, 2, dtype="float64"))
    import torch

    param_grads = torch.autograd.grad(net(x), params, randn(rng, 4, 2, dtype="float64"))
    return {
        "parameters": len(params),
        "out": out,
        "grad_x": grads[0],
        **{f"grad{i}": g for i, g in enumerate(param_grads)},
    }


@probe(A, "3", rtol=1e-7, atol=1e-9)
def test_hand_derived_first_layer_grads_match_autograd(rng):
    functions = _network_module()
    out = {}
    for sizes in ([4, 3], [6, 5, 2], [7, 9, 8, 3]):
        net = _seeded_net(functions, sizes, rng)
        x, target = randn(rng, 10, sizes[0], dtype="float64"), randn(rng, 10, sizes[-1], dtype="float64")
        grad_w, grad_b = functions.first_layer_grads(net, x, target)
        out[f"{len(sizes)}_w"], out[f"{len(sizes)}_b"] = grad_w, grad_b
    return out


@probe(A, "3")
def test_network_is_built_from_the_hand_written_modules(rng):
    functions = _network_module()
    net = functions.FullyConnectedNet([4, 3, 2])
    kinds = [type(m).__name__ if type(m).__module__ == functions.__name__ else "torch." + type(m).__name__ for m in net]
    return {"layers": kinds, "shape": tuple(net(randn(rng, 5, 4)).shape)}


@probe(A, "3")
def test_bad_shapes_raise_value_error(rng):
    functions = _network_module()
    return {
        "linear": raised(functions.Linear(4, 3), randn(rng, 2, 5)),
        "first_layer_grads": raised(
            functions.first_layer_grads, functions.FullyConnectedNet([4, 2]), randn(rng, 3, 4), randn(rng, 3, 5)
        ),
    }
