"""Task 1: a linear layer and a ReLU whose backward passes are derived by hand.

Row-vector convention: a batch ``x`` of shape ``(N, in_features)`` goes through
``y = x @ W.T + b`` with ``W`` of shape ``(out_features, in_features)`` and ``b`` of
shape ``(out_features,)``, exactly as ``torch.nn.functional.linear``.

Backward of the linear map, for an upstream gradient ``g = dL/dy`` of shape ``(N, out)``:

    dL/dx = g @ W          (N, in)
    dL/dW = g.T @ x        (out, in)
    dL/db = g.sum(0)       (out,)

Backward of ReLU: ``dL/dx = g * [x > 0]`` (the sub-gradient at 0 is taken as 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class LinearFunction(torch.autograd.Function):
    """``y = x @ weight.T + bias`` with a hand-written backward; ``bias`` may be ``None``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``y (N, out) = x (N, in) @ weight.T (in, out) + bias (out,)``; saves ``x`` and ``weight`` for backward."""
        # BEGIN SOLUTION
        if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
            raise ValueError(f"expected x (N, in) and weight (out, in), got {tuple(x.shape)} and {tuple(weight.shape)}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"expected bias of shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        y = x @ weight.T
        return y + bias if bias is not None else y
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        """``(dx (N, in), dweight (out, in), dbias (out,))`` of ``grad_out (N, out)``; ``None`` where not needed."""
        # BEGIN SOLUTION
        x, weight = ctx.saved_tensors
        # Only compute what autograd asks for: a frozen weight or an input that is data needs no gradient.
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_w = grad_out.T @ x if ctx.needs_input_grad[1] else None
        grad_b = grad_out.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b
        # END SOLUTION


class ReLUFunction(torch.autograd.Function):
    """``max(x, 0)`` elementwise with a hand-written backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        """``max(x, 0)``, any shape; saves ``x`` for backward."""
        # BEGIN SOLUTION
        ctx.save_for_backward(x)
        return x.clamp_min(0)
        # END SOLUTION

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> torch.Tensor:
        """``grad_out`` where ``x > 0``, 0 elsewhere (the subgradient 0 at ``x = 0``)."""
        # BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        return grad_out * (x > 0).to(grad_out.dtype)
        # END SOLUTION


class Linear(nn.Module):
    """Fully connected layer on :class:`LinearFunction`; input ``(N, in_features)``, output ``(N, out_features)``.

    Initialised like ``torch.nn.Linear`` (uniform in ``+-1/sqrt(in_features)``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        # BEGIN SOLUTION
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_features) -> (N, out_features)`` through :class:`LinearFunction`."""
        # BEGIN SOLUTION
        return LinearFunction.apply(x, self.weight, self.bias)
        # END SOLUTION

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(nn.Module):
    """Elementwise ReLU on :class:`ReLUFunction`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``max(x, 0)`` through :class:`ReLUFunction`, any shape."""
        # BEGIN SOLUTION
        return ReLUFunction.apply(x)
        # END SOLUTION


class FullyConnectedNet(nn.Sequential):
    """``Linear -> ReLU -> ... -> Linear`` from the hand-written modules; ``(N, sizes[0]) -> (N, sizes[-1])``.

    ``sizes = [784, 256, 784]`` gives one hidden layer of 256 units.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        # BEGIN SOLUTION
        if len(sizes) < 2:
            raise ValueError(f"need at least an input and an output size, got {list(sizes)}")
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(ReLU())
        super().__init__(*layers)
        # END SOLUTION


def first_layer_grads(
    net: FullyConnectedNet, x: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """dL/dW1 and dL/db1 of ``L = mean((net(x) - target)**2)`` by explicit matrix back-propagation.

    No autograd: the forward pass keeps each layer's input and pre-activation, then the
    error ``delta = dL/dz`` is carried back layer by layer,

        delta_L = 2 (y - target) / (N * out)
        delta_{l-1} = (delta_l @ W_l) * [z_{l-1} > 0]

    and the first layer's gradients are ``delta_1.T @ x`` and ``delta_1.sum(0)``.
    ``x`` is ``(N, in)``, ``target`` is ``(N, out)``.
    """
    # BEGIN SOLUTION
    linears = [m for m in net if isinstance(m, Linear)]
    if x.ndim != 2 or x.shape[1] != linears[0].in_features:
        raise ValueError(f"expected x of shape (N, {linears[0].in_features}), got {tuple(x.shape)}")
    with torch.no_grad():
        inputs, pre_acts = [], []
        a = x
        for i, layer in enumerate(linears):
            inputs.append(a)
            z = a @ layer.weight.T + (layer.bias if layer.bias is not None else 0)
            pre_acts.append(z)
            a = z.clamp_min(0) if i < len(linears) - 1 else z
        if target.shape != a.shape:
            raise ValueError(f"target must have the output's shape {tuple(a.shape)}, got {tuple(target.shape)}")
        delta = 2 * (a - target) / a.numel()
        for i in range(len(linears) - 1, 0, -1):
            delta = (delta @ linears[i].weight) * (pre_acts[i - 1] > 0).to(delta.dtype)
        return delta.T @ inputs[0], delta.sum(0)
    # END SOLUTION
