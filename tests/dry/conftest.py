"""Read the numbers back out of dry/answers.md, so the tests check the text itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dry import compute


class Answers:
    """The generated blocks of answers.md and the Markdown tables inside them."""

    def __init__(self, text: str):
        self.text = text
        self.blocks = compute.read_blocks(text)

    def block(self, name: str) -> str:
        assert name in self.blocks, f"answers.md has no block {name!r}"
        return self.blocks[name]

    def tables(self, name: str) -> list[list[list[str]]]:
        """Every table of the block as rows of cells, header and separator dropped."""
        tables, current = [], None
        for line in self.block(name).splitlines() + [""]:
            if line.startswith("|"):
                if current is None:
                    current = []
                    tables.append(current)
                current.append([c.strip() for c in line.strip().strip("|").split("|")])
            else:
                current = None
        assert tables, f"block {name!r} holds no table"
        return [t[2:] for t in tables]

    def table(self, name: str, index: int = 0) -> list[list[str]]:
        return self.tables(name)[index]

    def rows(self, name: str, index: int = 0) -> dict[str, list[str]]:
        """A table keyed by its first column."""
        return {row[0]: row[1:] for row in self.table(name, index)}

    def matrix(self, name: str, index: int = 0) -> list[list[str]]:
        """The number cells of a table whose first column holds row labels."""
        return [row[1:] for row in self.table(name, index)]


def half_unit(cell: str) -> float:
    """Half a unit in the last digit written: what rounding to that many digits allows."""
    text = cell.replace(",", "")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def assert_close_as_written(cells, expected, what: str = "") -> None:
    """Each written number equals the recomputed one to the precision it is written with."""
    cells = np.asarray(cells, dtype=object)
    expected = np.asarray(expected, dtype=float)
    assert cells.shape == expected.shape, f"{what}: table shape {cells.shape}, expected {expected.shape}"
    for idx, cell in np.ndenumerate(cells):
        value = float(str(cell).replace(",", ""))
        assert abs(value - expected[idx]) <= half_unit(str(cell)) * (1 + 1e-9) + 1e-12, (
            f"{what}{list(idx)}: answers.md says {cell}, recomputed {expected[idx]!r}"
        )


@pytest.fixture(scope="session")
def answers() -> Answers:
    return Answers(compute.ANSWERS.read_text(encoding="utf-8"))


def numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


@pytest.fixture
def close_as_written():
    return assert_close_as_written


@pytest.fixture
def find_numbers():
    return numbers_in
