"""The three latent families: reparameterised sampling, gradients and divergences to the prior."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from torch import distributions as D

from auto_decoder.VariationalAutoDecoder import FAMILIES, Logistic, VariationalLatentTable

LOC = torch.tensor([-1.5, 0.0, 0.7, 3.0], dtype=torch.float64)
SCALE = torch.tensor([0.3, 1.0, 2.0, 0.05], dtype=torch.float64)


def torch_reference(family: str, loc, scale):
    """The same distribution built from torch.distributions (logistic as a transformed uniform)."""
    if family == "gaussian":
        return D.Normal(loc, scale)
    if family == "laplace":
        return D.Laplace(loc, scale)
    base = D.Uniform(torch.zeros_like(loc), torch.ones_like(loc))
    return D.TransformedDistribution(base, [D.SigmoidTransform().inv, D.AffineTransform(loc, scale)])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_sampler_mean_and_variance_match_theory(name):
    family = FAMILIES[name]
    torch.manual_seed(0)
    n = 200_000
    z = family.rsample(LOC.expand(n, -1), SCALE.expand(n, -1))
    var = family.variance(SCALE)
    # 6 standard errors: a wrong scale constant (e.g. variance 2 s^2 vs s^2) is far outside
    assert torch.allclose(z.mean(0), LOC, atol=float(6 * (var / n).sqrt().max()))
    assert torch.allclose(z.var(0), var, rtol=0.03)
    expected_var = {"gaussian": SCALE**2, "laplace": 2 * SCALE**2, "logistic": math.pi**2 / 3 * SCALE**2}[name]
    assert torch.allclose(var, expected_var)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_samples_follow_the_reference_distribution(name):
    """Kolmogorov-Smirnov distance between the sampler and the reference CDF is small."""
    torch.manual_seed(1)
    loc, scale = torch.tensor(0.5, dtype=torch.float64), torch.tensor(1.7, dtype=torch.float64)
    z = FAMILIES[name].rsample(loc.expand(50_000), scale.expand(50_000)).sort().values
    ref = torch_reference(name, loc, scale)
    cdf = ref.cdf(z) if name != "logistic" else torch.sigmoid((z - loc) / scale)
    ks = (cdf - torch.arange(1, len(z) + 1, dtype=torch.float64) / len(z)).abs().max()
    assert ks < 0.01


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_log_prob_matches_torch_distributions(name):
    z = torch.linspace(-4, 4, 17, dtype=torch.float64)[:, None]
    ref = torch_reference(name, LOC, SCALE)
    assert torch.allclose(FAMILIES[name].log_prob(z, LOC, SCALE), ref.log_prob(z.expand(-1, 4)), atol=1e-8)


@pytest.mark.parametrize("name", ["gaussian", "laplace"])
def test_closed_form_kl_matches_torch_and_monte_carlo(name):
    family = FAMILIES[name]
    closed = family.kl(LOC, SCALE)
    prior = torch_reference(name, torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(closed, D.kl_divergence(torch_reference(name, LOC, SCALE), prior), atol=1e-10)
    torch.manual_seed(2)
    mc = family.monte_carlo_kl(LOC, SCALE, num_samples=200_000)
    assert torch.allclose(mc, closed, rtol=0.03, atol=0.01)


def test_logistic_monte_carlo_kl_matches_numerical_integration():
    family = Logistic()
    assert not family.has_closed_form_kl
    torch.manual_seed(3)
    mc = family.kl(LOC, SCALE, num_samples=200_000)
    for m, s, estimate in zip(LOC.tolist(), SCALE.tolist(), mc.tolist()):

        def integrand(z, m=m, s=s):  # this iteration's loc and scale, bound now
            zt = torch.tensor(z, dtype=torch.float64)
            logq, logp = family.log_prob(zt, m, s), family.log_prob(zt, 0.0, 1.0)
            return float(logq.exp() * (logq - logp))

        exact, _ = integrate.quad(integrand, m - 40 * s, m + 40 * s, limit=200, points=[m])
        assert estimate == pytest.approx(exact, rel=0.03, abs=0.01)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_kl_is_zero_at_the_prior_and_positive_elsewhere(name):
    family = FAMILIES[name]
    torch.manual_seed(4)
    at_prior = family.kl(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), num_samples=1000)
    assert at_prior.abs().max() < 1e-9  # the MC estimate is exactly 0 too: log q = log p for every draw
    kl = family.kl(LOC, SCALE, num_samples=20_000)  # LOC[1], SCALE[1] is the prior itself
    assert (kl[[0, 2, 3]] > 0.05).all() and abs(float(kl[1])) < 1e-9


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_gradients_reach_the_distribution_parameters(name):
    torch.manual_seed(5)
    table = VariationalLatentTable(6, 3, name)
    idx = torch.tensor([1, 4])
    (table(idx).pow(2).sum() + table.kl(idx).sum()).backward()
    for emb in (table.loc, table.log_scale):
        grad = emb.weight.grad.to_dense()
        assert grad[idx].abs().min() > 0, f"{name}: zero gradient for a used {emb}"
        assert grad[[0, 2, 3, 5]].eq(0).all()  # rows not in the batch get nothing
    # the reparameterised sample's gradient w.r.t. loc is exactly 1 per coordinate
    loc = torch.zeros(5, requires_grad=True)
    FAMILIES[name].rsample(loc, torch.ones(5)).sum().backward()
    assert torch.equal(loc.grad, torch.ones(5))


def test_table_interface_and_prior_samples():
    torch.manual_seed(6)
    table = VariationalLatentTable(10, 4, "laplace", init_scale=0.2)
    idx = torch.arange(3)
    assert table(idx).shape == (3, 4) and torch.equal(table.mean(idx), table.loc(idx))
    assert table.kl(idx).shape == (3,)
    prior = table.sample_prior(100_000)
    assert prior.shape == (100_000, 4)
    assert np.allclose(prior.var(0).numpy(), 2.0, rtol=0.05)  # Laplace(0, 1) has variance 2
    with pytest.raises(ValueError):
        VariationalLatentTable(10, 4, "cauchy")
