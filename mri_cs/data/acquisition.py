"""How k-space is acquired: the scanner's phase and noise on top of a magnitude image.

A scanner never returns a real, noiseless image. The ``realistic`` acquisition (the default) gives each
magnitude image a smooth random phase and adds complex white Gaussian noise to its k-space; the reference
stays the clean magnitude. The ``ideal`` acquisition keeps the FFT of the real, non-negative magnitude
image, noiseless: the setting where projection methods (put back the measured samples, take the real part,
clip at zero) recover the image almost exactly, kept to reproduce the course's original numbers.

Phase model: white noise low-pass filtered by a Gaussian of ``PHASE_CYCLES`` cycles per field of view,
scaled to a peak of ``pi``, plus a global offset uniform in ``[-pi, pi)``. Noise: ``sigma`` per real and
imaginary component of the centred orthonormal k-space (Parseval: the same ``sigma`` per pixel of the image).
Training draws a new phase and noise for every batch; validation and test draws are seeded per slice
(:class:`AcquiredSlices`), so every method is scored on the same measurements.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from mri_cs.data.transforms import complex_abs, fft2, ifft2

KINDS = ("realistic", "ideal")
PHASE_CYCLES = 2.0  # width (standard deviation) of the phase's Gaussian low-pass, in cycles per field of view
DEFAULT_SIGMA = 0.0125  # per component; images have a maximum magnitude of 1 (fully sampled PSNR ~37-38 dB)


@dataclass(frozen=True)
class Acquisition:
    """``kind`` (``realistic`` or ``ideal``) and the noise ``sigma`` per component of k-space (0 for ideal)."""

    kind: str = "realistic"
    sigma: float = DEFAULT_SIGMA

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown acquisition {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not math.isfinite(self.sigma) or self.sigma < 0:
            raise ValueError(f"the noise level must be finite and >= 0, got {self.sigma}")
        if self.kind == "realistic" and self.sigma == 0:
            raise ValueError("a realistic acquisition needs a noise level > 0 (use --acquisition ideal for none)")
        if self.kind == "ideal" and self.sigma != 0:
            raise ValueError("the ideal acquisition is noiseless; --noise-sigma applies to --acquisition realistic")

    def record(self) -> dict:
        """What a run folder records of the acquisition."""
        phase = f"Gaussian low-pass white noise, {PHASE_CYCLES:g} cycles/FOV, peak pi, plus a uniform global offset"
        return {**asdict(self), "phase": phase if self.kind == "realistic" else "none (real, non-negative images)"}

    def __call__(self, kspace: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Acquired k-space ``(B, H, W, 2)`` of the clean k-space ``(B, H, W, 2)`` of real magnitude images."""
        if self.kind == "ideal":
            return kspace
        magnitude = complex_abs(ifft2(kspace))  # (B, H, W)
        phase = smooth_phase(magnitude.shape, generator).to(kspace.device)
        image = torch.stack([magnitude * torch.cos(phase), magnitude * torch.sin(phase)], dim=-1)
        noise = torch.randn(kspace.shape, generator=generator).to(kspace.device)
        return fft2(image) + self.sigma * noise


def smooth_phase(shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
    """Random smooth phase maps ``(B, H, W)`` in radians: low-passed white noise, peak ``pi``, plus an offset."""
    b, h, w = shape
    white = torch.randn(b, h, w, generator=generator)
    fy, fx = torch.meshgrid(torch.fft.fftfreq(h) * h, torch.fft.fftfreq(w) * w, indexing="ij")  # cycles per FOV
    low = torch.fft.ifft2(torch.fft.fft2(white) * torch.exp(-(fy**2 + fx**2) / (2 * PHASE_CYCLES**2))).real
    low = low / low.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None] * math.pi
    offset = (torch.rand(b, 1, 1, generator=generator) * 2 - 1) * math.pi
    return low + offset


def slice_generator(seed: int, index: int) -> torch.Generator:
    """The generator of slice ``index``'s seeded draw: the same numbers in every run and process."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, index]).generate_state(1)[0]))


class AcquiredSlices(Dataset):
    """A dataset of ``(clean kspace, target)`` whose k-space is acquired with a draw seeded by ``seed`` and the
    slice's index: validation and test measurements are fixed and recorded by ``(acquisition, seed)``."""

    def __init__(self, dataset: Dataset, acquisition: Acquisition, seed: int):
        self.dataset, self.acquisition, self.seed = dataset, acquisition, seed

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def volumes(self):
        """The volume id of every slice, where the wrapped dataset names them (``slices.dataset_volumes``)."""
        from mri_cs.data.slices import dataset_volumes

        return dataset_volumes(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        kspace, target = self.dataset[index]
        return self.acquisition(kspace[None], slice_generator(self.seed, index))[0], target


def fully_sampled_psnr(dataset: Dataset) -> float:
    """Mean per-slice PSNR (dB) of the fully sampled acquired magnitude image against the clean target: how
    good the measurement itself is, the level the acquisition's noise is documented by."""
    from common.metrics import batch_psnr

    kspace, target = (torch.stack(x) for x in zip(*(dataset[i] for i in range(len(dataset)))))
    return float(batch_psnr(complex_abs(ifft2(kspace)).unsqueeze(1), target).mean())
