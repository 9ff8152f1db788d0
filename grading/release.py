"""The student starter release, built from the solution: ``make release`` -> ``dist/starter/``.

Copies the tracked files, replaces every marked solution block by a ``NotImplementedError`` stub
(:mod:`grading.markers`), removes the hidden tests of the rubric and this grader's own tests,
leaves out the written theory answers (``dry/``), and clears the notebooks' outputs. The same tree,
with the hidden tests kept, is the source of the Gradescope autograder.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

from grading.markers import BEGIN, stub
from grading.rubric import RUBRIC
from grading.submission import ROOT

LEFT_OUT = ("dry/", "tests/dry/", "tests/grading/", ".ci/")
STAMP = ".starter-release"
_IGNORED_PARTS = {"runs", "__pycache__", ".git", ".venv", "dist", "reports", "data_cache", ".ipynb_checkpoints"}


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks (a copy without git: every file outside run folders and caches)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        return [f for f in out.decode().split("\0") if f and (root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return [
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not _IGNORED_PARTS & set(p.relative_to(root).parts) and not p.name.endswith(".pyc")
        ]


def student_files() -> set[str]:
    return {f"{a.name}/{rel}" for a in RUBRIC.values() for rel in a.files}


def hidden_tests() -> dict[str, set[str]]:
    """``{test file: {test function, ...}}``; an empty set means the whole file is hidden."""
    hidden: dict[str, set[str]] = {}
    for a in RUBRIC.values():
        for p in a.problems:
            for check in p.hidden:
                path, _, name = check.partition("::")
                names = hidden.setdefault(path, set())
                if name:
                    names.add(name.split("[")[0])
                else:
                    hidden[path] = set()
    return hidden


def without_tests(text: str, names: set[str]) -> str:
    """``text`` without the top-level test functions ``names`` (their decorators included)."""
    lines = text.splitlines(keepends=True)
    spans = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name in names:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans.append((first - 1, node.end_lineno))
    for start, end in sorted(spans, reverse=True):
        del lines[start:end]
    return "".join(lines)


def clear_notebook(source: Path, dest: Path) -> None:
    import nbformat

    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, dest)


def prepare(dest: Path) -> None:
    """Empty ``dest`` if it is a previous build (or absent); refuse any other folder."""
    if dest.exists():
        if not (dest / STAMP).exists() and any(dest.iterdir()):
            raise FileExistsError(f"{dest} exists and is not a starter release; choose another --out")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / STAMP).write_text("built by `python -m grading release`; rebuilt (deleted) on every build\n")


def build(dest: Path, keep_hidden: bool = False, root: Path = ROOT, leave_out: tuple[str, ...] = ()) -> list[str]:
    """Write the starter tree into ``dest``; returns the student files that were stubbed.

    ``keep_hidden`` keeps the hidden tests (the autograder's tree); ``leave_out`` drops more path prefixes.
    """
    prepare(dest)
    students, hidden = student_files(), ({} if keep_hidden else hidden_tests())
    stubbed = []
    for rel in tracked_files(root):
        if rel.startswith(LEFT_OUT + leave_out):
            continue
        if rel in hidden and not hidden[rel]:
            continue
        source, target = root / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel in students:
            target.write_text(stub(source.read_text(), rel))
            stubbed.append(rel)
        elif rel in hidden:
            target.write_text(without_tests(source.read_text(), hidden[rel]))
        elif rel.endswith(".ipynb"):
            clear_notebook(source, target)
        else:
            shutil.copy2(source, target)
    leftovers = [rel for rel in students if BEGIN in (dest / rel).read_text()]
    if leftovers:
        raise RuntimeError(f"solution markers left in {leftovers}")
    return stubbed
