"""Probes of auto_decoder (tests/auto_decoder/test_models.py, test_variational.py).

The samplers' checks get raw samples back and compute their statistics here, in the trusted judge.
"""

from __future__ import annotations

import math

import numpy as np

from grading.probes import probe, raised, raised_with, rand, randn

A = "auto_decoder"
FAMILY_NAMES = ("gaussian", "laplace", "logistic")
LOC = [-1.5, 0.0, 0.7, 3.0]
SCALE = [0.3, 1.0, 2.0, 0.05]
VARIANCE = {"gaussian": 1.0, "laplace": 2.0, "logistic": math.pi**2 / 3}


class Images:
    """A duck-typed dataset of float images (what PCAStart reads: ``len`` and ``batch``)."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def batch(self, idx):
        import torch

        return self.x[torch.as_tensor(idx)]


def _t(values):
    import torch

    return torch.tensor(values, dtype=torch.float64)


# ------------------------------------------------------------------ problem 1: decoder, latent table, RowAdam
@probe(A, "1")
def test_decoder_shapes_and_range(rng):
    import torch

    from auto_decoder.AutoDecoder import Decoder

    dec = Decoder(latent_dim=5)
    out = dec(randn(rng, 3, 5) * 10)
    return {
        "shape": tuple(out.shape),
        "in_0_1": bool(torch.all((out >= 0) & (out <= 1))),
        "wrong_size": raised(dec, randn(rng, 3, 4)),
    }


@probe(A, "1")
def test_latent_table_updates_only_the_batch_rows(rng):
    import torch

    from auto_decoder.AutoDecoder import LatentTable, RowAdam

    table = LatentTable(10, 4)
    opt = RowAdam(list(table.parameters()), lr=0.1)
    before = table.embedding.weight.detach().clone()
    table(torch.tensor([2, 5])).pow(2).sum().backward()
    opt.step()
    return {
        "changed_rows": (table.embedding.weight != before).any(dim=1),
        "kl_zero": bool(table.kl(torch.tensor([1, 2])).eq(0).all()),
        "kl_weight": float(table.kl_weight),
    }


def _pca_judge(got: dict, want: dict) -> str | None:
    """Eigenvalues, noise variance and posterior stds as the reference; means up to each direction's sign."""
    for key, rtol in (("lam", 1e-4), ("s2", 1e-4), ("std", 1e-3)):
        if not np.allclose(got[key], want[key], rtol=rtol):
            return f"{key}: differs from the probabilistic PCA posterior"
    if not np.allclose(np.abs(got["means"]), np.abs(want["means"]), atol=2e-3):
        return "posterior means differ from the probabilistic PCA posterior"
    return None


@probe(A, "1", judge=_pca_judge)
def test_pca_start_is_the_probabilistic_pca_posterior(rng):
    import torch

    from auto_decoder.AutoDecoder import PCAStart

    n, d = 20_000, 3
    w = rng.normal(size=(16, d)) * [3.0, 2.0, 1.0]
    x = rng.normal(size=(n, d)) @ w.T + 0.5 + 0.3 * rng.normal(size=(n, 16))
    images = Images(torch.from_numpy(x).float().reshape(n, 1, 4, 4))
    start = PCAStart(images, d, batch_size=3000)
    means = start.posterior_means(images, batch_size=7000)
    return {"lam": start.lam, "s2": float(start.s2), "std": start.std, "means": means}


@probe(A, "1", rtol=1e-5, atol=1e-6)
def test_row_adam_with_every_row_in_every_step_is_adam(rng):
    import torch

    from auto_decoder.AutoDecoder import RowAdam

    table = torch.nn.Embedding(6, 3, sparse=True)
    with torch.no_grad():
        table.weight.copy_(randn(rng, 6, 3))
    target = randn(rng, 6, 3)
    opt = RowAdam(list(table.parameters()), lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        (table(torch.arange(6)) - target).pow(3).abs().sum().backward()
        opt.step()
    return {"weight": table.weight}


@probe(A, "1", rtol=1e-4, atol=1e-7)
def test_row_adam_moves_a_rarely_updated_row_by_lr_whatever_the_table_size(rng):
    import torch

    from auto_decoder.AutoDecoder import RowAdam

    out = {}
    for rows in (8, 120):
        table = torch.nn.Embedding(rows, 2, sparse=True)
        opt, moves = RowAdam(list(table.parameters()), lr=0.1), []
        for _ in range(10):
            for r in range(rows):
                before = table.weight[0].detach().clone()
                opt.zero_grad()
                table(torch.tensor([r])).sum().backward()
                opt.step()
                if r == 0:
                    moves.append(float((before - table.weight[0].detach()).abs().max()))
        out[f"moves{rows}"] = moves
    dense = torch.nn.Parameter(torch.zeros(3))
    dense.grad = torch.ones(3)
    out["dense"] = raised_with(RowAdam([dense]).step, "sparse")
    return out


# ------------------------------------------------------------------ problem 2: variational families and table
def _family(name: str):
    from auto_decoder.VariationalAutoDecoder import FAMILIES

    return FAMILIES[name]


def _moments_judge(got: dict, want: dict) -> str | None:
    """Sample mean within 6 standard errors, sample variance within 3 %, the stated variance exact."""
    for name in FAMILY_NAMES:
        z, var = got[f"{name}_samples"].astype(np.float64), got[f"{name}_variance"].astype(np.float64)
        expected = VARIANCE[name] * np.asarray(SCALE) ** 2
        if not np.allclose(var, expected):
            return f"{name}: variance() is not {VARIANCE[name]:.4g} scale^2"
        if not np.allclose(z.mean(0), LOC, atol=6 * np.sqrt(expected / len(z)).max()):
            return f"{name}: the samples' mean is not loc"
        if not np.allclose(z.var(0, ddof=1), expected, rtol=0.03):
            return f"{name}: the samples' variance is not variance()"
    return None


@probe(A, "2", judge=_moments_judge)
def test_sampler_mean_and_variance_match_theory(rng):
    out = {}
    for name in FAMILY_NAMES:
        n = 200_000
        out[f"{name}_samples"] = _family(name).rsample(_t(LOC).expand(n, -1), _t(SCALE).expand(n, -1))
        out[f"{name}_variance"] = _family(name).variance(_t(SCALE))
    return out


def _cdf(name: str, z: np.ndarray, loc: float, scale: float) -> np.ndarray:
    from scipy import stats

    dist = {"gaussian": stats.norm, "laplace": stats.laplace, "logistic": stats.logistic}[name]
    return dist.cdf(z, loc=loc, scale=scale)


def _ks_judge(got: dict, want: dict) -> str | None:
    for name in FAMILY_NAMES:
        z = np.sort(got[name].astype(np.float64).ravel())
        if z.size != 50_000:
            return f"{name}: expected 50000 samples, got {z.size}"
        ks = np.abs(_cdf(name, z, 0.5, 1.7) - np.arange(1, z.size + 1) / z.size).max()
        if ks >= 0.01:
            return f"{name}: the samples do not follow the distribution (KS distance {ks:.3f})"
    return None


@probe(A, "2", judge=_ks_judge)
def test_samples_follow_the_reference_distribution(rng):
    loc, scale = _t(0.5), _t(1.7)
    return {name: _family(name).rsample(loc.expand(50_000), scale.expand(50_000)) for name in FAMILY_NAMES}


@probe(A, "2", rtol=0, atol=1e-8)
def test_log_prob_matches_torch_distributions(rng):
    import torch

    z = torch.linspace(-4, 4, 17, dtype=torch.float64)[:, None]
    return {name: _family(name).log_prob(z, _t(LOC), _t(SCALE)) for name in FAMILY_NAMES}


def _kl_judge(got: dict, want: dict) -> str | None:
    for name in ("gaussian", "laplace"):
        if not np.allclose(got[f"{name}_closed"], want[f"{name}_closed"], atol=1e-10):
            return f"{name}: the closed-form KL differs from torch's"
        if not np.allclose(got[f"{name}_mc"], want[f"{name}_closed"], rtol=0.03, atol=0.01):
            return f"{name}: the Monte Carlo KL does not agree with the closed form"
    return None


@probe(A, "2", judge=_kl_judge)
def test_closed_form_kl_matches_torch_and_monte_carlo(rng):
    out = {}
    for name in ("gaussian", "laplace"):
        out[f"{name}_closed"] = _family(name).kl(_t(LOC), _t(SCALE))
        out[f"{name}_mc"] = _family(name).monte_carlo_kl(_t(LOC), _t(SCALE), num_samples=200_000)
    return out


def _logistic_logpdf(z, m: float, s: float):
    u = (z - m) / s
    return -u - math.log(s) - 2 * np.logaddexp(0.0, -u)


def _logistic_kl_judge(got: dict, want: dict) -> str | None:
    """The Monte Carlo KL within 3 % (or 0.01) of the KL integrated numerically here."""
    from scipy import integrate

    if bool(got["closed_form"]):
        return "the logistic family claims a closed-form KL"
    for m, s, estimate in zip(LOC, SCALE, np.ravel(got["kl"]).tolist()):

        def integrand(z, m=m, s=s):
            logq = _logistic_logpdf(z, m, s)
            return math.exp(logq) * (logq - _logistic_logpdf(z, 0.0, 1.0))

        exact, _ = integrate.quad(integrand, m - 40 * s, m + 40 * s, limit=200, points=[m])
        if abs(estimate - exact) > max(0.01, 0.03 * abs(exact)):
            return f"KL at loc {m}, scale {s}: expected {exact:.4g}, got {estimate:.4g}"
    return None


@probe(A, "2", judge=_logistic_kl_judge)
def test_logistic_monte_carlo_kl_matches_numerical_integration(rng):
    from auto_decoder.VariationalAutoDecoder import Logistic

    family = Logistic()
    return {"closed_form": bool(family.has_closed_form_kl), "kl": family.kl(_t(LOC), _t(SCALE), num_samples=200_000)}


def _kl_sign_judge(got: dict, want: dict) -> str | None:
    for name in FAMILY_NAMES:
        at_prior, kl = np.abs(got[f"{name}_at_prior"]).max(), got[f"{name}_kl"]
        if at_prior >= 1e-9 or abs(float(kl[1])) >= 1e-9:
            return f"{name}: the KL is not 0 at the prior"
        if not (kl[[0, 2, 3]] > 0.05).all():
            return f"{name}: the KL is not positive away from the prior"
    return None


@probe(A, "2", judge=_kl_sign_judge)
def test_kl_is_zero_at_the_prior_and_positive_elsewhere(rng):
    import torch

    out = {}
    for name in FAMILY_NAMES:
        zeros, ones = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        out[f"{name}_at_prior"] = _family(name).kl(zeros, ones, num_samples=1000)
        out[f"{name}_kl"] = _family(name).kl(_t(LOC), _t(SCALE), num_samples=20_000)
    return out


@probe(A, "2")
def test_gradients_reach_the_distribution_parameters(rng):
    import torch

    from auto_decoder.VariationalAutoDecoder import VariationalLatentTable

    out = {}
    for name in FAMILY_NAMES:
        table = VariationalLatentTable(6, 3, name)
        idx = torch.tensor([1, 4])
        (table(idx).pow(2).sum() + table.kl(idx).sum()).backward()
        for key, emb in (("loc", table.loc), ("log_scale", table.log_scale)):
            grad = emb.weight.grad.to_dense()
            out[f"{name}_{key}_used_rows"] = bool(grad[idx].abs().min() > 0)
            out[f"{name}_{key}_other_rows_zero"] = bool(grad[[0, 2, 3, 5]].eq(0).all())
        loc = torch.zeros(5, requires_grad=True)
        _family(name).rsample(loc, torch.ones(5)).sum().backward()
        out[f"{name}_dz_dloc"] = loc.grad
    return out


def _table_judge(got: dict, want: dict) -> str | None:
    if tuple(got["shape"]) != (3, 4) or not bool(got["mean_is_loc"]) or tuple(got["kl_shape"]) != (3,):
        return "the table's sample, mean or kl has the wrong shape or value"
    prior = got["prior"].astype(np.float64)
    if prior.shape != (100_000, 4) or not np.allclose(prior.var(0, ddof=1), 2.0, rtol=0.05):
        return "sample_prior does not draw from Laplace(0, 1)"
    if str(got["unknown"]) != "ValueError":
        return f"an unknown family: expected ValueError, got {got['unknown']}"
    return None


@probe(A, "2", judge=_table_judge)
def test_table_interface_and_prior_samples(rng):
    import torch

    from auto_decoder.VariationalAutoDecoder import VariationalLatentTable

    table = VariationalLatentTable(10, 4, "laplace", init_scale=0.2)
    idx = torch.arange(3)
    return {
        "shape": tuple(table(idx).shape),
        "mean_is_loc": bool(torch.equal(table.mean(idx), table.loc(idx))),
        "kl_shape": tuple(table.kl(idx).shape),
        "prior": table.sample_prior(100_000),
        "unknown": raised(VariationalLatentTable, 10, 4, "cauchy"),
    }


@probe(A, "2", rtol=1e-5, atol=1e-6)
def test_tables_start_at_the_posterior_in_their_family(rng):
    import torch

    from auto_decoder.AutoDecoder import LatentTable, PCAStart
    from auto_decoder.VariationalAutoDecoder import VariationalLatentTable

    mean, std = randn(rng, 5, 3), torch.tensor([0.1, 0.5, 1.0])
    plain = LatentTable(5, 3)
    plain.start_at(mean, std)
    out = {"plain": plain.mean(torch.arange(5))}
    for name in FAMILY_NAMES:
        table = VariationalLatentTable(5, 3, name)
        table.start_at(mean, std)
        loc, scale = table.params(torch.arange(5))
        out[f"{name}_loc"], out[f"{name}_variance"] = loc, table.family.variance(scale)
    few = PCAStart(Images(rand(rng, 5, 1, 4, 4)), 8)
    out["few_std"] = few.std[4:]
    out["few_means_small"] = bool(few.posterior_means(Images(rand(rng, 2, 1, 4, 4)))[:, 4:].abs().max() < 1e-3)
    out["too_many"] = raised_with(PCAStart, "fewer latent dimensions than pixels", Images(rand(rng, 50, 1, 4, 4)), 16)
    return out
