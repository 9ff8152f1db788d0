"""A3, B2, B3, B9: receptive fields, parameter counts, momentum and the diffusion prior term."""

import math

import numpy as np
import torch

from dry import compute


def measured_receptive_field(layers) -> int:
    """Width of the input region whose gradient is non-zero for the centre output unit."""
    net = torch.nn.Sequential(*[torch.nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False) for k, s, d in layers])
    for conv in net:
        torch.nn.init.ones_(conv.weight)  # positive weights: no accidental cancellation
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    out = net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    columns = torch.nonzero(x.grad[0, 0].abs().sum(dim=0))
    return int(columns.max() - columns.min() + 1)


def test_receptive_fields(answers):
    rows = answers.rows("rf_table")
    assert set(rows) == set(compute.RF_EXAMPLES)
    for name, layers in compute.RF_EXAMPLES.items():
        assert int(rows[name][0]) == measured_receptive_field(layers) == compute.receptive_field(layers), name


def test_parameter_counts(answers):
    dense, conv = (int(row[1].replace(",", "")) for row in answers.table("param_table"))
    assert dense == 3 * 224 * 224 * 1000 + 1000
    assert conv == 3 * 64 * 3 * 3 + 64


def heavy_ball_iterations(lr: float, beta: float) -> int:
    curvature = np.array([1.0, 100.0])
    prev = x = np.array([1.0, 1.0])
    t = 0
    while np.linalg.norm(x) > 1e-6 * math.sqrt(2):
        x, prev = x - lr * curvature * x + beta * (x - prev), x
        t += 1
    return t


def test_momentum_table(answers, close_as_written):
    rows = answers.rows("momentum_table")
    big_l, mu = 100.0, 1.0
    b = ((math.sqrt(big_l) - 1) / (math.sqrt(big_l) + 1)) ** 2
    settings = {
        "gradient descent, lr = 1/L": (1 / big_l, 0.0, 1 - mu / big_l),
        "gradient descent, lr = 2/(L + mu)": (2 / (big_l + mu), 0.0, 99 / 101),
        "heavy-ball momentum, tuned": (4 / (math.sqrt(big_l) + 1) ** 2, b, math.sqrt(b)),
    }
    assert set(rows) == set(settings)
    for name, (lr, beta, rate) in settings.items():
        close_as_written([rows[name][:3]], [[lr, beta, rate]], name)
        assert int(rows[name][3]) == heavy_ball_iterations(lr, beta), name
    iters = [int(rows[name][3]) for name in settings]
    assert iters[2] < iters[1] < iters[0], "momentum converges fastest, as the answer claims"


def test_diffusion_prior_term(answers, close_as_written):
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bar = torch.prod(1 - betas)
    q = torch.distributions.Normal(alpha_bar.sqrt() * 1.0, (1 - alpha_bar).sqrt())
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    close_as_written(answers.matrix("ddpm_table"), [[float(alpha_bar)], [float(alpha_bar.sqrt())], [float(kl)]], "DDPM")
