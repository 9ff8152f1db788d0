"""k-space transforms against NumPy's FFT."""

import numpy as np
import pytest
import torch

from mri_cs.data.transforms import center_crop, complex_abs, complex_center_crop, fft2, ifft2, normalize_instance


def _to_complex(x: torch.Tensor) -> np.ndarray:
    return torch.view_as_complex(x.contiguous()).numpy()


def test_fft_round_trip_and_parseval():
    x = torch.randn(3, 12, 10, 2, dtype=torch.float64)
    k = fft2(x)
    torch.testing.assert_close(ifft2(k), x)
    torch.testing.assert_close((k**2).sum(), (x**2).sum())  # orthonormal


def test_fft2_is_numpy_centred_orthonormal_fft():
    x = torch.randn(2, 9, 8, 2, dtype=torch.float64)
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(_to_complex(x), axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(_to_complex(fft2(x)), ref, atol=1e-12)


def test_dc_sits_in_the_centre():
    x = torch.zeros(8, 8, 2)
    x[..., 0] = 1.0
    k = complex_abs(fft2(x))
    assert k[4, 4] == pytest.approx(8.0)
    assert k.sum() == pytest.approx(8.0)


def test_complex_abs_and_crops():
    x = torch.tensor([[[3.0, 4.0]]])
    assert complex_abs(x).item() == pytest.approx(5.0)
    img = torch.arange(36.0).view(6, 6)
    torch.testing.assert_close(center_crop(img, (2, 4)), img[2:4, 1:5])
    c = torch.randn(6, 6, 2)
    torch.testing.assert_close(complex_center_crop(c, (2, 2)), c[2:4, 2:4])
    with pytest.raises(ValueError):
        center_crop(img, (8, 2))
    with pytest.raises(ValueError):
        fft2(torch.randn(4, 4, 3))


def test_normalize_instance_is_a_pure_scale():
    x = torch.randn(16, 16, 2)
    y = normalize_instance(x)
    assert complex_abs(y).max() == pytest.approx(1.0)
    ratio = y / x
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))
