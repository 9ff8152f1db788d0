"""The realistic acquisition: its noise gives the documented fully sampled PSNR, its phase is smooth, its seeded
draws repeat across runs and processes, its bad settings are refused; the cascade starts as the identity."""

import math
import subprocess
import sys

import pytest
import torch

from common.metrics import batch_psnr
from mri_cs import main as mri_main
from mri_cs.data.acquisition import (
    DEFAULT_SIGMA,
    PHASE_CYCLES,
    AcquiredSlices,
    Acquisition,
    fully_sampled_psnr,
    smooth_phase,
)
from mri_cs.data.transforms import complex_abs, fft2, ifft2
from mri_cs.models.cascade import CascadeModel
from mri_cs.models.subsampling import SubsamplingLayer


def flat_images(n: int = 4, size: int = 64) -> torch.Tensor:
    """Clean k-space ``(n, size, size, 2)`` of images of magnitude 1 everywhere (peak 1, range 1)."""
    images = torch.zeros(n, size, size, 2)
    images[..., 0] = 1.0
    images[:, 0, 0, 0] = 0.0  # a range of exactly 1 for the PSNR
    return fft2(images)


class Pairs(torch.utils.data.Dataset):
    def __init__(self, kspace):
        self.kspace = kspace

    def __len__(self):
        return len(self.kspace)

    def __getitem__(self, i):
        return self.kspace[i], complex_abs(ifft2(self.kspace[i])).unsqueeze(0)


def test_the_noise_level_gives_the_documented_fully_sampled_psnr():
    # On a bright image the magnitude error is about the in-phase noise: PSNR = -20 log10(sigma) (38.1 dB at 0.0125).
    measured = AcquiredSlices(Pairs(flat_images()), Acquisition("realistic", DEFAULT_SIGMA), seed=3)
    assert fully_sampled_psnr(measured) == pytest.approx(-20 * math.log10(DEFAULT_SIGMA), abs=0.15)
    quieter = AcquiredSlices(Pairs(flat_images()), Acquisition("realistic", DEFAULT_SIGMA / 2), seed=3)
    assert fully_sampled_psnr(quieter) == pytest.approx(fully_sampled_psnr(measured) + 6.02, abs=0.15)
    ideal = AcquiredSlices(Pairs(flat_images()), Acquisition("ideal", 0.0), seed=3)
    assert fully_sampled_psnr(ideal) > 100


def test_the_phase_is_smooth_spans_pi_and_the_target_stays_the_clean_magnitude():
    phase = smooth_phase((2, 64, 64), torch.Generator().manual_seed(0))
    centred = phase - phase.mean(dim=(1, 2), keepdim=True)
    assert float(centred.abs().amax()) <= 2 * math.pi and float(phase.std(dim=(1, 2)).min()) > 0.3
    spectrum = torch.fft.fft2(centred).abs() ** 2
    f = torch.fft.fftfreq(64) * 64
    high = (f[:, None] ** 2 + f[None, :] ** 2) > (4 * PHASE_CYCLES) ** 2
    assert float(spectrum[:, high].sum() / spectrum.sum()) < 1e-3  # energy above 4 widths of the low-pass
    kspace = flat_images(2)
    acquired = Acquisition("realistic", 1e-9)(kspace, torch.Generator().manual_seed(0))
    torch.testing.assert_close(complex_abs(ifft2(acquired)), complex_abs(ifft2(kspace)), atol=1e-4, rtol=0)
    assert float(ifft2(acquired)[..., 1].abs().max()) > 0.1  # the image is complex now


def test_seeded_draws_repeat_in_another_process_and_differ_between_slices_and_seeds():
    data = Pairs(flat_images(3, 16))
    a = AcquiredSlices(data, Acquisition(), seed=5)
    torch.testing.assert_close(a[1][0], AcquiredSlices(data, Acquisition(), seed=5)[1][0], rtol=0, atol=0)
    assert not torch.equal(a[1][0], a[2][0]) and not torch.equal(a[1][0], AcquiredSlices(data, Acquisition(), 6)[1][0])
    code = (
        "import torch; from mri_cs.data.acquisition import AcquiredSlices, Acquisition, slice_generator;"
        "from mri_cs.data.transforms import fft2;"
        "x = torch.zeros(3, 16, 16, 2); x[..., 0] = 1; k = fft2(x);"
        "print(repr(Acquisition()(k[1:2], slice_generator(5, 1)).sum(dim=(1, 2, 3)).item()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(float(a[1][0].sum()), abs=1e-4)


@pytest.mark.parametrize(
    "kind, sigma, message",
    [
        ("realistic", -0.1, ">= 0"),
        ("realistic", math.nan, "finite"),
        ("realistic", 0.0, "> 0"),
        ("mri", 0.0, "unknown acquisition"),
    ],
)
def test_bad_acquisitions_are_refused(kind, sigma, message):
    with pytest.raises(ValueError, match=message):
        Acquisition(kind, sigma)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--noise-sigma", "-0.01"], "argument --noise-sigma"),
        (["--noise-sigma", "0"], "argument --noise-sigma"),
        (["--noise-sigma", "nan"], "argument --noise-sigma"),
        (["--noise-sigma", "inf"], "argument --noise-sigma"),
        (["--acquisition", "ideal", "--noise-sigma", "0.01"], "noiseless"),
        (["--acquisition", "scanner"], "argument --acquisition"),
        (["--model", "cascade", "--stages", "0"], "argument --stages"),
    ],
)
def test_bad_acquisition_flags_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        mri_main.parse_args(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and message in err[0]


def test_the_acquisition_picks_loss_augmentation_and_name():
    realistic, ideal = mri_main.parse_args([]), mri_main.parse_args(["--acquisition", "ideal"])
    assert (realistic.loss, realistic.noise_sigma, "noise" in realistic.augment) == ("psnr", DEFAULT_SIGMA, False)
    assert (ideal.loss, ideal.noise_sigma, "noise" in ideal.augment) == ("l1", 0.0, True)
    assert ideal.name == realistic.name + "_ideal"


@pytest.mark.parametrize("learn_mask", [False, True])
def test_the_untrained_cascade_returns_its_zero_filled_input_which_agrees_with_the_measurements(learn_mask):
    model = CascadeModel(0.5, "cpu", learn_mask, (32, 32), width=8, stages=3)
    kspace = fft2(torch.randn(2, 32, 32, 2))
    with torch.no_grad():
        out = model(kspace)
    layer = model.subsample
    torch.testing.assert_close(out, layer(kspace), atol=1e-5, rtol=0)  # SubsamplingLayer's zero-filled magnitude
    with pytest.raises(ValueError, match="at least 1 stage"):
        CascadeModel(0.5, "cpu", False, (32, 32), stages=0)


def test_cascade_trains_the_mask_through_every_stage_and_uses_only_measured_samples():
    torch.manual_seed(0)
    model = CascadeModel(0.5, "cpu", True, (16, 16), width=8, stages=2)
    for cnn in model.cnns:  # a non-identity network, so the data consistency matters
        torch.nn.init.normal_(cnn[-1].weight, std=0.1)
    kspace = fft2(torch.randn(2, 16, 16, 2))
    target = complex_abs(ifft2(kspace)).unsqueeze(1)
    ((model(kspace) - target) ** 2).mean().backward()
    assert model.subsample.scores.grad is not None and float(model.subsample.scores.grad.abs().sum()) > 0
    model.eval()
    mask = model.subsample.hard_mask()[None, :, :, None]
    other = kspace + 5 * (1 - mask) * torch.randn_like(kspace)
    with torch.no_grad():
        torch.testing.assert_close(model(other), model(kspace))


@torch.no_grad()
def test_a_stronger_data_consistency_weight_pulls_the_output_to_the_measurements():
    torch.manual_seed(0)
    model = CascadeModel(0.3, "cpu", False, (16, 16), width=8, stages=1)
    torch.nn.init.normal_(model.cnns[0][-1].weight, std=0.3)
    kspace = fft2(torch.randn(1, 16, 16, 2))
    mask = SubsamplingLayer(0.3, "cpu", False, (16, 16)).hard_mask()[None, :, :, None]
    residual = []
    for logit in (-6.0, 6.0):
        model.dc_logits.data.fill_(logit)
        image = model.cnns[0](ifft2(kspace * mask).permute(0, 3, 1, 2)).permute(0, 2, 3, 1) + ifft2(kspace * mask)
        k = fft2(image)
        out = ifft2(k + torch.sigmoid(torch.tensor(logit)) * mask * (kspace * mask - k))
        residual.append(float(((fft2(out) - kspace) * mask).abs().sum()))
        torch.testing.assert_close(model(kspace), complex_abs(out).unsqueeze(1))
    assert residual[1] < 0.01 * residual[0]


def test_psnr_loss_ranks_like_the_reported_metric():
    from mri_cs.train import reconstruction_loss

    target = torch.rand(2, 1, 8, 8)
    better, worse = target + 0.01, target + 0.1
    loss_b, _ = reconstruction_loss(better, target, "psnr")
    loss_w, _ = reconstruction_loss(worse, target, "psnr")
    assert float(loss_w - loss_b) == pytest.approx(20.0, abs=1e-3)  # ten times the error: 20 dB
    assert float(-loss_b) == pytest.approx(float(batch_psnr(better, target, data_range=1.0).mean()), abs=1e-3)
