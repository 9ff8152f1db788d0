"""Losses and test-time evaluation of (variational) auto-decoders.

An auto-decoder cannot *encode* a test image: its latent has to be found by
optimisation. :func:`evaluate_model` freezes the decoder and optimises only a
fresh latent table for the test set, with the same objective as in training.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm


def reconstruction_loss(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy between images and reconstructions, averaged over pixels and images.

    Args:
        x: target images ``(B, 1, 28, 28)`` in [0, 1].
        x_rec: decoded images of the same shape, in (0, 1).

    Returns:
        A scalar in nats per pixel: the Bernoulli negative log-likelihood of ``x``
        under pixel probabilities ``x_rec``. (It is not 0 for a perfect
        reconstruction of grey pixels; compare runs with each other.)
    """
    if x.shape != x_rec.shape:
        raise ValueError(f"x and x_rec must have the same shape, got {tuple(x.shape)} and {tuple(x_rec.shape)}")
    return F.binary_cross_entropy(x_rec, x)


def objective(model: nn.Module, latents: nn.Module, indices: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss of a batch, shared by training and test-time optimisation.

    ``reconstruction + kl_weight * KL / pixels``: the reconstruction term is per
    pixel, so the KL (per image) is divided by the pixel count, which keeps
    ``kl_weight = 1`` equal to the exact negative ELBO (up to that common factor).
    For a plain :class:`~auto_decoder.AutoDecoder.LatentTable` the KL term is zero.

    Returns:
        ``(loss, reconstruction)``, both scalars.
    """
    x_rec = model(latents(indices))
    recon = reconstruction_loss(x, x_rec)
    loss = recon
    if latents.kl_weight:
        loss = loss + latents.kl_weight * latents.kl(indices).mean() / x[0].numel()
    return loss, recon


@torch.no_grad()
def mean_reconstruction_loss(model: nn.Module, latents: nn.Module, dl: DataLoader, device: torch.device | str) -> float:
    """Mean :func:`reconstruction_loss` over every image of ``dl``, decoding each image's
    point-estimate latent (``latents.mean``; for a variational table, its ``loc``)."""
    total, count = 0.0, 0
    for indices, x in dl:
        indices, x = indices.to(device), x.to(device)
        total += float(reconstruction_loss(x, model(latents.mean(indices)))) * len(x)
        count += len(x)
    return total / max(count, 1)


def evaluate_model(
    model: nn.Module,
    test_dl: DataLoader,
    opt: torch.optim.Optimizer,
    latents: nn.Module,
    epochs: int,
    device: torch.device | str,
) -> float:
    """Fit ``latents`` (one per test image) to a frozen decoder; return the mean test reconstruction loss.

    Args:
        model: the trained decoder; its weights are not changed (gradients are switched
            off for them during the call, so even an ``opt`` that holds them cannot move them).
        test_dl: yields ``(indices (B,), images (B, 1, 28, 28))`` of the test set.
        opt: optimiser over ``latents``' parameters (``SparseAdam`` for the sparse tables here).
        latents: a fresh :class:`~auto_decoder.AutoDecoder.LatentTable` or
            :class:`~auto_decoder.VariationalAutoDecoder.VariationalLatentTable` with one row per test image.
        epochs: passes over the test set.

    Returns:
        :func:`mean_reconstruction_loss` of the test set after optimisation.
    """
    model.to(device).eval()
    latents.to(device).train()
    was_trainable = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in tqdm(range(epochs), desc="test latents", unit="epoch", leave=False):
            for indices, x in test_dl:
                indices, x = indices.to(device), x.to(device)
                opt.zero_grad(set_to_none=True)
                loss, _ = objective(model, latents, indices, x)
                loss.backward()
                opt.step()
    finally:
        for p, flag in zip(model.parameters(), was_trainable):
            p.requires_grad_(flag)
    return mean_reconstruction_loss(model, latents, test_dl, device)
