"""Variational auto-decoders: a distribution per image instead of a point.

Each training image ``i`` owns the parameters ``(loc_i, scale_i)`` of a distribution ``q_i`` over
latents. Training draws ``z ~ q_i`` by reparameterisation (``z = loc + scale * eps``, ``eps`` from a
fixed parameter-free distribution, so gradients reach ``loc`` and ``scale``), decodes it and minimises

    -ELBO_i = BCE(x_i, decoder(z)) summed over pixels + kl_weight * KL(q_i || p)

with ``p`` the family's fixed prior (``kl_weight = 1``: the exact negative ELBO). The KL pull makes the
training latents cover the prior, so ``decoder(z)`` with ``z ~ p`` looks like data; sampling any other
distribution than the KL's target would throw that away. Three families (priors factorise over latent
dimensions, so KLs are summed over them):

* ``gaussian``: ``loc + scale * N(0, 1)``, prior ``N(0, 1)``, KL in closed form;
* ``laplace``: inverse CDF of a uniform draw, prior ``Laplace(0, 1)``, KL in closed form;
* ``logistic``: ``loc + scale * logit(U)``, prior ``Logistic(0, 1)``, KL a Monte Carlo estimate
  (there is no closed form between two logistic distributions).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

_EPS = 1e-6  # keeps uniform draws off 0 and 1, where the inverse CDFs are infinite


class LatentFamily:
    """A location-scale family of distributions over each latent coordinate.

    All methods are element-wise on ``loc`` and ``scale`` of any (equal) shape;
    ``scale > 0``.
    """

    name = "base"
    has_closed_form_kl = False

    def rsample(self, loc: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """A reparameterised draw ``z = loc + scale * eps`` of the same shape as ``loc``."""
        raise NotImplementedError

    def log_prob(self, z: torch.Tensor, loc: torch.Tensor | float, scale: torch.Tensor | float) -> torch.Tensor:
        raise NotImplementedError

    def variance(self, scale: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample_prior(self, shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        """Draws from the prior, the family member with ``loc = 0, scale = 1``."""
        return self.rsample(torch.zeros(shape, device=device), torch.ones(shape, device=device))

    def monte_carlo_kl(self, loc: torch.Tensor, scale: torch.Tensor, num_samples: int = 1) -> torch.Tensor:
        """Unbiased estimate of ``KL(q || prior)`` element-wise: the mean over ``num_samples``
        reparameterised draws ``z ~ q`` of ``log q(z) - log prior(z)`` (differentiable)."""
        # BEGIN SOLUTION
        z = self.rsample(loc.expand(num_samples, *loc.shape), scale.expand(num_samples, *scale.shape))
        return (self.log_prob(z, loc, scale) - self.log_prob(z, 0.0, 1.0)).mean(0)
        # END SOLUTION

    def kl(self, loc: torch.Tensor, scale: torch.Tensor, num_samples: int = 8) -> torch.Tensor:
        """``KL(q || prior)`` element-wise: closed form where the family has one, else Monte Carlo."""
        return self.monte_carlo_kl(loc, scale, num_samples)


class Gaussian(LatentFamily):
    """Normal(loc, scale^2); prior N(0, 1); mean loc, variance scale^2."""

    name = "gaussian"
    has_closed_form_kl = True

    def rsample(self, loc, scale):
        # BEGIN SOLUTION
        return loc + scale * torch.randn_like(loc)
        # END SOLUTION

    def log_prob(self, z, loc, scale):
        # BEGIN SOLUTION
        scale = torch.as_tensor(scale, dtype=z.dtype, device=z.device)
        return -0.5 * ((z - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)
        # END SOLUTION

    def variance(self, scale):
        # BEGIN SOLUTION
        return scale**2
        # END SOLUTION

    def kl(self, loc, scale, num_samples=8):
        # KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1) / 2 - log s
        # BEGIN SOLUTION
        return 0.5 * (scale**2 + loc**2 - 1.0) - torch.log(scale)
        # END SOLUTION


class Laplace(LatentFamily):
    """Laplace(loc, scale), density ``exp(-|z - loc| / scale) / (2 scale)``; prior Laplace(0, 1);
    mean loc, variance 2 scale^2."""

    name = "laplace"
    has_closed_form_kl = True

    def rsample(self, loc, scale):
        # inverse CDF: u ~ U(-1/2, 1/2), z = loc - scale * sign(u) * log(1 - 2|u|)
        # BEGIN SOLUTION
        u = torch.rand_like(loc).clamp(_EPS, 1 - _EPS) - 0.5
        return loc - scale * torch.sign(u) * torch.log1p(-2 * u.abs())
        # END SOLUTION

    def log_prob(self, z, loc, scale):
        # BEGIN SOLUTION
        scale = torch.as_tensor(scale, dtype=z.dtype, device=z.device)
        return -(z - loc).abs() / scale - torch.log(2 * scale)
        # END SOLUTION

    def variance(self, scale):
        # BEGIN SOLUTION
        return 2 * scale**2
        # END SOLUTION

    def kl(self, loc, scale, num_samples=8):
        # KL(Laplace(m, b) || Laplace(0, 1)) = -log b + |m| + b exp(-|m| / b) - 1
        # BEGIN SOLUTION
        return -torch.log(scale) + loc.abs() + scale * torch.exp(-loc.abs() / scale) - 1.0
        # END SOLUTION


class Logistic(LatentFamily):
    """Logistic(loc, scale), CDF ``sigmoid((z - loc) / scale)``; prior Logistic(0, 1);
    mean loc, variance pi^2 scale^2 / 3. No closed-form KL: the base class's Monte Carlo estimate is used."""

    name = "logistic"

    def rsample(self, loc, scale):
        # BEGIN SOLUTION
        u = torch.rand_like(loc).clamp(_EPS, 1 - _EPS)
        return loc + scale * (torch.log(u) - torch.log1p(-u))  # inverse CDF: logit(u)
        # END SOLUTION

    def log_prob(self, z, loc, scale):
        # BEGIN SOLUTION
        scale = torch.as_tensor(scale, dtype=z.dtype, device=z.device)
        x = (z - loc) / scale
        return -x - torch.log(scale) - 2 * F.softplus(-x)
        # END SOLUTION

    def variance(self, scale):
        # BEGIN SOLUTION
        return (math.pi**2 / 3) * scale**2
        # END SOLUTION


FAMILIES: dict[str, LatentFamily] = {f.name: f for f in (Gaussian(), Laplace(), Logistic())}


class VariationalLatentTable(nn.Module):
    """Per-image distribution parameters ``loc`` and ``log(scale)``, each ``(N, latent_dim)``.

    Same interface as :class:`auto_decoder.AutoDecoder.LatentTable`, so the one
    training loop and :func:`auto_decoder.evaluate.evaluate_model` serve both:

    * ``table(indices)`` -> a reparameterised sample ``(B, latent_dim)``;
    * ``table.mean(indices)`` -> ``loc`` (every family here is symmetric about it);
    * ``table.kl(indices)`` -> ``KL(q_i || prior)`` summed over dimensions, ``(B,)``;
    * ``table.sample_prior(n)`` -> ``(n, latent_dim)`` prior draws to decode.

    The scale is stored as its log so it stays positive under unconstrained
    optimisation. Both tables are sparse embeddings, optimised with :class:`~auto_decoder.AutoDecoder.RowAdam`.
    """

    def __init__(
        self,
        num_samples: int,
        latent_dim: int,
        family: str | LatentFamily = "gaussian",
        kl_weight: float = 1.0,
        init_scale: float = 0.1,
        init_std: float = 0.1,
    ) -> None:
        # BEGIN SOLUTION
        super().__init__()
        if isinstance(family, str):
            if family not in FAMILIES:
                raise ValueError(f"unknown family {family!r}; choose from {sorted(FAMILIES)}")
            family = FAMILIES[family]
        if init_scale <= 0:
            raise ValueError(f"init_scale must be positive, got {init_scale}")
        self.family = family
        self.latent_dim = latent_dim
        self.kl_weight = kl_weight
        self.loc = nn.Embedding(num_samples, latent_dim, sparse=True)
        self.log_scale = nn.Embedding(num_samples, latent_dim, sparse=True)
        nn.init.normal_(self.loc.weight, std=init_std)
        nn.init.constant_(self.log_scale.weight, math.log(init_scale))
        # END SOLUTION

    def __len__(self) -> int:
        return self.loc.num_embeddings

    def params(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, scale)`` of the images at ``indices``, each ``(B, latent_dim)``."""
        # BEGIN SOLUTION
        return self.loc(indices), self.log_scale(indices).exp()
        # END SOLUTION

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """One reparameterised draw ``z ~ q_i`` per index: ``indices (B,) -> (B, latent_dim)``."""
        # BEGIN SOLUTION
        return self.family.rsample(*self.params(indices))
        # END SOLUTION

    def mean(self, indices: torch.Tensor) -> torch.Tensor:
        """The location ``loc_i`` of each indexed ``q_i``, ``(B, latent_dim)`` (the noise-free latent)."""
        return self.loc(indices)

    def kl(self, indices: torch.Tensor) -> torch.Tensor:
        """``KL(q_i || prior)`` summed over latent dimensions, ``(B,)``."""
        # BEGIN SOLUTION
        return self.family.kl(*self.params(indices)).sum(dim=1)
        # END SOLUTION

    def sample_prior(self, n: int) -> torch.Tensor:
        """``n`` draws ``(n, latent_dim)`` from the family's prior, on the table's device."""
        return self.family.sample_prior((n, self.latent_dim), device=self.loc.weight.device)

    @torch.no_grad()
    def start_at(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Start every ``q_i`` at a standard-normal posterior given as ``mean`` ``(N, latent_dim)`` and ``std``
        ``(latent_dim,)``, carried over to this family's prior: ``loc = prior std * mean`` and the scale that
        gives variance ``prior variance * std^2`` (each family's variance is a constant times scale^2, so
        that scale is ``std`` itself). Aggregate posteriors matching N(0, I) then match this prior's spread."""
        # BEGIN SOLUTION
        prior_std = float(self.family.variance(torch.ones(1))) ** 0.5
        self.loc.weight.copy_(prior_std * mean)
        self.log_scale.weight.copy_(std.log().expand_as(mean))
        # END SOLUTION
