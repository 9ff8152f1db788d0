"""Task 3: psf2otf is circular convolution; Wiener deconvolution inverts it sensibly."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from backprop.wiener import blur, gaussian_kernel, make_kernel, motion_kernel, psf2otf, wiener_deconv
from common.metrics import psnr


def circular_convolution(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Direct sum: out[i, j] = sum_uv k[u, v] x[i - u + cu, j - v + cv], indices modulo the image size."""
    out = torch.zeros_like(x)
    cu, cv = k.shape[0] // 2, k.shape[1] // 2
    for u in range(k.shape[0]):
        for v in range(k.shape[1]):
            out += k[u, v] * torch.roll(x, shifts=(u - cu, v - cv), dims=(0, 1))
    return out


@pytest.mark.parametrize("kshape", [(3, 3), (5, 3), (4, 4), (1, 1)])
def test_otf_product_is_circular_convolution(kshape):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 10, generator=g, dtype=torch.float64)
    k = torch.rand(kshape, generator=g, dtype=torch.float64)
    via_otf = torch.fft.ifft2(torch.fft.fft2(x) * psf2otf(k, (12, 10))).real
    torch.testing.assert_close(via_otf, circular_convolution(x, k))
    torch.testing.assert_close(blur(x, k), via_otf)
    if kshape[0] % 2 and kshape[1] % 2:  # scipy centres odd kernels the same way
        np.testing.assert_allclose(via_otf.numpy(), ndimage.convolve(x.numpy(), k.numpy(), mode="wrap"), atol=1e-12)


def test_otf_of_a_delta_is_one_and_dc_is_the_kernel_sum():
    delta = torch.zeros(3, 3, dtype=torch.float64)
    delta[1, 1] = 1
    torch.testing.assert_close(psf2otf(delta, (8, 8)), torch.ones(8, 8, dtype=torch.complex128))
    k = torch.rand(5, 5, dtype=torch.float64)
    assert psf2otf(k, (16, 16))[0, 0].real.item() == pytest.approx(k.sum().item())


def test_wiener_recovers_noise_free_blur_and_shrinks_with_delta_kernel():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, 32, generator=g, dtype=torch.float64)
    k = gaussian_kernel(5, 0.8).double()
    torch.testing.assert_close(wiener_deconv(blur(x, k), k, snr=1e12), x, atol=1e-5, rtol=0)
    delta = torch.zeros(3, 3, dtype=torch.float64)
    delta[1, 1] = 1
    torch.testing.assert_close(wiener_deconv(x, delta, snr=4.0), x * 4 / 5)


def test_wiener_beats_the_blurred_input_and_the_plain_inverse_filter_on_noisy_data():
    import skimage.data

    x = torch.from_numpy(skimage.data.camera()[::4, ::4] / 255.0)
    k = make_kernel("motion", 9).double()
    y = blur(x, k) + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    wiener = psnr(wiener_deconv(y, k, snr=100).clamp(0, 1), x, 1.0)
    assert wiener > psnr(y, x, 1.0) + 1
    assert wiener > psnr(wiener_deconv(y, k, snr=1e10).clamp(0, 1), x, 1.0) + 1


def test_kernels_are_normalised_and_shaped():
    g = gaussian_kernel(7, 1.5)
    assert g.sum().item() == pytest.approx(1.0, abs=1e-6) and g.argmax().item() == 24
    torch.testing.assert_close(g, g.T)
    m = motion_kernel(9, 9.0, 30.0)
    assert m.sum().item() == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(m, m.flip(0, 1), atol=1e-6, rtol=0)  # a line through the centre is point-symmetric
    horizontal = motion_kernel(5, 5.0, 0.0)
    torch.testing.assert_close(horizontal[2], torch.full((5,), 0.2), atol=1e-6, rtol=0)


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError):
        wiener_deconv(torch.rand(8, 8), torch.ones(3, 3) / 9, snr=0)
    with pytest.raises(ValueError):
        psf2otf(torch.ones(9, 9), (4, 4))
    with pytest.raises(ValueError):
        make_kernel("box", 5)


@pytest.mark.parametrize("target", [10.0, 10**1.5])
def test_choose_snr_finds_the_known_optimum(target):
    """With a delta kernel the Wiener filter is ``y * snr / (1 + snr)``, whose mean squared error
    ``(a - 1)^2 E[x^2] + a^2 sigma^2`` is smallest at ``snr = E[x^2] / sigma^2``. Images around 0.5
    (so clipping to [0, 1] hardly matters) with noise chosen to put that optimum on a grid point:
    choose_snr must return exactly that point."""
    from backprop.deblur import SNR_GRID, choose_snr

    g = torch.Generator().manual_seed(3)
    clean = [(0.5 + 0.05 * torch.randn(96, 96, generator=g, dtype=torch.float64)) for _ in range(4)]
    power = torch.stack(clean).pow(2).mean().item()
    sigma = (power / target) ** 0.5
    noisy = [x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64) for x in clean]
    delta = torch.zeros(3, 3, dtype=torch.float64)
    delta[1, 1] = 1
    assert min(SNR_GRID, key=lambda s: abs(s - target)) == pytest.approx(target)
    assert choose_snr(clean, noisy, delta) == pytest.approx(target)


def test_choose_snr_trusts_noise_free_data_and_distrusts_noisy_data():
    from backprop.deblur import SNR_GRID, choose_snr

    g = torch.Generator().manual_seed(4)
    clean = [torch.rand(32, 32, generator=g, dtype=torch.float64) for _ in range(2)]
    k = gaussian_kernel(3, 0.5).double()
    blurred = [blur(x, k) for x in clean]
    assert choose_snr(clean, blurred, k) == max(SNR_GRID)
    very_noisy = [y + 0.5 * torch.randn(y.shape, generator=g, dtype=torch.float64) for y in blurred]
    assert choose_snr(clean, very_noisy, k) < 3
