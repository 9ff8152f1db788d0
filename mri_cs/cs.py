"""The classical compressed-sensing baseline: total-variation reconstruction with deepinv.

``tv_reconstruct`` solves ``min_x 1/2 ||M F x - y||^2 + lambda TV(x)`` for the complex image ``x`` by proximal
gradient descent (deepinv's ``optim_builder("PGD", ...)``, a ``TVPrior`` whose proximal step is itself
iterative), with ``F`` the centred orthonormal 2-D FFT of ``data/transforms.py`` (deepinv's ``physics.MRI``
is the same operator) and ``M`` the run's mask. No training: the only choice is ``lambda``, made on validation
slices by :func:`choose_lambda`. The step size is 1, the inverse of ``||M F||^2``.
"""

from __future__ import annotations

import numpy as np
import torch

from common.metrics import batch_psnr
from mri_cs.data.transforms import complex_abs

METHODS = ("tv",)
LAMBDAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)  # the validation grid; images are scaled to a maximum of 1


def tv_reconstruct(
    kspace: torch.Tensor, mask: torch.Tensor, lam: float, iterations: int = 100, prox_iterations: int = 20
) -> torch.Tensor:
    """TV reconstruction ``(B, 1, H, W)`` (magnitude) of the samples ``mask (H, W)`` keeps of ``kspace (B, H, W, 2)``.

    Only the masked samples of ``kspace`` enter: they are the measurement ``y``.
    """
    import deepinv as dinv

    if kspace.ndim != 4 or kspace.shape[-1] != 2 or tuple(mask.shape) != tuple(kspace.shape[1:3]):
        raise ValueError(
            f"expected kspace (B, H, W, 2) and mask (H, W), got {tuple(kspace.shape)} and {tuple(mask.shape)}"
        )
    mask = mask.to(kspace.device, torch.float32)
    physics = dinv.physics.MRI(mask=mask, img_size=(2, *mask.shape), device=kspace.device)
    y = (kspace.float() * mask[None, :, :, None]).permute(0, 3, 1, 2)  # (B, 2, H, W), deepinv's layout
    solver = dinv.optim.optim_builder(
        "PGD",
        prior=dinv.optim.prior.TVPrior(n_it_max=prox_iterations),
        data_fidelity=dinv.optim.data_fidelity.L2(),
        params_algo={"stepsize": 1.0, "lambda": lam},
        max_iter=iterations,
        early_stop=False,
    )
    with torch.no_grad():
        x = solver(y, physics)  # (B, 2, H, W)
    return complex_abs(x.permute(0, 2, 3, 1)).unsqueeze(1)


def choose_lambda(
    kspace: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, lambdas=LAMBDAS, iterations: int = 100
) -> tuple[float, dict[str, float]]:
    """The ``lambda`` with the best mean PSNR on validation slices ``kspace (B, H, W, 2)``, ``target (B, 1, H, W)``;
    returns it and the mean PSNR of every ``lambda`` tried (keys ``f"{lambda:g}"``)."""
    tried = {
        f"{lam:g}": float(batch_psnr(tv_reconstruct(kspace, mask, lam, iterations).cpu(), target).mean())
        for lam in lambdas
    }
    best = max(tried, key=tried.get)
    return float(best), tried


def subset(n: int, k: int) -> list[int]:
    """``k`` slice indices spread evenly over ``n`` (all of them when ``k >= n``): the recorded CS subset."""
    return list(range(n)) if k >= n else np.linspace(0, n - 1, k).round().astype(int).tolist()
