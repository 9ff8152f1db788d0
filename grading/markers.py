"""Solution markers in the students' files, and the stubs the starter release puts in their place.

A marked block sits inside a function body, after its docstring (the contract the student keeps)::

    def forward(self, x):
        \"\"\"What it returns.\"\"\"
        # BEGIN SOLUTION
        ...the reference code...
        # END SOLUTION

(otter-grader's marker names). :func:`stub` replaces each block by one
``raise NotImplementedError(...)`` at the block's indentation, naming the function, so the module
still imports and everything outside the blocks keeps working.
"""

from __future__ import annotations

import re

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(?:def|class)\s+(\w+)")


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers."""


def _owner(lines: list[str], index: int, indent: int) -> str:
    """The dotted name of the function (and class) that encloses line ``index``."""
    names, limit = [], indent
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < limit:
            names.append(match.group(2))
            limit = len(match.group(1))
            if limit == 0:
                break
    return ".".join(reversed(names)) or "this code"


def count(text: str) -> int:
    """How many solution blocks ``text`` holds."""
    return sum(line.strip() == BEGIN for line in text.splitlines())


def stub(text: str, where: str = "<file>") -> str:
    """``text`` with every solution block replaced by a ``raise NotImplementedError`` (idempotent)."""
    lines, out, start = text.splitlines(keepends=True), [], None
    for i, line in enumerate(lines):
        marker = line.strip()
        if marker == BEGIN:
            if start is not None:
                raise MarkerError(f"{where}:{i + 1}: {BEGIN} inside another block")
            start = i
        elif marker == END:
            if start is None:
                raise MarkerError(f"{where}:{i + 1}: {END} without {BEGIN}")
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            name = _owner(lines, start, len(indent))
            out.append(f'{indent}raise NotImplementedError("{name}: write it (see the docstring)")\n')
            start = None
        elif start is None:
            out.append(line)
    if start is not None:
        raise MarkerError(f"{where}:{start + 1}: {BEGIN} never closed")
    return "".join(out)
