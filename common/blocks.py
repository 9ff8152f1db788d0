"""Generated blocks inside Markdown files, so that no result number is typed by hand.

A block is ``<!-- TAG:begin NAME -->content<!-- TAG:end NAME -->``. Code renders each
block's content (``dry/compute.py`` from formulas, each assignment's ``readme_results.py``
from the files under ``results/``); :func:`fill_blocks` writes it in, :func:`stale_blocks`
says which blocks of a file differ from what the code renders now.
"""

from __future__ import annotations

import re


def _pattern(tag: str) -> re.Pattern:
    return re.compile(rf"<!-- {tag}:begin (\w+) -->(.*?)<!-- {tag}:end \1 -->", re.DOTALL)


def read_blocks(text: str, tag: str) -> dict[str, str]:
    """The stripped content of every ``tag`` block in ``text``; a name used twice is a ``ValueError``."""
    found: dict[str, str] = {}
    for match in _pattern(tag).finditer(text):
        if match.group(1) in found:
            raise ValueError(f"block {match.group(1)!r} appears twice")
        found[match.group(1)] = match.group(2).strip()
    return found


def fill_blocks(text: str, blocks: dict[str, str], tag: str) -> str:
    """``text`` with every ``tag`` block's content replaced by ``blocks[name]``.

    The block names in ``text`` and in ``blocks`` must be the same (``ValueError`` otherwise).
    Multi-line content is set off by blank lines so Markdown sees tables and lists as their
    own paragraphs; one-line content stays inline in its sentence.
    """
    present = read_blocks(text, tag)
    missing, unknown = sorted(set(blocks) - set(present)), sorted(set(present) - set(blocks))
    if missing or unknown:
        raise ValueError(f"{tag} blocks differ from the code: missing in the file {missing}, unknown to the code {unknown}")

    def fill(match: re.Match) -> str:
        body = blocks[match.group(1)].strip()
        body = f"\n\n{body}\n\n" if "\n" in body else body
        return f"<!-- {tag}:begin {match.group(1)} -->{body}<!-- {tag}:end {match.group(1)} -->"

    return _pattern(tag).sub(fill, text)


def stale_blocks(text: str, blocks: dict[str, str], tag: str) -> list[str]:
    """Names of the blocks whose content in ``text`` differs from ``blocks`` (or that either side lacks)."""
    present = read_blocks(text, tag)
    names = sorted(set(present) | set(blocks))
    return [n for n in names if n not in present or n not in blocks or present[n] != blocks[n].strip()]
