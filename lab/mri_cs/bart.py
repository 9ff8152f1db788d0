"""Cross-check of our TV solver with BART (``bart pics``), the reference toolbox of MRI compressed sensing.

On a few test slices of the realistic benchmark, at the tuned variable-density mask, ``bart pics -R T:3:0:lambda``
(total variation over both image axes, sensitivities of one) is run over a small weight grid and its best mean
PSNR set beside ``cs.tv_solve`` at our chosen weight. BART's centred unitary FFT is ours, so the weights are
comparable up to BART's objective scaling; the grid absorbs that. Where ``bart`` is not installed the command
says so in one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch

from common.metrics import batch_psnr
from mri_cs import cs

BART_LAMBDAS = (0.002, 0.004, 0.008, 0.016, 0.032)
SLICES = 8


def write_cfl(base: Path, array: np.ndarray) -> None:
    """BART's format: ``base.hdr`` (the dimensions) and ``base.cfl`` (complex64, column-major)."""
    dims = list(array.shape) + [1] * (16 - array.ndim)
    base.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    array.astype(np.complex64).flatten(order="F").tofile(base.with_suffix(".cfl"))


def read_cfl(base: Path) -> np.ndarray:
    dims = [int(d) for d in base.with_suffix(".hdr").read_text().splitlines()[1].split()]
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return np.fromfile(base.with_suffix(".cfl"), dtype=np.complex64).reshape(dims, order="F")


def bart_tv(y: np.ndarray, lam: float, iterations: int = 200) -> np.ndarray:
    """``bart pics`` TV reconstruction ``(H, W)`` of one slice's measured k-space ``y (H, W)``."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_cfl(d / "k", y[:, :, None, None])
        write_cfl(d / "s", np.ones((*y.shape, 1, 1), dtype=np.complex64))
        cmd = ["bart", "pics", "-S", "-w", "1", "-i", str(iterations), "-R", f"T:3:0:{lam}", "k", "s", "x"]
        subprocess.run(cmd, cwd=d, check=True, capture_output=True)
        return read_cfl(d / "x").reshape(y.shape)


def cross_check(args: argparse.Namespace) -> None:
    """Our TV and BART's on ``SLICES`` test slices at the tuned variable-density mask; writes ``bart_drop<D>``."""
    from lab.mri_cs.realistic import mask_for, measurements, write

    if shutil.which("bart") is None:
        raise ValueError("bart is not installed (apt-get install bart); the cross-check is skipped")
    mask, label = mask_for(args)
    ours = json.loads((Path(args.out) / f"classical_{label}.json").read_text())["tv"]["lambda"]
    data = measurements(args)
    k, t = (x[: SLICES * 4 : 4] for x in data["test"])
    y = (k[..., 0] + 1j * k[..., 1]).numpy() * mask.numpy()
    by_lambda = {}
    for lam in BART_LAMBDAS:
        recon = torch.from_numpy(np.abs(np.stack([bart_tv(s, lam) for s in y]))).float().unsqueeze(1)
        by_lambda[f"{lam:g}"] = float(batch_psnr(recon, t).mean())
    record = {"mask": label, "slices": data["test_idx"][: SLICES * 4 : 4], "bart_psnr_by_lambda": by_lambda}
    record["ours"] = {"lambda": ours, "psnr": cs.mean_psnr(cs.reconstruct("tv", k, mask, ours), t)}
    print(f"BART best {max(by_lambda.values()):.2f} dB, ours {record['ours']['psnr']:.2f} dB on {SLICES} slices")
    write(args, f"bart_{label}", record)
