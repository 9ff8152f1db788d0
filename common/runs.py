"""Run-folder plumbing every assignment's ``main.py`` needs: device, seeding,
run folders, JSON records and atomic, resumable checkpoints.

A run folder looks like::

    <results_root>/<name>/
        config.json     # the arguments, the dataset used, the device, package versions and the git commit
        log.csv         # one row per epoch (or validation), appended as the run goes (append_log)
        metrics.json    # the numbers the run produced
        checkpoint.pt   # written atomically (common.checkpoint's layout); ``--resume`` continues from it
        *.png           # figures
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.cli import Diverged, RunError

LOCK_NAME = ".lock"  # held by the process writing the run folder; removed when it ends
LOG_NAME = "log.csv"
RECORDED_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "scikit-learn", "scikit-image", "medmnist")


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``), else CUDA when available, else CPU."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name} requested but MPS is not available on this machine")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} requested but CUDA is not available on this machine")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _check_writable(folder: Path) -> None:
    """Raise :class:`RunError` unless ``folder`` exists as a writable folder or could be created."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise RunError(f"cannot create run folders under {folder}: {probe} is not a folder")
    try:  # os.access says yes to root everywhere, so try: a folder made and removed at once
        os.rmdir(tempfile.mkdtemp(dir=probe, prefix=".write-test-"))
    except OSError as e:
        raise RunError(f"cannot create run folders under {folder}: {probe} is not writable ({e.strerror})") from None


def check_run_dir(
    results_root: str | Path,
    name: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    args: dict[str, Any] | None = None,
    fixed_on_resume: tuple[str, ...] = (),
) -> Path:
    """Validate the run folder ``results_root/name`` for a new or resumed run; write nothing.

    A new run refuses a folder that already holds files (unless ``overwrite``); ``resume``
    needs the folder's ``config.json``, and every key of ``fixed_on_resume`` in ``args`` must
    equal the value stored in that config's ``"args"``. Raises :class:`RunError`.
    """
    run_dir = Path(results_root) / name
    _check_writable(run_dir)
    if (pid := lock_holder(run_dir)) is not None:
        raise RunInUse.of(run_dir, pid)
    if resume:
        config_path = run_dir / "config.json"
        if not config_path.is_file():
            raise RunError(f"--resume: there is no run in {run_dir}; start it without --resume")
        stored = load_json(config_path).get("args", {})
        changed = [
            k for k in fixed_on_resume if args is not None and k in stored and stored[k] != _jsonable(args.get(k))
        ]
        if changed:
            detail = ", ".join(f"--{k.replace('_', '-')} {stored[k]!r} (now {args.get(k)!r})" for k in changed)
            raise RunError(f"--resume: {run_dir} was started with {detail}; resume it with the same arguments")
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise RunError(
            f"{run_dir} already holds a run; add --resume to continue it, --overwrite to replace it, "
            f"or choose another --name"
        )
    return run_dir


@contextmanager
def run_folder(
    results_root: str | Path,
    name: str,
    config: dict[str, Any],
    *,
    resume: bool = False,
    overwrite: bool = False,
    fixed_on_resume: tuple[str, ...] = (),
) -> Iterator[Path]:
    """Open the run folder once the data has been checked: validate (:func:`check_run_dir`),
    then create it and write ``config.json``. On ``resume`` the arguments in ``fixed_on_resume`` were
    just checked to be the stored ones; ``config.json`` is rewritten when the body ends without an error,
    to record this session's others (a longer ``--epochs``), and left as it was when the resume fails.

    ``config`` holds the arguments under ``"args"``; ``"argv"`` is added: the command as typed, from the script's
    name on (``["python", "main.py", "--learn-mask"]``), which the READMEs show, and what the numbers depend on:
    the Python version, ``versions`` (:func:`package_versions`) and ``commit`` (:func:`git_commit`). If the body
    fails before any checkpoint (``*.pt``) exists, a folder created here is removed again, so a failed run leaves
    nothing behind; an interrupted run with a checkpoint stays for ``--resume``.
    """
    config = {
        "argv": ["python", Path(sys.argv[0]).name, *sys.argv[1:]],
        **config,
        "python": sys.version.split()[0],
        "versions": package_versions(),
        "commit": git_commit(),
    }
    run_dir = check_run_dir(
        results_root, name, resume=resume, overwrite=overwrite, args=config.get("args"), fixed_on_resume=fixed_on_resume
    )
    created = not run_dir.exists()
    new_parents = [p for p in run_dir.parents if not p.exists()]  # e.g. a --results-root made for this run
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with run_lock(run_dir):
            try:
                if overwrite and not resume:
                    for old in run_dir.iterdir():
                        if old.name != LOCK_NAME:
                            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
                    created = True  # nothing of the old run is left to keep
                if not resume:
                    save_json(run_dir / "config.json", config)
                yield run_dir
            except Diverged as e:  # a finished record: the run stopped on its loss, and says so
                save_json(run_dir / "metrics.json", e.record)
                raise
            if resume:  # only once the resumed run got through: a failed resume changes no file
                save_json(run_dir / "config.json", config)
    except BaseException as e:
        if created and not isinstance(e, (Diverged, RunInUse)) and not any(run_dir.rglob("*.pt")):
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in new_parents:  # deepest first; only while they are still empty
                try:
                    parent.rmdir()
                except OSError:
                    break
        raise


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str]:
    """The version of each package in ``names`` that is installed, so a run says what it ran on; torch's with its
    build tag (``2.14.1+cu130``), which tells a CUDA build from a CPU one."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {**found, "torch": torch.__version__}


def _git(folder: Path, *cmd: str) -> str:
    return subprocess.run(["git", *cmd], cwd=folder, capture_output=True, text=True, timeout=10, check=True).stdout


CODE_FOLDER = Path(__file__).resolve().parent


def git_commit(folder: Path = CODE_FOLDER) -> str | None:
    """The commit checked out where the code lives (with ``+dirty`` when files differ from it); None outside git."""
    try:
        dirty = bool(_git(folder, "status", "--porcelain", "--untracked-files=no").strip())
        return _git(folder, "rev-parse", "HEAD").strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def append_log(run_dir: str | Path, row: dict[str, Any], name: str = LOG_NAME) -> None:
    """Add ``row`` to ``run_dir/name`` (the header is the first row's keys), so a running job can be followed.

    Called once per epoch or validation. A row whose ``epoch`` (or ``step``) is already in the log replaces it
    and every later row, so a resumed run's log reads as one history. A key the header lacks is a ``ValueError``.
    """
    path = Path(run_dir) / name
    row = _jsonable(row)
    rows = list(csv.DictReader(io.StringIO(path.read_text()))) if path.is_file() else []
    header = list(rows[0]) if rows else list(row)
    if unknown := [k for k in row if k not in header]:
        raise ValueError(f"{path}: columns {unknown} are not in its header {header}")
    key = next((k for k in ("epoch", "step") if k in row), None)
    if key is not None:
        rows = [r for r in rows if r.get(key) in (None, "") or float(r[key]) < float(row[key])]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows([*rows, row])
    save_text(path, out.getvalue())


def check_run(args: Any, fixed_on_resume: tuple[str, ...] = ()) -> Path:
    """:func:`check_run_dir` for a parsed command line: the folder ``args.results_root / args.name``,
    ``--resume`` and ``--overwrite``; ``fixed_on_resume`` is the command's tuple of arguments a resume must repeat."""
    return check_run_dir(
        args.results_root,
        args.name,
        resume=args.resume,
        overwrite=args.overwrite,
        args=vars(args),
        fixed_on_resume=fixed_on_resume,
    )


def open_run(args: Any, fixed_on_resume: tuple[str, ...] = (), **config: Any):
    """:func:`run_folder` for a parsed command line; ``config.json`` holds ``vars(args)`` under ``"args"``,
    then ``config``."""
    return run_folder(
        args.results_root,
        args.name,
        {"args": vars(args), **config},
        resume=args.resume,
        overwrite=args.overwrite,
        fixed_on_resume=fixed_on_resume,
    )


class RunInUse(RunError):
    """Another live process holds the run folder's lock."""

    @classmethod
    def of(cls, run_dir: Path, pid: int | None) -> RunInUse:
        return cls(f"{run_dir} is in use by another run (process {pid}); wait for it to end or choose another --name")


def lock_holder(run_dir: Path) -> int | None:
    """The process id in ``run_dir``'s lock file when another process that is still alive holds it, else None."""
    pid = _lock_pid(Path(run_dir) / LOCK_NAME)
    return pid if pid is not None and pid != os.getpid() and _alive(pid) else None


def _lock_pid(path: Path) -> int | None:
    """The id in a lock file; 0 for one being written (empty), None when there is no lock."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # a lock being written right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir/.lock`` (created with ``O_CREAT | O_EXCL``, so only one process gets it) while the body runs;
    a second run of the same folder gets :class:`RunInUse`. A stale lock (its process is gone) is taken over."""
    path = Path(run_dir) / LOCK_NAME
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            holder = _lock_pid(path)
            if attempt == 0 and holder is not None and holder != os.getpid() and not _alive(holder):
                path.unlink(missing_ok=True)  # stale: the process that wrote it is gone
                continue
            raise RunInUse.of(run_dir, holder) from None
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    try:
        yield
    finally:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # a folder turned read-only: the stale lock is taken over by the next run
            pass


def make_run_dir(results_root: str | Path, name: str) -> Path:
    """Create (or reuse) the folder ``results_root/name`` without any check; prefer :func:`run_folder`."""
    run_dir = Path(results_root) / name
    _check_writable(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.device):
        return str(obj)
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return obj.tolist()  # a 0-d tensor or array gives a plain number
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _atomic_write(path: Path, write, failures: tuple[type[BaseException], ...] = ()) -> None:
    """Write through a temporary file in the same folder, then rename: a crash never leaves half a file.

    A failed write (a full disk, a read-only folder: any ``OSError``, or one of ``failures``, the writer's
    own error for the same) removes the temporary file, leaves the previous ``path`` as it was and raises
    :class:`RunError` naming ``path`` and the cause."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; run files are for everyone who may read the folder
        os.replace(tmp, path)
    except (OSError, *failures) as e:
        cause = _cause(e, path.parent)
        raise RunError(f"cannot write {path}: {cause}; the previous file, if any, is unchanged") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _cause(error: BaseException, folder: Path) -> str:
    """The reason in words: the errno's text, or for a writer that hides it (torch's zip writer) the full disk."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    try:
        if shutil.disk_usage(folder).free < 1 << 20:
            return os.strerror(errno.ENOSPC)
    except OSError:
        pass
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def save_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (tensors, arrays and paths converted), atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(_jsonable(obj), f, indent=2, sort_keys=False)
            f.write("\n")

    _atomic_write(Path(path), write)


def save_text(path: str | Path, text: str) -> None:
    """Write a text file (CSV, Markdown) atomically."""
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def save_npz(path: str | Path, **arrays: Any) -> None:
    """``np.savez_compressed`` atomically (through a file object, so numpy adds no ``.npz`` suffix)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic_write(Path(path), write)


def save_figure(fig: Any, path: str | Path, **savefig_kwargs: Any) -> None:
    """``fig.savefig`` atomically, in the format of ``path``'s suffix."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


def load_json(path: str | Path) -> Any:
    with open(path) as f:
        return json.load(f)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """``torch.save`` atomically. Keep ``state`` to tensors, numbers, strings, lists and dicts
    so that :func:`load_checkpoint` can read it with ``weights_only=True``."""
    _atomic_write(
        Path(path), lambda tmp: torch.save(state, tmp), failures=(RuntimeError,)
    )  # a full disk, in torch's words


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled)."""
    return torch.load(path, map_location=map_location, weights_only=True)
