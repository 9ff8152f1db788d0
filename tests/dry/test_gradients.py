"""A5/B10: the vanishing and exploding examples reproduce."""

import numpy as np

from dry import compute


def sigmoid_chain_by_hand(depth: int) -> float:
    """Chain rule written out: product of sigmoid'(a_k) along a_0 = 0, a_{k+1} = sigmoid(a_k)."""
    a, product = 0.0, 1.0
    for _ in range(depth):
        s = 1 / (1 + np.exp(-a))
        product *= s * (1 - s)
        a = s
    return product


def test_table(answers, close_as_written):
    table = answers.table("grad_table")
    depths = [int(row[0]) for row in table]
    assert depths == list(compute.DEPTHS)
    expected = [[0.25**n, sigmoid_chain_by_hand(n), 1.5**n, 1.5**n] for n in depths]
    close_as_written([row[1:] for row in table], expected, "gradient table")
    for row in table:
        assert float(row[2]) < float(row[1]), "the sigmoid chain stays below its 0.25^n bound"


def test_inline_values(answers, close_as_written):
    close_as_written([answers.block("grad_vanish_10"), answers.block("grad_explode_50")], [0.25**10, 1.5**50])


def test_autograd_helpers_match_the_chain_rule():
    for n in (1, 7, 30):
        assert np.isclose(compute.sigmoid_chain_derivative(n), sigmoid_chain_by_hand(n), rtol=1e-12)
        assert np.isclose(compute.linear_chain_derivative(n, 1.5), 1.5**n, rtol=1e-12)
