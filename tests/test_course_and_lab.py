"""The course never imports the lab: no module or report notebook of an assignment, nor ``common/``, imports ``lab``."""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COURSE = ("medical_cnn", "autoencoders", "auto_decoder", "backprop", "mri_cs", "common")


def lab_imports(source: str) -> list[str]:
    """The ``import lab...`` / ``from lab... import`` statements of ``source``, as text."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        found += [name for name in names if name == "lab" or name.startswith("lab.")]
    return found


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, IPython magics left out."""
    cells = json.loads(path.read_text())["cells"]
    lines = [line for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()]
    return "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))


def test_lab_imports_finds_both_forms():
    assert lab_imports("import lab.results\nfrom lab import speed\nfrom laboratory import x\nimport os") == [
        "lab.results",
        "lab",
    ]


@pytest.mark.parametrize("folder", COURSE)
def test_course_folder_never_imports_the_lab(folder):
    offenders = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        if found := lab_imports(path.read_text(encoding="utf-8")):
            offenders[path.relative_to(ROOT).as_posix()] = found
    for path in sorted((ROOT / folder).rglob("*.ipynb")):
        if found := lab_imports(notebook_code(path)):
            offenders[path.relative_to(ROOT).as_posix()] = found
    assert not offenders, f"the course imports the lab: {offenders}"
