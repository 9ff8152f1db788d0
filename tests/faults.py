"""Helpers of the fault tests (tests/*/test_faults.py): run a ``main`` in-process and read its exit,
check a refusal leaves files as they were, simulate a full disk or a SIGTERM while a checkpoint is
being written, hold a run folder's lock.

Loaded with importlib by each test file (the suite runs in importlib mode)."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from common.runs import LOCK_NAME


def exit_code(func: Callable[[], object]) -> int:
    """``func()``'s exit status: 0 when it returns, else the ``SystemExit`` code."""
    try:
        func()
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    return 0


PROGRESS = re.compile(r"\|\s*\d+/\d+ \[")  # a tqdm bar, "... 50%|#####     | 2/4 [00:00<...]"


def one_line(err: str) -> str:
    """The single non-empty line of ``err`` besides progress bars (asserting there is exactly one, and no traceback)."""
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.search(line)]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes (folders included by name)."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(folder.rglob("*"))
    }


def refused(func: Callable[[], object], root: Path, capsys, message: str) -> str:
    """Run ``func``, which must stop with exit 2 and one stderr line holding ``message`` and leave every file
    below ``root`` byte-identical; returns that line."""
    before = snapshot(root)
    code = exit_code(func)
    line = one_line(capsys.readouterr().err)
    assert code == 2 and message in line, line
    assert snapshot(root) == before
    return line


def _final(tmp: str) -> Path:
    """The file an atomic write's temporary ``.NAME.XXXX.tmp`` replaces."""
    path = Path(tmp)
    return path.with_name(path.name[1:].rsplit(".", 2)[0])


def _on_second_write(monkeypatch, action: Callable[[Path, Path], None]) -> list[Path]:
    """Patch ``torch.save`` so that the first write that would replace an existing file runs ``action(tmp,
    final)`` after writing part of it; returns the list of files replaced that way (one at most)."""
    real, hit = torch.save, []

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and not hit and _final(str(f)).is_file():
            hit.append(_final(str(f)))
            real(obj, f, *args, **kwargs)
            action(Path(f), hit[0])
            return None
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    return hit


def disk_full_on_second_checkpoint(monkeypatch) -> list[Path]:
    """The disk fills up while a checkpoint replaces its previous version: ``ENOSPC`` half-way."""

    def full(tmp: Path, final: Path) -> None:
        with open(tmp, "r+b") as f:
            f.truncate(max(1, tmp.stat().st_size // 2))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return _on_second_write(monkeypatch, full)


def sigterm_on_second_checkpoint(monkeypatch) -> list[Path]:
    """SIGTERM (a cluster's preemption) arrives while a checkpoint replaces its previous version."""
    return _on_second_write(monkeypatch, lambda tmp, final: os.kill(os.getpid(), signal.SIGTERM))


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*.tmp")]


@contextmanager
def locked_by_another_process(run_dir: Path) -> Iterator[int]:
    """``run_dir`` (created if needed) holds the lock of a live process (a sleeping child); yields its pid."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / LOCK_NAME).write_text(f"{child.pid}\n")
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()
        (run_dir / LOCK_NAME).unlink(missing_ok=True)


BAD_NAMES = ["..", "../escaped", "a/b", "/tmp/absolute", "", "tab\tname"]
