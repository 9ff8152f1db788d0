"""A1b/c: no linear threshold classifier beats 3/4 on XOR; the written 2-layer network gets 4/4."""

import ast

import numpy as np
import torch

from dry import compute

POINTS = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)
LABELS = np.array([1, 1, 0, 0])


def correct_counts(w: np.ndarray, b: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Points right, for classifiers 'class 1 iff sigmoid(w . x + b) >= tau'
    given as arrays of shape (m, 2), (m,), (m,)."""
    prob = torch.sigmoid(torch.from_numpy(w @ POINTS.T + b[:, None])).numpy()
    return ((prob >= tau[:, None]) == LABELS.astype(bool)).sum(axis=1)


def test_no_linear_threshold_classifier_beats_three_of_four(answers):
    rng = np.random.default_rng(0)
    m = 300_000
    counts = correct_counts(
        rng.normal(scale=3, size=(m, 2)), rng.normal(scale=3, size=m), rng.uniform(0.01, 0.99, size=m)
    )
    grid = np.linspace(-2, 2, 21)  # a different grid from compute.py's
    w1, w2, b, tau = (a.ravel() for a in np.meshgrid(grid, grid, grid, np.linspace(0.05, 0.95, 19), indexing="ij"))
    counts = np.concatenate([counts, correct_counts(np.column_stack([w1, w2]), b, tau)])
    assert counts.max() == 3
    written = answers.rows("xor_search")
    assert int(written["most points correct (of 4)"][0]) == counts.max()
    assert int(written["classifiers with 4 of 4 correct"][0]) == 0
    assert int(written["classifiers tried"][0]) == len(compute.GRID) ** 3 * len(compute.TAUS)


def test_the_three_of_four_example_in_the_text():
    assert correct_counts(np.array([[-1.0, 1.0]]), np.array([1.0]), np.array([0.5]))[0] == 3


def written_network(answers) -> dict:
    rows = answers.rows("xor_net_weights")
    net = {k: torch.tensor(ast.literal_eval(rows[k][0]), dtype=torch.float64) for k in ("W1", "b1", "W2", "b2")}
    net["tau"] = float(rows["tau"][0])
    return net


def forward(net: dict, x: torch.Tensor) -> torch.Tensor:
    return (torch.sigmoid(x @ net["W1"].T + net["b1"]) @ net["W2"].T + net["b2"])[:, 0]


def test_written_two_layer_network_gets_four_of_four(answers, close_as_written):
    net = written_network(answers)
    x = torch.from_numpy(POINTS)
    y = forward(net, x)
    predicted = (y >= net["tau"]).long().numpy()
    np.testing.assert_array_equal(predicted, LABELS)
    assert int(answers.block("xor_net_correct")) == (predicted == LABELS).sum() == 4
    hidden = torch.sigmoid(x @ net["W1"].T + net["b1"]).numpy()
    close_as_written(
        answers.matrix("xor_net_outputs"), np.column_stack([hidden, y.numpy(), predicted, LABELS]), "outputs"
    )


def test_class_one_region_is_not_convex(answers):
    # The text's argument for (c): the midpoint of the two class-1 points is predicted class 0.
    net = written_network(answers)
    assert forward(net, torch.zeros(1, 2, dtype=torch.float64))[0] < net["tau"]
