"""The files the starter release writes itself: a student README per assignment, the root README, a Makefile
and ``report.py`` (execute the report notebooks; a missing run is one line, never a traceback).

Each student README is built from the rubric (the handout's names, the files, the points) and the
solution's block markers (the functions to write); no number of the solution appears in it.
"""

from __future__ import annotations

import re
from pathlib import Path

from grading.markers import BEGIN, _owner
from grading.rubric import RUBRIC, Assignment

COMMANDS = {
    "mri_cs": ("python main.py --drop-rate 0.3 --learn-mask", "python main.py --quick"),
    "medical_cnn": ("python main.py conv", "python main.py classify --quick", "python main.py segment --quick"),
    "autoencoders": ("python main.py --help", "python main.py mnist --quick"),
    "auto_decoder": ("python main.py --help", "python main.py ad --quick"),
    "backprop": ("python main.py gradcheck", "python main.py inpaint --quick"),
}


def functions_to_write(path: Path) -> list[str]:
    """The functions of ``path`` that hold a solution block, in file order."""
    lines = path.read_text().splitlines(keepends=True)
    names = []
    for i, line in enumerate(lines):
        if line.strip() == BEGIN:
            indent = len(line) - len(line.lstrip())
            names.append(_owner(lines, i, indent))
    return list(dict.fromkeys(names))


def title(assignment: str, root: Path) -> str:
    """The first heading of the solution README (a title, never a result), digits dropped to be safe."""
    readme = root / assignment / "README.md"
    first = readme.read_text().splitlines()[0] if readme.exists() else f"# {assignment}"
    return re.sub(r"\d+(\.\d+)? ?(dB|%)", "", first).strip()


def student_readme(a: Assignment, root: Path) -> str:
    """What to implement (names and points from the rubric), the commands, how to check the work locally."""
    out = [
        title(a.name, root),
        "",
        "This is the starter: every graded function raises `NotImplementedError` until you write it.",
        "",
    ]
    out += ["## What you implement", "", "| problem | what | file | points |", "| --- | --- | --- | --- |"]
    out += [f"| {p.number} | {p.title} | `{'`, `'.join(p.files)}` | {p.points:g} |" for p in a.problems]
    source = "the handout's" if a.points_source == "the handout" else "the course's own; the handout gives none"
    out += ["", f"Points: {a.points:g} in all ({source}). A problem scores its points when all of its", ""]
    out[-2] += " checks pass, else 0."
    out += ["## Functions to write", ""]
    for rel in a.files:
        names = functions_to_write(root / a.name / rel)
        out.append(f"- `{rel}`: " + ", ".join(f"`{n}`" for n in names))
    out += ["", "Each one keeps its docstring: it is the contract the tests check.", ""]
    if a.report_only:
        out += ["## Graded by the staff from your report", ""] + [f"- {part}" for part in a.report_only] + [""]
    out += ["## Commands", "", "```bash", f"cd {a.name}", "python main.py --help"]
    out += [*COMMANDS.get(a.name, ()), "```", ""]
    out += ["## Check your work", "", "```bash", f"pytest tests/{a.name}        # from the starter's root", "```", ""]
    out += ["The course's grader asks the same questions as these public tests, plus a few hidden ones;"]
    out += ["it runs your files in a sandbox against this starter, so hand in only the files listed above.", ""]
    out += [
        "`make report` (at the root) executes `report.ipynb` on your runs and writes `reports/" + a.name + ".html`.",
        "",
    ]
    return "\n".join(out)


ROOT_README = """# Deep-learning course: the starter

Five assignments, one folder each. In every folder the files you edit are listed in its README, with the
functions to write (they raise `NotImplementedError` until you do) and the points of each problem.

```bash
python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt && pip install -e .
make test                 # the public tests (all fail on the stubs until you write them)
pytest tests/mri_cs       # one assignment's tests
make report               # execute each report.ipynb on your runs; HTML in reports/
```

| folder | README |
| --- | --- |
{rows}

`common/` is the code the assignments share (arguments, run folders, metrics); you do not edit it.
"""

MAKEFILE = """# The starter's commands: `make test` (public tests), `make report` (report notebooks to HTML).
PYTHON ?= python3
.PHONY: test report
test:
\t$(PYTHON) -m pytest -q tests
report:
\t$(PYTHON) report.py
"""

REPORT_PY = '''"""Execute each assignment's report.ipynb in its folder and write reports/<assignment>.html.

A report that cannot run yet (no run folder: train first) ends in one line naming the reason, not a traceback.
Usage: python report.py [assignment ...]
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def execute(path: Path, timeout: int = 600):
    """Execute the notebook at ``path`` in its own folder, this starter first on the kernel's import path."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    where = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=where).execute(env=env)
    return nb


def run(name: str) -> str | None:
    """None when the report was written, else the one-line reason."""
    path = ROOT / name / "report.ipynb"
    if not path.exists():
        return "no report.ipynb"
    try:
        nb = execute(path)
    except Exception as exc:  # the notebook's own error, e.g. a missing run folder
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return (lines[-1] if lines else type(exc).__name__)[:300]
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / f"{name}.html").write_text(html)
    return None


def main() -> int:
    names = sys.argv[1:] or sorted(p.parent.name for p in ROOT.glob("*/report.ipynb"))
    failed = 0
    for name in names:
        reason = run(name)
        print(f"{name}: " + (f"reports/{name}.html" if reason is None else f"not written: {reason}"))
        failed += reason is not None
    return 0  # a report that could not run yet is said on its line, not by an error


if __name__ == "__main__":
    sys.exit(main())
'''


def generated_files(root: Path) -> dict[str, str]:
    """``{path in the starter: text}`` of every file the release writes itself."""
    rows = "\n".join(f"| `{name}/` | [{name}/README.md]({name}/README.md) |" for name in RUBRIC)
    files = {"README.md": ROOT_README.format(rows=rows), "Makefile": MAKEFILE, "report.py": REPORT_PY}
    for a in RUBRIC.values():
        files[f"{a.name}/README.md"] = student_readme(a, root)
    return files
