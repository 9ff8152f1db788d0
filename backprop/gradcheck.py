"""Task 1 experiment: gradcheck (float64) of the hand-written Functions and of a network built from them,
and the hand-derived first-layer gradients against autograd."""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from backprop.functions import FullyConnectedNet, LinearFunction, ReLUFunction, first_layer_grads
from common.runs import open_run, save_json, seed_everything

# Arguments a --resume must repeat: all but --device, --results-root, --name, --resume, --overwrite and --download.
FIXED_ON_RESUME = ("seed", "quick", "precision", "command")


def gradchecks(device: torch.device, n: int = 8, sizes: tuple[int, ...] = (6, 5, 4, 3)) -> dict:
    """Run every check on random float64 tensors; returns the metrics.json content."""
    dt = dict(dtype=torch.float64, device=device)
    x = torch.randn(n, sizes[0], **dt, requires_grad=True)
    w = torch.randn(sizes[1], sizes[0], **dt, requires_grad=True)
    b = torch.randn(sizes[1], **dt, requires_grad=True)
    net = FullyConnectedNet(list(sizes)).to(**dt)
    params = dict(net.named_parameters())

    def net_of(x_, *p):  # the network as a function of its input and all its parameters
        return torch.func.functional_call(net, dict(zip(params, p)), (x_,))

    gradcheck = torch.autograd.gradcheck
    metrics: dict = {
        "gradcheck": {
            "LinearFunction": bool(gradcheck(LinearFunction.apply, (x, w, b))),
            "LinearFunction_no_bias": bool(gradcheck(LinearFunction.apply, (x, w, None))),
            "ReLUFunction": bool(gradcheck(ReLUFunction.apply, (x,))),
            "FullyConnectedNet": bool(gradcheck(net_of, (x, *params.values()))),
        }
    }

    # Hand-derived dL/dW1, dL/db1 of the MSE loss vs what autograd accumulates in .grad.
    target = torch.randn(n, sizes[-1], **dt)
    net.zero_grad()
    F.mse_loss(net(x.detach()), target).backward()
    grad_w, grad_b = first_layer_grads(net, x.detach(), target)
    first = net[0]
    metrics["first_layer_manual_vs_autograd"] = {
        "max_abs_diff_weight": float((grad_w - first.weight.grad).abs().max()),
        "max_abs_diff_bias": float((grad_b - first.bias.grad).abs().max()),
        "match": bool(torch.allclose(grad_w, first.weight.grad) and torch.allclose(grad_b, first.bias.grad)),
    }
    return metrics


def run(args: argparse.Namespace, device: torch.device) -> str:
    """The ``gradcheck`` command; returns its last line (run folder and headline numbers)."""
    seed_everything(args.seed)
    with open_run(
        args,
        FIXED_ON_RESUME,
        dataset={"name": "random float64 tensors"},
        device=str(device),
        started=time.strftime("%Y-%m-%d %H:%M:%S"),
    ) as run_dir:
        metrics = gradchecks(device)
        save_json(run_dir / "metrics.json", metrics)
    for name, ok in metrics["gradcheck"].items():
        print(f"gradcheck {name:24s} {'passed' if ok else 'FAILED'}")
    m = metrics["first_layer_manual_vs_autograd"]
    passed = sum(metrics["gradcheck"].values())
    return (
        f"{run_dir}: gradcheck {passed}/{len(metrics['gradcheck'])} passed; first layer "
        f"hand-derived vs autograd max |dW| diff {m['max_abs_diff_weight']:.2e}, "
        f"max |db| diff {m['max_abs_diff_bias']:.2e}"
    )
