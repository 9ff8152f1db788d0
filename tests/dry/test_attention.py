"""A9: Q, K, scores and A written in answers.md agree with an independent numpy computation."""

import re

import numpy as np
from scipy.special import softmax

from dry import compute

# The question's data, copied from the question text.
X = np.array([[0.3, 0.25, 0.45], [0.75, 0.1, 0.15], [0.6, 0.2, 0.2], [0.05, 0.4, 0.55]])
W_Q = np.array([[0.1, 0.3, 0.6], [0.4, 0.05, 0], [0, 0.7, 0.5]])
W_K = np.array([[0, 0.15, 0.9], [0.8, 0.35, 0.75], [0.25, 0.4, 0]])
W_V = np.array([[0.7, 0.15, 0.1], [0, 0.1, 0.4], [0.2, 0.4, 0.95]])

Q, K, V = X @ W_Q, X @ W_K, X @ W_V
S = Q @ K.T
SCALED = S / np.sqrt(3)
A = softmax(SCALED, axis=1)


def test_inputs_are_the_questions(answers, find_numbers):
    for ours, theirs in ((compute.TOKENS, X), (compute.W_Q, W_Q), (compute.W_K, W_K), (compute.W_V, W_V)):
        np.testing.assert_array_equal(ours, theirs)
    written = find_numbers(re.sub(r"W_[QKV]", "", answers.block("att_inputs")))
    np.testing.assert_array_equal(written, np.concatenate([m.ravel() for m in (X, W_Q, W_K, W_V)]))


def test_q_k_v_tables(answers, close_as_written):
    for index, expected in enumerate((Q, K, V)):
        close_as_written(answers.matrix("att_qkv", index), expected, f"QKV table {index}")


def test_row_by_row_steps(answers, find_numbers):
    for name, x_w, w in (("att_q_steps", Q, W_Q), ("att_k_steps", K, W_K)):
        lines = answers.block(name).splitlines()
        assert len(lines) == len(X)
        for i, line in enumerate(lines):
            nums = find_numbers(line.split("=", 1)[1])  # drop the "q_1" label
            coeffs, rows, result = (
                nums[0:12:4],
                np.reshape([n for j, n in enumerate(nums[:12]) if j % 4], (3, 3)),
                nums[12:],
            )
            np.testing.assert_allclose(coeffs, X[i])
            np.testing.assert_allclose(rows, w)
            np.testing.assert_allclose(result, x_w[i], atol=5e-5)


def test_score_steps_first_row(answers, find_numbers):
    lines = answers.block("att_score_steps").splitlines()
    assert len(lines) == 4
    for j, line in enumerate(lines):
        nums = find_numbers(line.split("=", 2)[2])  # after "S_1j = q_1 . k_j ="
        np.testing.assert_allclose(nums[0:6:2], Q[0])
        np.testing.assert_allclose(nums[1:6:2], K[j])
        assert abs(nums[6] - S[0, j]) <= 5e-5


def test_scores_softmax_and_output(answers, close_as_written):
    close_as_written(answers.matrix("att_scores"), S, "S")
    close_as_written(answers.matrix("att_scaled"), SCALED, "S/sqrt(3)")
    exp = np.exp(SCALED)
    close_as_written(answers.matrix("att_exp"), np.column_stack([exp, exp.sum(axis=1)]), "exp")
    close_as_written(answers.matrix("att_softmax"), A, "A")
    close_as_written(answers.matrix("att_output"), A @ V, "AV")


def test_answer_tables_to_two_decimals(answers, close_as_written):
    tables = answers.tables("att_answer")
    assert len(tables) == 5
    for table, expected, name in zip(tables, (Q, K, S, SCALED, A), ("Q", "K", "S", "scaled", "A")):
        cells = [row[1:] for row in table]
        assert all(len(c.split(".")[1]) == 2 for row in cells for c in row), f"{name} not written to 2 decimals"
        close_as_written(cells, expected, name)


def test_claims_about_the_attention_pattern():
    # "after scaling they differ by less than 0.1" and "the largest weight goes to token 2 or 3"
    assert (SCALED.max(axis=1) - SCALED.min(axis=1)).max() < 0.1
    assert set(A.argmax(axis=1)) <= {1, 2}
    np.testing.assert_allclose(A.sum(axis=1), 1)
