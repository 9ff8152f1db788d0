"""The auto-decoder: a decoder network and one learnable latent vector per image.

There is no encoder. Training optimises the decoder weights *and* the latent table
jointly so that ``decoder(latents[i])`` reproduces image ``i``; at test time the
decoder is frozen and a fresh table is optimised for the test images
(:func:`auto_decoder.evaluate.evaluate_model`).
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

    About 0.42 M parameters with ``latent_dim=32`` (most in the second linear
    layer); a training step on 32 images takes a few milliseconds on a CPU, so every
    run of the assignment, including the full-set ones, fits on a laptop.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256, channels: int = 32) -> None:
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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)


class LatentTable(nn.Module):
    """One free latent vector per image: ``table(indices (B,)) -> (B, latent_dim)``.

    Stored as a sparse ``nn.Embedding``: a batch touches only its own rows, so the
    gradient is sparse and :class:`torch.optim.SparseAdam` updates (and keeps Adam
    moments for) exactly those rows, instead of letting momentum keep moving
    latents of images that are not in the batch.

    Initialised from ``N(0, init_std^2)``. A plain auto-decoder places no prior on
    its latents, so :meth:`kl` is zero and :attr:`kl_weight` is 0; the variational
    tables in :mod:`auto_decoder.VariationalAutoDecoder` share this interface.
    """

    kl_weight = 0.0

    def __init__(self, num_samples: int, latent_dim: int, init_std: float = 0.1) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.embedding = nn.Embedding(num_samples, latent_dim, sparse=True)
        nn.init.normal_(self.embedding.weight, std=init_std)

    def __len__(self) -> int:
        return self.embedding.num_embeddings

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """The latents used in training: ``(B,)`` indices -> ``(B, latent_dim)``."""
        return self.embedding(indices)

    def mean(self, indices: torch.Tensor) -> torch.Tensor:
        """The point estimate of each latent (for a plain table, the latent itself)."""
        return self.embedding(indices)

    def kl(self, indices: torch.Tensor) -> torch.Tensor:
        """Divergence to a prior, per sample ``(B,)``: zero, there is no prior."""
        return torch.zeros(indices.shape[0], device=self.embedding.weight.device)

    def sample_prior(self, n: int) -> torch.Tensor:
        """``n`` draws ``(n, latent_dim)`` from N(0, I): the prior one would like to sample,
        although nothing in training made the latents follow it."""
        return torch.randn(n, self.latent_dim, device=self.embedding.weight.device)
