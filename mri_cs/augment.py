"""Augmentation of the training images, so that the network learns more than the one template it is shown.

:func:`augment_batch` draws one random change of each chosen kind per image of a training batch,
applies it to the complex image (the inverse FFT of the batch's k-space, so a complex image keeps its
phase) and recomputes the k-space from the result, so target and k-space stay exactly consistent.
Validation and test are never augmented. Batched on tensors: two FFTs and one ``grid_sample`` a batch.

Kinds (``--augment``; by default all, ``head`` only on the offline template):

* ``head``: a synthetic scalp (bright ring, dark skull gap) around the tissue of half the images;
* ``flip``: one of the 8 flips / 90-degree rotations of the square (exact);
* ``affine``: rotation, zoom and shift (bilinear, zeros outside; ranges in the constants below);
* ``intensity``: a gamma on the magnitude times a smooth bias field, phase kept;
* ``noise``: complex Gaussian noise, a random fraction of the maximum.

Each image is scaled back to a maximum magnitude of 1, as every data source does. Why each kind
exists: the README's "Generalisation: what the network sees in training".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mri_cs.data.transforms import complex_abs, fft2, ifft2

MAX_ROTATION_DEG, ZOOM, MAX_SHIFT = 15.0, (0.85, 1.2), 0.05
GAMMA, BIAS_STRENGTH, MAX_NOISE = (0.7, 1.4), 0.3, 0.02
# head: tissue above 5 % of the maximum; blur of 5/128 of the side; skull out to the blurred mask's level SKULL,
# scalp on out to the level SCALP (on a straight outline, 0.7 to 1.3 and 1.9 to 2.6 blur widths out)
TISSUE, HEAD_BLUR, SKULL, SCALP, SCALP_BRIGHTNESS, HEAD_PROBABILITY = (
    0.05,
    5 / 128,
    (0.1, 0.25),
    (0.005, 0.03),
    (0.3, 1.0),
    0.5,
)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _bias_field(b: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """Smooth random multiplicative fields ``exp(BIAS_STRENGTH * f)`` of shape ``(B, H, W)``,
    ``f`` a 3 x 3 normal grid upsampled."""
    field = torch.randn(b, 1, 3, 3, generator=generator)
    return torch.exp(BIAS_STRENGTH * F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True))[:, 0]


def head(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A synthetic scalp around the tissue of half the images of ``(B, H, W, 2)``:
    a bright ring, a dark gap inside it."""
    from torchvision.transforms.functional import gaussian_blur

    b, h, w, _ = image.shape
    magnitude = complex_abs(image)
    peak = magnitude.amax(dim=(1, 2), keepdim=True)
    tissue = (magnitude > TISSUE * peak).float()
    sigma = HEAD_BLUR * h
    spread = gaussian_blur(tissue.unsqueeze(1), [2 * math.ceil(3 * sigma) + 1] * 2, [sigma, sigma])[:, 0]
    skull, scalp = (_uniform(b, *r, generator).to(image)[:, None, None] for r in (SKULL, SCALP))
    ring = (spread < skull) & (spread >= scalp) & (tissue == 0)
    on = (torch.rand(b, generator=generator) < HEAD_PROBABILITY).to(image)
    brightness = (_uniform(b, *SCALP_BRIGHTNESS, generator).to(image) * on)[:, None, None]
    added = ring * brightness * peak * _bias_field(b, h, w, generator).to(image)
    return image + torch.stack([added, torch.zeros_like(added)], dim=-1)


def flip(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random element of the square's symmetry group per image of ``(B, H, W, 2)`` (transposes only if H == W)."""
    b, h, w, _ = image.shape
    draws = torch.rand(b, 3, generator=generator).to(image.device) < 0.5
    image = torch.where(draws[:, 0, None, None, None], image.flip(1), image)
    image = torch.where(draws[:, 1, None, None, None], image.flip(2), image)
    if h == w:
        image = torch.where(draws[:, 2, None, None, None], image.transpose(1, 2), image)
    return image


def affine(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation, zoom and shift per image of ``(B, H, W, 2)``; real and imaginary parts alike."""
    b = image.shape[0]
    angle = torch.deg2rad(_uniform(b, -MAX_ROTATION_DEG, MAX_ROTATION_DEG, generator))
    zoom = torch.exp(_uniform(b, math.log(ZOOM[0]), math.log(ZOOM[1]), generator))
    shift = _uniform(2 * b, -2 * MAX_SHIFT, 2 * MAX_SHIFT, generator).view(b, 2)  # grid units: the image spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # output -> input coordinates, so 1/zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    planes = image.permute(0, 3, 1, 2)  # (B, 2, H, W)
    grid = F.affine_grid(theta.to(image), list(planes.shape), align_corners=False)
    return F.grid_sample(planes, grid, mode="bilinear", padding_mode="zeros", align_corners=False).permute(0, 2, 3, 1)


def intensity(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random gamma on the magnitude times a smooth random bias field, per image of ``(B, H, W, 2)``; phase kept."""
    b, h, w, _ = image.shape
    gamma = torch.exp(_uniform(b, math.log(GAMMA[0]), math.log(GAMMA[1]), generator)).to(image)
    bias = _bias_field(b, h, w, generator).to(image)
    magnitude = complex_abs(image)
    scale = magnitude.amax(dim=(1, 2), keepdim=True).clamp_min(1e-11)
    new = (magnitude / scale).pow(gamma[:, None, None]) * scale * bias  # gamma on the [0, 1] range
    return image * (new / magnitude.clamp_min(1e-11)).unsqueeze(-1)


def noise(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Complex Gaussian noise of a random standard deviation in ``[0, MAX_NOISE]`` times each image's maximum."""
    b = image.shape[0]
    sigma = _uniform(b, 0.0, MAX_NOISE, generator).to(image) * complex_abs(image).amax(dim=(1, 2))
    return image + sigma[:, None, None, None] * torch.randn(image.shape, generator=generator).to(image)


# The names are main.py's AUGMENT_KINDS (main.py imports no torch), in the order they are applied.
AUGMENTATIONS = {"head": head, "flip": flip, "affine": affine, "intensity": intensity, "noise": noise}


def augment_batch(
    kspace: torch.Tensor, kinds: tuple[str, ...] | list[str], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a training batch: full k-space ``(B, H, W, 2)`` -> ``(k-space (B, H, W, 2), target (B, 1, H, W))``.

    The chosen ``kinds`` (names of :data:`AUGMENTATIONS`, applied in its order) act on the complex
    image; the target is the magnitude of the result, scaled to a maximum of 1, and the k-space
    its centred FFT. ``generator`` (a CPU generator) draws every random number, so a seeded
    generator gives the same batch every time, on any device.
    """
    image = ifft2(kspace)
    for kind, transform in AUGMENTATIONS.items():
        if kind in kinds:
            image = transform(image, generator)
    image = image / complex_abs(image).amax(dim=(1, 2))[:, None, None, None].clamp_min(1e-11)
    return fft2(image), complex_abs(image).unsqueeze(1)
