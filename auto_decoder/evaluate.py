"""Losses and test-time evaluation of (variational) auto-decoders.

An auto-decoder cannot *encode* a test image: its latent has to be found by
optimisation. :func:`fit_latents` freezes the decoder and optimises only a latent
table, with the same objective as in training, until the objective stops improving;
:func:`evaluate_model` (the course's interface) does this for a test set and returns
the test loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from common.guard import DivergenceGuard
from common.metrics import batch_psnr


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
    if not torch.isfinite(x_rec).all():  # diverged weights: a NaN loss for the divergence guard, not BCE's range error
        return x_rec.sum() * float("nan")
    return F.binary_cross_entropy(x_rec, x)


# The BCE per pixel is bounded (torch clamps its logarithms), so a diverged decoder's loss grows by far less
# than the guard's default factor; 10 times the start is already far beyond anything training reaches.
BCE_EXPLODE_FACTOR = 10.0


def penalised_loss(
    x: torch.Tensor, x_rec: torch.Tensor, kl: torch.Tensor | None, kl_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, reconstruction)`` of a batch: ``reconstruction + kl_weight * mean(kl) / pixels``.

    The reconstruction term is per pixel, so the KL (per image, ``(B,)``; unused and may be None
    when ``kl_weight`` is 0) is divided by the pixel count, which keeps ``kl_weight = 1`` equal to
    the exact negative ELBO (up to that common factor). The one loss of every model here:
    auto-decoder (``kl_weight`` 0), variational auto-decoder and VAE.
    """
    recon = reconstruction_loss(x, x_rec)
    if not kl_weight:
        return recon, recon
    return recon + kl_weight * kl.mean() / x[0].numel(), recon


def objective(
    model: nn.Module, latents: nn.Module, indices: torch.Tensor, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss of a batch for an auto-decoder, shared by training and test-time optimisation:
    :func:`penalised_loss` of ``model(latents(indices))`` (a sample, for a variational table) with
    the table's KL. For a plain :class:`~auto_decoder.AutoDecoder.LatentTable` the KL term is zero.

    Returns:
        ``(loss, reconstruction)``, both scalars.
    """
    kl = latents.kl(indices) if latents.kl_weight else None
    return penalised_loss(x, model(latents(indices)), kl, latents.kl_weight)


@torch.no_grad()
def mean_losses(
    model: nn.Module, latents: nn.Module, batches: Iterable, device: torch.device | str
) -> tuple[float, float]:
    """``(objective, reconstruction)`` without sampling noise, each averaged over every image of ``batches``
    (``(indices, images)`` pairs, e.g. a DataLoader): :func:`penalised_loss` of the decoded point-estimate
    latents (``latents.mean``; for a variational table, its ``loc``)."""
    total, recon_total, count = 0.0, 0.0, 0
    for indices, x in batches:
        indices, x = indices.to(device), x.to(device)
        kl = latents.kl(indices) if latents.kl_weight else None
        loss, recon = penalised_loss(x, model(latents.mean(indices)), kl, latents.kl_weight)
        total, recon_total, count = total + float(loss) * len(x), recon_total + float(recon) * len(x), count + len(x)
    return total / max(count, 1), recon_total / max(count, 1)


def mean_reconstruction_loss(
    model: nn.Module, latents: nn.Module, batches: Iterable, device: torch.device | str
) -> float:
    """Mean :func:`reconstruction_loss` over every image of ``batches``, decoding each image's point-estimate latent."""
    return mean_losses(model, latents, batches, device)[1]


def mean_objective(model: nn.Module, latents: nn.Module, batches: Iterable, device: torch.device | str) -> float:
    """The objective without sampling noise, averaged over images: the reconstruction of each image's
    mean latent plus ``kl_weight * KL / pixels``. The validation loss that decides when training stops."""
    return mean_losses(model, latents, batches, device)[0]


@torch.no_grad()
def reconstruction_scores(
    decoder: nn.Module, codes: torch.Tensor, images, device: torch.device | str, batch_size: int = 2000
) -> dict[str, float]:
    """``{"bce": mean BCE per pixel, "psnr": mean PSNR in dB}`` of ``decoder(codes)``, ``(N, D) -> (N, 1, 28, 28)``,
    against ``images`` (anything with ``len`` and ``batch(indices)``, such as
    :class:`~auto_decoder.utils.IndexedImages`). PSNR is per image with data range 1 (pixels in
    [0, 1]), then averaged (:func:`common.metrics.batch_psnr`, checked against scikit-image)."""
    if len(codes) != len(images):
        raise ValueError(f"{len(codes)} codes for {len(images)} images")
    decoder.eval()
    bce, psnr = 0.0, 0.0
    for idx in torch.arange(len(images)).split(batch_size):
        x, x_rec = images.batch(idx), decoder(codes[idx].to(device)).cpu()
        bce += float(reconstruction_loss(x, x_rec)) * len(x)
        psnr += float(batch_psnr(x_rec, x, data_range=1.0).sum())
    return {"bce": bce / len(images), "psnr": psnr / len(images)}


class Fit(NamedTuple):
    """What :func:`fit_latents` did: ``loss``, the objective of each epoch (measured during it, with
    sampling noise for a variational table); ``checks``, the noise-free objective
    (:func:`mean_objective`) before the first epoch and after every ``window`` epochs (only with a
    ``tol``); ``converged``, whether it stopped because the last check improved by less than ``tol``."""

    loss: list[float]
    checks: list[float]
    converged: bool


def fit_latents(
    model: nn.Module,
    batches: Iterable,
    opt: torch.optim.Optimizer,
    latents: nn.Module,
    epochs: int,
    device: torch.device | str,
    stop: tuple[float, int] | None = None,
    desc: str = "fit latents",
) -> Fit:
    """Optimise ``latents`` for the images of ``batches`` with ``model`` frozen.

    Args:
        model: the trained decoder; its weights are not changed (gradients are switched off for
            them during the call, so even an ``opt`` that holds them cannot move them).
        batches: ``(indices (B,), images (B, 1, 28, 28))`` pairs, iterated once per epoch (a
            DataLoader, or a list holding one full batch: then an epoch is one step).
        opt: optimiser over ``latents``' parameters (:class:`~auto_decoder.AutoDecoder.RowAdam` for the sparse
            tables here).
        latents: a :class:`~auto_decoder.AutoDecoder.LatentTable` or
            :class:`~auto_decoder.VariationalAutoDecoder.VariationalLatentTable` with one row per image.
        epochs: the most passes over ``batches``.
        stop: ``(tol, window)``: stop early once the noise-free objective improved by less than the
            fraction ``tol`` over the last ``window`` epochs. It is checked on :func:`mean_objective` rather than
            on the training loss because a variational table's loss is a random draw, whose noise alone
            could fake (or hide) an improvement of 0.1 %. None runs all ``epochs``.
    """
    tol, window = stop if stop is not None else (None, 0)
    model.to(device).eval()
    latents.to(device).train()
    was_trainable = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    loss_curve, checks, done = [], [], False
    guard = DivergenceGuard(
        desc, factor=BCE_EXPLODE_FACTOR, hint="run it again with a smaller --test-lr (and --overwrite)"
    )
    try:
        if tol is not None:
            checks.append(mean_objective(model, latents, batches, device))
        for epoch in tqdm(range(epochs), desc=desc, unit="epoch", leave=False, disable=None):
            total, count = 0.0, 0
            for indices, x in batches:
                indices, x = indices.to(device), x.to(device)
                opt.zero_grad(set_to_none=True)
                loss, _ = objective(model, latents, indices, x)
                loss.backward()
                opt.step()
                total, count = total + guard.check(loss) * len(x), count + len(x)
            loss_curve.append(total / max(count, 1))
            if tol is not None and (epoch + 1) % window == 0:
                checks.append(mean_objective(model, latents, batches, device))
                if checks[-2] - checks[-1] < tol * abs(checks[-2]):
                    done = True
                    break
    finally:
        for p, flag in zip(model.parameters(), was_trainable):
            p.requires_grad_(flag)
    return Fit(loss_curve, checks, done)


def evaluate_model(
    model: nn.Module,
    test_dl: Iterable,
    opt: torch.optim.Optimizer,
    latents: nn.Module,
    epochs: int,
    device: torch.device | str,
) -> float:
    """Fit ``latents`` (one per test image) to a frozen decoder for ``epochs`` passes (:func:`fit_latents`);
    return the mean test reconstruction loss (:func:`mean_reconstruction_loss`) after the fit.

    Args:
        model: the trained decoder; its weights are not changed.
        test_dl: yields ``(indices (B,), images (B, 1, 28, 28))`` of the test set.
        opt: optimiser over ``latents``' parameters (:class:`~auto_decoder.AutoDecoder.RowAdam` for the sparse
            tables here).
        latents: a fresh latent table with one row per test image.
        epochs: passes over the test set.
    """
    fit_latents(model, test_dl, opt, latents, epochs, device, desc="test latents")
    return mean_reconstruction_loss(model, latents, test_dl, device)
