"""A10a: the sinusoidal encoding written in answers.md."""

import math

import numpy as np
import pytest
import torch

from dry import compute


def reference_encoding(n_positions: int, d_model: int) -> np.ndarray:
    """The usual PyTorch-tutorial table (even d_model): sin on even, cos on odd columns."""
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe.numpy()


@pytest.mark.parametrize("d_model", [2, 4, 8, 16])
def test_encoding_matches_the_reference_for_even_sizes(d_model):
    table = np.stack([compute.sinusoidal_encoding(p, d_model) for p in range(50)])
    np.testing.assert_allclose(table, reference_encoding(50, d_model), atol=1e-12)


def test_odd_size_keeps_the_sine_of_the_next_frequency():
    # d_model = 3: column 2 has no cosine partner and is the sine of frequency 10000^(-2/3).
    p = 3
    np.testing.assert_allclose(
        compute.sinusoidal_encoding(p, 3), [math.sin(p), math.cos(p), math.sin(p / 10000 ** (2 / 3))]
    )


def test_written_tables(answers, close_as_written):
    expected = np.array([[math.sin(p), math.cos(p), math.sin(p / 10000 ** (2 / 3))] for p in range(4)])
    close_as_written(answers.matrix("pe_table"), expected, "PE table")
    last = answers.rows("pe_last")
    close_as_written([last["PE(3), 0-based: the answer"]], expected[3:], "PE(3)")
    close_as_written([last["x_4 + PE(3)"]], [np.array([0.05, 0.4, 0.55]) + expected[3]], "x_4 + PE(3)")
    close_as_written(
        [last["PE(4), if positions are counted from 1"]],
        [[math.sin(4), math.cos(4), math.sin(4 / 10000 ** (2 / 3))]],
        "PE(4)",
    )
    close_as_written([answers.block("pe_freq")], [10000 ** (2 / 3)], "frequency")
