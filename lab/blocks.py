"""Generated blocks inside ``dry/answers.md``, so that no number there is typed by hand.

A block is ``<!-- TAG:begin NAME -->content<!-- TAG:end NAME -->``; ``dry/compute.py`` renders each
block's content from formulas and :func:`fill_blocks` writes it in. The answers quote numbers inside
sentences and equations, which cog (the READMEs' generator, whole lines only) cannot place.
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
        raise ValueError(
            f"{tag} blocks differ from the code: missing in the file {missing}, unknown to the code {unknown}"
        )

    def fill(match: re.Match) -> str:
        body = blocks[match.group(1)].strip()
        body = f"\n\n{body}\n\n" if "\n" in body else body
        return f"<!-- {tag}:begin {match.group(1)} -->{body}<!-- {tag}:end {match.group(1)} -->"

    return _pattern(tag).sub(fill, text)
