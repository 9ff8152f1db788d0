"""A multi-layer perceptron built from a hand-written fully connected layer.

``Linear`` computes ``y = x W^T + b`` exactly like ``torch.nn.Linear`` (same
parameter shapes, same default initialisation), so the two agree when given the
same weights. ``MLP`` stacks them, re-initialises every layer with Glorot/Xavier
normal weights and zero biases, and flattens its input, so it takes images
``(B, C, H, W)`` as well as vectors ``(B, D)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


class Linear(nn.Module):
    """Fully connected layer: ``(..., in_features) -> (..., out_features)``.

    Attributes:
        weight: ``(out_features, in_features)``.
        bias: ``(out_features,)``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        # BEGIN SOLUTION
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in={in_features}, out={out_features}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
        bound = 1.0 / math.sqrt(in_features)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ weight.T + bias``: ``(..., in_features) -> (..., out_features)``."""
        # BEGIN SOLUTION
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects (..., {self.in_features}), got shape {tuple(x.shape)}")
        return x @ self.weight.T + self.bias
        # END SOLUTION

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class MLP(nn.Module):
    """Flatten, then ``len(hidden_sizes)`` hidden ``Linear`` + activation layers, then an output ``Linear``.

    Args:
        input_size: number of input features (``C * H * W`` for images).
        hidden_sizes: width of each hidden layer, e.g. ``[256, 128]``.
        num_classes: number of output logits.
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``.

    Shapes: ``(B, *)`` with ``prod(*) == input_size`` -> ``(B, num_classes)`` logits.
    """

    def __init__(
        self, input_size: int, hidden_sizes: Sequence[int], num_classes: int, activation: str = "relu"
    ) -> None:
        # BEGIN SOLUTION
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        self.input_size = int(input_size)
        self.activation = activation
        self.hidden_layers, self.output_layer = self._build_layers(self.input_size, list(hidden_sizes), num_classes)
        self.apply(self._initialize_linear_layer)
        # END SOLUTION

    def _build_layers(
        self, input_size: int, hidden_sizes: Sequence[int], num_classes: int
    ) -> tuple[nn.ModuleList, Linear]:
        """Return ``(hidden layers, output layer)``; each hidden layer feeds the next."""
        # BEGIN SOLUTION
        sizes = [input_size, *hidden_sizes]
        hidden = nn.ModuleList(Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        return hidden, Linear(sizes[-1], num_classes)
        # END SOLUTION

    @staticmethod
    def _initialize_linear_layer(module: nn.Module) -> None:
        """Glorot/Xavier normal weights, ``std = sqrt(2 / (fan_in + fan_out))``, and zero bias
        (other modules untouched)."""
        # BEGIN SOLUTION
        if isinstance(module, Linear):
            std = math.sqrt(2.0 / (module.in_features + module.out_features))
            with torch.no_grad():
                module.weight.normal_(0.0, std)
                module.bias.zero_()
        # END SOLUTION

    @staticmethod
    def activation_fn(activation: str, inputs: torch.Tensor) -> torch.Tensor:
        """Apply the named activation (``relu``, ``tanh`` or ``sigmoid``) element-wise."""
        # BEGIN SOLUTION
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        return ACTIVATIONS[activation](inputs)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of ``x`` of any shape ``(B, ...)`` with ``input_size`` features per sample."""
        # BEGIN SOLUTION
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.input_size:
            raise ValueError(f"MLP expects {self.input_size} features per sample, got input of shape {tuple(x.shape)}")
        for layer in self.hidden_layers:
            x = self.activation_fn(self.activation, layer(x))
        return self.output_layer(x)
        # END SOLUTION
