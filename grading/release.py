"""The student starter release, built from the solution: ``make release`` -> ``dist/starter/`` (or ``--out``).

Only the course goes in: each assignment's package (solution blocks replaced by ``NotImplementedError`` stubs,
:mod:`grading.markers`; any module that imports the lab left out), ``common/``, the public tests (the rubric's
hidden tests removed; tests of the lab left out), the report notebooks with their outputs cleared, and a
student README per assignment, a root README, a Makefile and a report runner (:mod:`grading.starter`).
Never in it: ``lab/``, ``results/``, ``docs/``, ``dry/``, the grader (``grading/`` and its tests), the
solution READMEs. :func:`build_code` is the same stubbed code without tests or notebooks: the tree the
grader runs submissions against.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

from grading.markers import BEGIN, stub
from grading.rubric import RUBRIC
from grading.starter import generated_files
from grading.submission import ROOT

LEFT_OUT = (
    "dry/",
    "lab/",
    "results/",
    "docs/",
    "grading/",
    "reports/",
    ".ci/",
    "tests/dry/",
    "tests/grading/",
    "tests/lab/",
    "CONTRIBUTING.md",
)
REPLACED = ("README.md", "Makefile", *(f"{name}/README.md" for name in RUBRIC))
STAMP = ".starter-release"
_IGNORED_PARTS = {"runs", "__pycache__", ".git", ".venv", "dist", "reports", "data_cache", ".ipynb_checkpoints"}
_IMPORTS_LAB = re.compile(r"^\s*(from|import)\s+lab(\.|\s|$)", re.M)
_LAB_MODULES = ("readme_results.py",)  # lab code that may still sit in an assignment folder


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


PUBLIC_TESTS = ("tests/common/", *(f"tests/{name}/" for name in RUBRIC), "tests/conftest.py", "tests/faults.py")


def is_course(rel: str, root: Path) -> bool:
    """Whether ``rel`` belongs in the starter: not lab, results, docs, the grader, tests of the repository
    itself (READMEs, docstrings, the lab), or code that imports the lab."""
    if rel.startswith(LEFT_OUT) or rel in REPLACED or Path(rel).name in _LAB_MODULES:
        return False
    if rel.startswith("tests/") and not rel.startswith(PUBLIC_TESTS):
        return False
    if rel == "tests/conftest.py":  # its lab import sits inside the report fixture, which no public test uses
        return True
    return not (rel.endswith(".py") and _IMPORTS_LAB.search((root / rel).read_text(errors="replace")))


def _write(rel: str, source: Path, target: Path, hidden: dict[str, set[str]]) -> bool:
    """Copy one file into the starter, stubbed, without hidden tests, or cleared; True when it was stubbed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if rel in student_files():
        target.write_text(stub(source.read_text(), rel))
        return True
    if rel == "tests/conftest.py":  # the notebook fixture runs the starter's own report.py, not the lab's
        target.write_text(source.read_text().replace("from lab.report import execute", "from report import execute"))
    elif rel in hidden:
        target.write_text(without_tests(source.read_text(), hidden[rel]))
    elif rel.endswith(".ipynb"):
        clear_notebook(source, target)
    else:
        shutil.copy2(source, target)
    return False


def build(dest: Path, keep_hidden: bool = False, root: Path = ROOT, leave_out: tuple[str, ...] = ()) -> list[str]:
    """Write the starter tree into ``dest``; returns the student files that were stubbed.

    ``keep_hidden`` keeps the hidden tests; ``leave_out`` drops more path prefixes.
    """
    prepare(dest)
    hidden = {} if keep_hidden else hidden_tests()
    stubbed = []
    for rel in tracked_files(root):
        if not is_course(rel, root) or rel.startswith(leave_out) or (rel in hidden and not hidden[rel]):
            continue
        if _write(rel, root / rel, dest / rel, hidden):
            stubbed.append(rel)
    for rel, text in generated_files(root).items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    _check_no_solution(dest)
    return stubbed


def build_code(dest: Path, root: Path = ROOT) -> list[str]:
    """Only the stubbed code the graded assignments run on (``common/`` and the packages; no tests, notebooks)."""
    dest.mkdir(parents=True)
    parts = ("common/", *(f"{name}/" for name in RUBRIC))
    stubbed = []
    for rel in tracked_files(root):
        if rel.startswith(parts) and rel.endswith(".py") and is_course(rel, root):
            if _write(rel, root / rel, dest / rel, {}):
                stubbed.append(rel)
    _check_no_solution(dest)
    return stubbed


def _check_no_solution(dest: Path) -> None:
    leftovers = [rel for rel in student_files() if (dest / rel).exists() and BEGIN in (dest / rel).read_text()]
    if leftovers:
        raise RuntimeError(f"solution markers left in {leftovers}")
