"""Reduced-precision training: which precision a run uses and the autocast context for it.

``--precision`` (a common flag) is ``auto``, ``fp32`` or ``bf16``. Only the network's
forward pass runs under :func:`autocast`; the loss, FFTs, data consistency and metrics see float32,
because every training loop casts the network's output with ``.float()`` before using it.
``auto`` picks bf16 only when both hold: the device runs bf16 fast (a CUDA card that supports it,
or a CPU whose oneDNN has native bf16 kernels, AVX-512 BF16 or AMX) *and* the experiment is one
whose bf16 quality was measured to match fp32 (its ``bf16_ok`` argument, set per experiment from
the parity runs in ``results/``). bf16 keeps float32's exponent range, so no loss scaling is
needed and the loops stay as they are; fp16 is not offered, since it would need a gradient scaler
and every GPU with fast fp16 since Ampere has fast bf16 as well.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` has native bf16 arithmetic (so autocast to bf16 speeds training up)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(requested: str, device: torch.device, bf16_ok: bool) -> str:
    """The precision a run uses: ``fp32`` or ``bf16``.

    Args:
        requested: the ``--precision`` value.
        device: the run's device.
        bf16_ok: whether this experiment's bf16 quality matches fp32 (only used by ``auto``).

    Raises:
        ValueError: an unknown precision, or bf16 on a device without bf16 autocast (MPS).
    """
    if requested not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "auto":
        return "bf16" if bf16_ok and fast_bf16(device) else "fp32"
    if requested == "bf16" and device.type not in ("cpu", "cuda"):
        raise ValueError(f"--precision bf16 is not supported on {device}; use fp32")
    return requested


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context for the network's forward pass: ``torch.autocast`` to bf16, or nothing in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def fp32_only(requested: str, command: str) -> str:
    """``fp32`` for a command whose loops have no bf16 path; ``ValueError`` if bf16 was asked for explicitly."""
    if requested == "bf16":
        raise ValueError(
            f"--precision bf16 is not available for {command}, which trains in fp32 only; use --precision fp32 or auto"
        )
    return "fp32"
