"""The auto-decoder: a decoder network and one learnable latent vector per image.

There is no encoder. Training optimises the decoder weights *and* the latent table
jointly so that ``decoder(latents[i])`` reproduces image ``i``; at test time the
decoder is frozen and a fresh table is optimised for the test images
(:func:`auto_decoder.evaluate.fit_latents`). :class:`RowAdam` optimises the tables.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


class Decoder(nn.Module):
    """Latent ``(B, latent_dim)`` -> image ``(B, 1, 28, 28)`` with values in (0, 1).

    Architecture and why:

    * ``Linear(latent_dim, 256) -> ReLU -> Linear(256, 32*7*7) -> ReLU``: a latent
      vector has no spatial layout, so two dense layers turn it into a coarse
      32-channel 7x7 feature map; the hidden layer lets the latent mix non-linearly
      before any spatial structure is fixed.
    * ``ConvTranspose2d(32, 16, 4, stride 2) -> ReLU -> ConvTranspose2d(16, 1, 4, stride 2)``:
      7x7 -> 14x14 -> 28x28. Clothing images are built from local edges and
      textures that recur anywhere in the frame, which weight-shared transposed
      convolutions model with few parameters (a kernel of 4 with stride 2 covers
      every output pixel evenly, avoiding checkerboard artefacts). The two
      layers hold 8.5 k weights where a dense 1568 -> 784 layer would need 1.2 M.
    * ``Sigmoid``: pixels are intensities in [0, 1], and the reconstruction loss is
      the Bernoulli negative log-likelihood (binary cross-entropy).

    Most of the parameters are in the second linear layer; every run of the assignment,
    the full-set ones included, fits on a laptop's CPU.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256, channels: int = 32) -> None:
        # BEGIN SOLUTION
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (channels, 7, 7)),
            nn.ConvTranspose2d(channels, channels // 2, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels // 2, 1, kernel_size=4, stride=2, padding=1),
            nn.Sigmoid(),
        )
        # END SOLUTION

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 1, 28, 28)`` in (0, 1) of latents ``z (B, latent_dim)``."""
        # BEGIN SOLUTION
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)
        # END SOLUTION


class PCAStart:
    """Where latents start: their images' posterior under probabilistic PCA (Tipping & Bishop, 1999).

    Fitted in closed form on the training images ``x`` (784 pixels each): mean ``mu``, the top
    ``latent_dim`` eigenvalues ``lam`` and eigenvectors ``U`` of the pixel covariance, and the noise
    variance ``s2`` = the mean of the other eigenvalues. That is the maximum-likelihood linear-Gaussian
    model ``x = W z + mu + noise`` with ``z ~ N(0, I)``, ``W = U (lam - s2)^(1/2)``, noise ``N(0, s2 I)``,
    and the posterior of ``z`` given an image is Gaussian with

        mean = (lam - s2)^(1/2) / lam * U^T (x - mu),    std = (s2 / lam)^(1/2)  (the same for every image).

    Over the training images the means have variance ``1 - s2 / lam`` per coordinate, so means and
    stds together make the aggregate posterior exactly N(0, I): the prior the models are sampled from.

    Why start there (the README's design choices): each latent moves only once per epoch, and from
    here similar images already have nearby latents that cover the prior (GLO, Bojanowski et al. 2018,
    starts from PCA too). It is a fixed linear map computed once, not a trained encoder: every latent,
    training or test, is still found by optimising the objective.
    """

    def __init__(self, images, latent_dim: int, batch_size: int = 5000) -> None:
        """``images``: the training images (anything with ``len`` and ``batch(indices) -> (B, 1, 28, 28)``)."""
        # BEGIN SOLUTION
        pixels = images.batch([0]).numel()
        if latent_dim >= pixels:
            raise ValueError(f"a PCA start needs fewer latent dimensions than pixels ({pixels}), got {latent_dim}")
        chunks = torch.arange(len(images)).split(batch_size)
        self.mu = sum(images.batch(idx).flatten(1).double().sum(0) for idx in chunks) / len(images)
        cov = torch.zeros(pixels, pixels, dtype=torch.float64)
        for idx in chunks:
            xc = images.batch(idx).flatten(1) - self.mu.float()
            cov += (xc.T @ xc).double()
        eigenvalues, eigenvectors = torch.linalg.eigh(cov / len(images))  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
        self.lam, self.U = eigenvalues[:latent_dim], eigenvectors[:, :latent_dim]
        self.s2 = float(eigenvalues[latent_dim:].clamp_min(0).mean())
        # Directions the images do not fill (fewer images than dimensions) start at the prior: mean 0, std 1.
        filled = self.lam > 1e-6 * eigenvalues[0]
        lam = torch.where(filled, self.lam, torch.ones_like(self.lam))
        self.gain = torch.where(filled, (lam - self.s2).clamp_min(0).sqrt() / lam, 0.0).float()
        self.std = torch.where(filled, (self.s2 / lam).clamp(max=1.0).sqrt().clamp_min(1e-3), 1.0).float()
        # END SOLUTION

    def posterior_means(self, images, batch_size: int = 5000) -> torch.Tensor:
        """The posterior means ``(len(images), latent_dim)`` of ``images``."""
        # BEGIN SOLUTION
        return torch.cat(
            [
                (images.batch(idx).flatten(1) - self.mu.float()) @ self.U.float() * self.gain
                for idx in torch.arange(len(images)).split(batch_size)
            ]
        )
        # END SOLUTION


class LatentTable(nn.Module):
    """One free latent vector per image: ``table(indices (B,)) -> (B, latent_dim)``.

    Stored as a sparse ``nn.Embedding``: a batch touches only its own rows, so the
    gradient is sparse and :class:`RowAdam` updates (and keeps Adam moments for)
    exactly those rows, instead of letting momentum keep moving latents of images
    that are not in the batch.

    Initialised from ``N(0, init_std^2)``. A plain auto-decoder places no prior on
    its latents, so :meth:`kl` is zero and :attr:`kl_weight` is 0; the variational
    tables in :mod:`auto_decoder.VariationalAutoDecoder` share this interface.
    """

    kl_weight = 0.0

    def __init__(self, num_samples: int, latent_dim: int, init_std: float = 0.1) -> None:
        # BEGIN SOLUTION
        super().__init__()
        self.latent_dim = latent_dim
        self.embedding = nn.Embedding(num_samples, latent_dim, sparse=True)
        nn.init.normal_(self.embedding.weight, std=init_std)
        # END SOLUTION

    def __len__(self) -> int:
        return self.embedding.num_embeddings

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """The latents used in training: ``(B,)`` indices -> ``(B, latent_dim)``."""
        # BEGIN SOLUTION
        return self.embedding(indices)
        # END SOLUTION

    def mean(self, indices: torch.Tensor) -> torch.Tensor:
        """The point estimate of each latent (for a plain table, the latent itself)."""
        return self.embedding(indices)

    def kl(self, indices: torch.Tensor) -> torch.Tensor:
        """Divergence to a prior, per sample ``(B,)``: zero, there is no prior."""
        # BEGIN SOLUTION
        return torch.zeros(indices.shape[0], device=self.embedding.weight.device)
        # END SOLUTION

    def sample_prior(self, n: int) -> torch.Tensor:
        """``n`` draws ``(n, latent_dim)`` from N(0, I): the prior one would like to sample,
        although nothing in training made the latents follow it."""
        return torch.randn(n, self.latent_dim, device=self.embedding.weight.device)

    @torch.no_grad()
    def start_at(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set every latent to ``mean`` ``(N, latent_dim)`` (a point has no use for the posterior ``std``)."""
        # BEGIN SOLUTION
        self.embedding.weight.copy_(mean)
        # END SOLUTION


class RowAdam(torch.optim.Optimizer):
    """Adam for latent tables (sparse ``nn.Embedding`` weights) with one step count *per row*.

    In training each row (one image's latent) receives a gradient once per epoch.
    ``torch.optim.SparseAdam`` updates only those rows too, but it corrects the moment
    estimates' start-up bias with the step count of the whole tensor: after the first
    epoch it treats a row's second-moment estimate, built from a handful of gradients,
    as if it had seen thousands, and the row's steps come out 3 to 6 times larger than
    ``lr`` (and the factor depends on how many batches an epoch has). Here each row's
    estimates are corrected for the updates *that row* has had, which is Adam applied
    to every latent on its own clock: a row moves each coordinate by about ``lr`` per
    update at most (exactly ``lr`` at its first), whatever the dataset and batch size.
    When every row is in every step (full-batch test-time fits) this is exactly
    ``torch.optim.Adam``.

    Parameters must receive sparse gradients (``nn.Embedding(..., sparse=True)``).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        # BEGIN SOLUTION
        loss = None if closure is None else closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not p.grad.is_sparse:
                    raise ValueError("RowAdam needs sparse gradients: use nn.Embedding(..., sparse=True)")
                grad = p.grad.coalesce()  # one entry per touched row
                rows, g = grad.indices()[0], grad.values()
                state = self.state[p]
                if not state:
                    state["count"] = torch.zeros(p.shape[0], device=p.device)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                count = state["count"][rows] + 1
                m = state["exp_avg"][rows].mul_(beta1).add_(g, alpha=1 - beta1)
                v = state["exp_avg_sq"][rows].mul_(beta2).addcmul_(g, g, value=1 - beta2)
                state["count"][rows], state["exp_avg"][rows], state["exp_avg_sq"][rows] = count, m, v
                counts = count.double()[:, None]  # (1 - beta**count) in float64, as Adam computes it
                m_hat = m / (1 - beta1**counts).to(p.dtype)
                v_hat = v / (1 - beta2**counts).to(p.dtype)
                p.index_add_(0, rows, m_hat / (v_hat.sqrt() + group["eps"]), alpha=-group["lr"])
        return loss
        # END SOLUTION
