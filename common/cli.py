"""The command-line convention shared by the five ``main.py`` files.

Every assignment's ``main.py`` is an argument parser plus a dispatch; this module holds
what they have in common:

* :class:`DataError` and :class:`RunError`: problems the user can fix (missing or corrupt
  data, a run folder that cannot be written or resumed). :func:`run_command` turns them,
  ``KeyboardInterrupt`` and ``OSError`` into one line on stderr and a non-zero exit.
* :func:`add_common_args`: the flags every command accepts, with the same names and
  defaults everywhere (``--seed``, ``--device``, ``--results-root``, ``--name``,
  ``--resume``, ``--overwrite``, ``--quick``, ``--precision``). Given to the top-level parser *and* each
  sub-command, so ``main.py --seed 1 cmd`` and ``main.py cmd --seed 1`` both work.
* argparse types (:func:`positive_int`, :func:`positive_float`, :func:`non_negative_float`,
  :func:`fraction`, :func:`device_name`) whose error is one sentence.

Nothing here imports torch, so ``main.py --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_ERROR = 2  # argparse's code for a usage error; used for every error the user can fix
EXIT_DIVERGED = 3  # training stopped on a non-finite or exploding loss
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: a cluster's preemption, ``kill``


class DataError(Exception):
    """The data is missing, in an unexpected layout, or corrupt; the message says what was expected."""


class RunError(Exception):
    """A run folder cannot be created, resumed or written; the message says what to do instead."""


class Diverged(Exception):
    """Training stopped because its loss became non-finite or exploded (:class:`common.guard.DivergenceGuard`).

    ``record`` is what ``metrics.json`` holds for the run (``status: diverged``, the step, the loss);
    :func:`common.runs.run_folder` writes it, :func:`run_command` prints one line and exits 3.
    """

    def __init__(
        self,
        message: str,
        record: dict[str, Any] | None = None,
        hint: str = "run it again with a smaller --lr (and --overwrite)",
    ):
        super().__init__(message)
        self.record = {"status": "diverged", **(record or {})}
        self.hint = hint


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; a ``KeyboardInterrupt`` so every cleanup that Ctrl-C gets runs for it too."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line, ``main.py cmd: error: ... (see main.py cmd --help)``,
    with exit code 2. Sub-parsers made by ``add_subparsers`` are of the same class."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_ERROR)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` of every ``main.py``: the description and examples as written, and ``(default: ...)`` after each
    option unless its help text already states the default or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def main_parser(doc: str) -> OneLineParser:
    """The top-level parser of a ``main.py``: its docstring's first paragraph as the description and the docstring's
    example commands (its indented ``python main.py ...`` lines) under "examples:" at the end of ``--help``."""
    examples = [line.strip() for line in doc.splitlines() if line.lstrip().startswith("python main.py")]
    return OneLineParser(
        prog="main.py",
        description=" ".join(doc.split("\n\n")[0].split()),
        epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
        formatter_class=HelpFormatter,
    )


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (learning rates, noise levels, ...)."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value:g}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value:g}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    value = _float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value:g}")
    return value


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def device_name(text: str) -> str:
    """argparse type: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; checked against the machine later
    by :func:`common.runs.pick_device`."""
    if not _DEVICE.match(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_folder_name(name: str, what: str = "name") -> str:
    """``name`` if it is one folder name (to be created inside a root), else ``ValueError`` saying why:
    no path separator, not ``.`` or ``..``, not absolute, not empty, no control characters."""
    if not name or not name.strip():
        raise ValueError(f"{what} must not be empty")
    if _CONTROL.search(name):
        raise ValueError(f"{what} {name!r} contains a control character")
    if "/" in name or "\\" in name or Path(name).is_absolute():
        raise ValueError(f"{what} {name!r} must be one folder name, without a path separator")
    if name in (".", ".."):
        raise ValueError(f"{what} {name!r} must be one folder name, not {name}")
    return name


def folder_name(text: str) -> str:
    """argparse type: one folder name, created inside its root (``--name``, evaluation and sweep names)."""
    try:
        return check_folder_name(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


COMMON_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "device": "auto",
    "results_root": "runs",
    "name": None,
    "resume": False,
    "overwrite": False,
    "quick": False,
    "precision": "auto",
}


def add_common_args(parser: argparse.ArgumentParser, *, sub_command: bool = False) -> None:
    """Add the flags every command shares.

    With ``sub_command=True`` the defaults are suppressed, so a value given before the
    sub-command (on the top-level parser) is not overwritten by the sub-parser's default.
    """
    d = (lambda key: argparse.SUPPRESS) if sub_command else COMMON_DEFAULTS.get
    g = parser.add_argument_group("options every command accepts")
    g.add_argument(
        "--seed",
        type=non_negative_int,
        default=d("seed"),
        help="seeds data splits, initialisation and training (default: 0)",
    )
    g.add_argument(
        "--device",
        type=device_name,
        default=d("device"),
        help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps (default: auto)",
    )
    g.add_argument("--results-root", default=d("results_root"), help="run folders are created here (default: runs)")
    g.add_argument(
        "--name",
        type=folder_name,
        default=d("name"),
        help="run folder name (default: derived from the command and its options)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        default=d("resume"),
        help="continue the run folder --name from its last checkpoint",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        default=d("overwrite"),
        help="replace a finished run folder of the same name instead of stopping",
    )
    g.add_argument(
        "--quick",
        action="store_true",
        default=d("quick"),
        help="smoke run in seconds on a tiny subset; its folder name ends in _quick",
    )
    g.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default=d("precision"),
        metavar="P",
        help="arithmetic of the network's forward pass: auto (bf16 where the device has fast bf16 "
        "and the experiment keeps its fp32 quality in it, else fp32), fp32 or bf16 (default: auto)",
    )


def fill_common_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Give every common flag its default when neither parser set it (sub-parsers suppress them)."""
    for key, value in COMMON_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def run_name(args: argparse.Namespace, default: str) -> str:
    """``--name`` if given, else ``default``; quick runs get ``_quick`` so they never share a real run's folder.
    A name that is not one folder name (a default built from a bad argument) ends in one line and exit 2."""
    name = args.name or default
    if args.quick and not name.endswith("_quick"):
        name += "_quick"
    try:
        return check_folder_name(name, "run folder name")
    except ValueError as e:
        sys.stderr.write(f"{Path(sys.argv[0]).name}: error: {e}\n")
        sys.exit(EXIT_ERROR)


_HANDLER_PID = [0]  # the process whose run_command installed the SIGTERM handler
_SIGNALLED = [False]  # a SIGTERM arrived: the command is ending, whatever else its cleanup raises


def _raise_terminated(signum: int, frame: Any) -> None:
    """SIGTERM -> :class:`Terminated` in the command's process; a forked helper (a DataLoader worker, which a
    job scheduler signals with the whole process group) inherits the handler and just ends, without a traceback."""
    if os.getpid() != _HANDLER_PID[0]:
        os._exit(EXIT_TERMINATED)
    _SIGNALLED[0] = True
    raise Terminated()


def _quiet_when_signalled(unraisable: Any) -> None:
    """``sys.unraisablehook`` during a command: after SIGTERM, errors in destructors (DataLoader workers
    that died of the same signal) are not printed; otherwise the hook that was there before."""
    if not _SIGNALLED[0]:
        _OUTER_HOOK[0](unraisable)


_OUTER_HOOK = [sys.unraisablehook]


def _last_line(error: Exception) -> str:
    """The message; for one re-raised from a DataLoader worker (its text holds the worker's traceback)
    only the original message, the traceback's last line."""
    text = str(error)
    if "Traceback" not in text:
        return text
    return re.sub(r"^[\w.]+: ", "", text.strip().splitlines()[-1])  # "common.cli.DataError: ..." -> "..."


def check_checkout(script: str | Path | None = None) -> None:
    """Refuse to run the ``main.py`` of one checkout with the course code of another (a virtual environment whose
    editable install points at a second clone would otherwise read and write that clone's files)."""
    script = Path(script if script is not None else sys.argv[0]).resolve()
    checkout, here = script.parent.parent, Path(__file__).resolve().parents[1]
    if script.name == "main.py" and (checkout / "common" / "cli.py").is_file() and checkout != here:
        raise RunError(
            f"{script} belongs to the checkout {checkout}, but this Python imports the course from {here}; "
            f"run `make setup` in {checkout} (it points the environment at it)"
        )


def run_command(prog: str, func: Callable[[], Any], resume_hint: str | None = None) -> Any:
    """Call ``func`` and turn the errors a user can cause into one line and an exit code.

    ``DataError``/``RunError``/``OSError`` -> ``prog: error: ...`` and exit 2;
    :class:`Diverged` -> ``prog: diverged: ...`` plus a hint and exit 3;
    Ctrl-C -> ``prog: interrupted`` plus ``resume_hint`` (how to continue) and exit 130;
    SIGTERM is handled like Ctrl-C (the same cleanup and hint) and exits 143.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()  # signal handlers can only be set there
    _HANDLER_PID[0], _SIGNALLED[0] = os.getpid(), False
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    if sys.unraisablehook is not _quiet_when_signalled:  # not already inside a run_command
        _OUTER_HOOK[0], sys.unraisablehook = sys.unraisablehook, _quiet_when_signalled
    try:
        try:
            check_checkout()
            return func()
        except Exception:
            if _SIGNALLED[0]:  # after SIGTERM: the error of a DataLoader worker the scheduler signalled with the
                raise Terminated() from None  # whole process group, or of a cleanup the signal cut short
            raise
    except Terminated:
        if hasattr(signal, "SIGCHLD"):  # torch's check of its (terminated) workers would raise again at cleanup
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        hint = f"; {resume_hint}" if resume_hint else ""
        print(f"\n{prog}: terminated (SIGTERM){hint}", file=sys.stderr)
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:
        hint = f"; {resume_hint}" if resume_hint else ""
        print(f"\n{prog}: interrupted{hint}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Diverged as e:
        print(f"{prog}: diverged: {e}; {e.hint}", file=sys.stderr)
        sys.exit(EXIT_DIVERGED)
    except (DataError, RunError) as e:
        print(f"{prog}: error: {_last_line(e)}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except OSError as e:  # unwritable folders, full disks, unreadable files
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"{prog}: error: {e.strerror or e}{where}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        sys.unraisablehook = _OUTER_HOOK[0]
