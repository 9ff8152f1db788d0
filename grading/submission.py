"""A student's submission: find the handout's files, and lay them over a temporary copy of the repository.

The overlay is a fresh folder holding the shared code, the assignments and the reference tests, with
each found student file copied over the reference one (all graded assignments in one overlay). A
missing file, or one that does not import (error, or no answer within the time limit), is replaced by
its release stub, so the other problems of the same test module still run; its own problems score 0
with the reason. The repository's own files are only ever read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grading.markers import stub
from grading.rubric import Assignment

ROOT = Path(__file__).resolve().parents[1]
COPIED = (
    "common",
    "grading",
    "tests",
    "pyproject.toml",
    "mri_cs",
    "medical_cnn",
    "autoencoders",
    "auto_decoder",
    "backprop",
)
_SKIP = shutil.ignore_patterns("runs", "__pycache__", "*.pt", "*.pth", "data_cache", ".ipynb_checkpoints", "*.ipynb")


@dataclass
class Overlay:
    """The folder the tests run in, and why some of the student's files were not used."""

    root: Path
    problems: dict[str, dict[str, str]] = field(default_factory=dict)  # assignment -> {student file: why it scores 0}


def find_file(folder: Path, rel: str) -> Path | None:
    """``folder/rel``, else ``folder/<basename>``, else the one file of that name below ``folder``."""
    for candidate in (folder / rel, folder / Path(rel).name):
        if candidate.is_file():
            return candidate
    found = [
        p
        for p in folder.rglob(Path(rel).name)
        if p.is_file() and not any(s.startswith(".") or s == "__pycache__" for s in p.relative_to(folder).parts)
    ]
    return found[0] if len(found) == 1 else None


def submission_folder(submission: Path, assignment: str) -> Path:
    """Where an assignment's files are: ``SUBMISSION/<assignment>/`` when it exists, else ``SUBMISSION``."""
    sub = submission / assignment
    return sub if sub.is_dir() else submission


def copy_repository(dest: Path, source: Path = ROOT) -> None:
    """The parts of the repository the graded tests need (no run folders, checkpoints or notebooks)."""
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=_SKIP)
        elif path.is_file():
            shutil.copy2(path, dest / name)
    shutil.rmtree(dest / "tests" / "grading", ignore_errors=True)


def module_name(assignment: str, rel: str) -> str:
    return f"{assignment}." + rel.removesuffix(".py").replace("/", ".")


_CHECK = """
import importlib, json, math, signal, sys, traceback
class Hung(BaseException):
    pass
def alarm(signum, frame):
    raise Hung()
signal.signal(signal.SIGALRM, alarm)
for heavy in ("numpy", "torch"):  # shared by every file: not counted in a file's limit
    try:
        importlib.import_module(heavy)
    except BaseException:
        pass
out, limit = open(sys.argv[1], "a"), float(sys.argv[2])
for name in sys.argv[3:]:
    out.write(json.dumps({"module": name, "started": True}) + "\\n"); out.flush()
    try:
        signal.alarm(math.ceil(limit))
        importlib.import_module(name)
        signal.alarm(0)
        out.write(json.dumps({"module": name, "ok": True}) + "\\n")
    except Hung:
        out.write(json.dumps({"module": name, "ok": False, "error": f"import did not finish within {limit:g} s"}) + "\\n")
    except BaseException as exc:
        signal.alarm(0)
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
        out.write(json.dumps({"module": name, "ok": False, "error": "does not import: " + line[:300]}) + "\\n")
    out.flush()
"""  # noqa: E501  (a script run in a subprocess: its text is kept as written)


def import_problems(root: Path, modules: list[str], limit: float, env: dict[str, str]) -> dict[str, str]:
    """``{module: reason}`` for the modules that fail to import or take over ``limit`` seconds, imported in ``root``.

    Each import has its own alarm; a file that ignores it or ends the interpreter is caught by the
    process's overall limit and the check restarts after it.
    """
    problems: dict[str, str] = {}
    pending = list(modules)
    while pending:
        log = root / ".import_check.jsonl"
        log.unlink(missing_ok=True)
        try:
            subprocess.run(
                [sys.executable, "-c", _CHECK, str(log), str(limit), *pending],
                cwd=root,
                env=env,
                timeout=limit * (len(pending) + 1) + 60,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pass
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        done = {d["module"]: d for d in lines if "ok" in d}
        problems.update({name: d["error"] for name, d in done.items() if not d["ok"]})
        rest = [m for m in pending if m not in done]
        if rest:  # the check process died or was stopped in rest[0]
            problems[rest[0]] = (
                f"import did not finish within {limit:g} s"
                if any(d.get("started") and d["module"] == rest[0] for d in lines)
                else "import ended the interpreter"
            )
        pending = rest[1:]
    return problems


def build_overlay(
    assignments: list[Assignment], submission: Path, dest: Path, import_timeout: float, env: dict[str, str]
) -> Overlay:
    """Copy the repository to ``dest`` and the student's files of each of ``assignments`` over it."""
    copy_repository(dest)
    overlay = Overlay(dest)
    names: dict[str, tuple[str, str]] = {}
    for assignment in assignments:
        folder, package = submission_folder(submission, assignment.name), dest / assignment.name
        problems = overlay.problems.setdefault(assignment.name, {})
        for rel in assignment.files:
            found = find_file(folder, rel)
            if found is None:
                problems[rel] = f"missing (looked for {rel} in {folder})"
                (package / rel).write_text(stub((package / rel).read_text(), rel))
            else:
                shutil.copyfile(found, package / rel)
                names[module_name(assignment.name, rel)] = (assignment.name, rel)
    for module, reason in import_problems(dest, list(names), import_timeout, env).items():
        name, rel = names[module]
        overlay.problems[name][rel] = reason
        (dest / name / rel).write_text(stub((ROOT / name / rel).read_text(), rel))
    return overlay


def temporary_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def child_env(root: Path) -> dict[str, str]:
    """The environment of the grader's subprocesses: ``root`` first on the path, one thread per process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return env
