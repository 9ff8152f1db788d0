"""Docstrings stay short and code comments carry no history: every docstring (module, class,
function) outside tests/ and dry/ is at most 20 lines, and no comment or docstring holds a
commit-hash-like token (run histories, hashes and measured numbers belong in the READMEs)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"tests", "dry", "dist", "build", "runs", "results", "reports", "data_cache", "__pycache__"}
MAX_LINES = 20
# 7 to 40 lowercase hex digits with at least one letter and one digit, not part of a longer word
HASH = re.compile(r"(?<![0-9A-Za-z_])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![0-9A-Za-z_])")
# not commits: torchvision's ResNet-18 ImageNet weights are named resnet18-f37072fd.pth (a sha256 prefix)
ALLOWED = {"f37072fd"}


def sources() -> list[Path]:
    return sorted(
        p
        for p in ROOT.rglob("*.py")
        if not any(part in SKIPPED or part.startswith(".") for part in p.relative_to(ROOT).parts)
    )


def docstrings(tree: ast.Module):
    """``(name, first line, number of lines, text)`` of every module, class and function docstring."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                yield (
                    getattr(node, "name", "<module>"),
                    first.lineno,
                    first.end_lineno - first.lineno + 1,
                    first.value.value,
                )


def test_the_scan_sees_the_packages():
    names = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert {"common", "mri_cs", "medical_cnn", "autoencoders", "auto_decoder", "backprop"} <= names


def test_no_docstring_is_longer_than_20_lines():
    long = [
        f"{p.relative_to(ROOT)}:{line} {name} ({n} lines)"
        for p in sources()
        for name, line, n, _ in docstrings(ast.parse(p.read_text(encoding="utf-8")))
        if n > MAX_LINES
    ]
    assert not long, "docstrings over 20 lines (move history and details to the README):\n" + "\n".join(long)


def test_no_commit_hash_in_comments_or_docstrings():
    found = []
    for p in sources():
        src = p.read_text(encoding="utf-8")
        texts = [
            (t.start[0], t.string)
            for t in tokenize.generate_tokens(io.StringIO(src).readline)
            if t.type == tokenize.COMMENT
        ]
        texts += [(line, text) for _, line, _, text in docstrings(ast.parse(src))]
        found += [
            f"{p.relative_to(ROOT)}:{line}: {m}" for line, text in texts for m in HASH.findall(text) if m not in ALLOWED
        ]
    assert not found, "commit-hash-like tokens in comments/docstrings:\n" + "\n".join(found)


def test_the_checks_catch_what_they_look_for():
    assert HASH.findall("reverted (2cd6f14)") == ["2cd6f14"]
    assert not HASH.findall("1234567 deadbeefs 0x1f2e3d4c5b resnet_abc1234x")
    tree = ast.parse('"""' + "\n" * 20 + '"""\ndef f():\n    """One line."""\n')
    assert [(name, n) for name, _, n, _ in docstrings(tree)] == [("<module>", 21), ("f", 1)]
