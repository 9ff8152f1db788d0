"""Every number in dry/answers.md, computed.

The numbers live in ``answers.md`` inside generated blocks::

    <!-- dry:begin NAME -->...<!-- dry:end NAME -->

``render_blocks()`` returns the content of every block; the prose around the
blocks is written by hand. Usage::

    python -m dry.compute            # print every block (the numbers)
    python -m dry.compute --write    # rewrite the blocks inside answers.md
    python -m dry.compute --check    # exit 1 if answers.md is out of date

Conventions used throughout: rows are tokens/samples, matrices act on the
right (``Q = X @ W_Q``), sigmoid is ``1 / (1 + exp(-z))``, positions are 0-based.
"""

from __future__ import annotations

import argparse
import math
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import torch

from lab import blocks as blocks_md

ANSWERS = Path(__file__).resolve().parent / "answers.md"

# ---------------------------------------------------------------- A9: attention
# The question's inputs: 4 tokens of dimension 3 (one token per row).
TOKENS = np.array([[0.3, 0.25, 0.45], [0.75, 0.1, 0.15], [0.6, 0.2, 0.2], [0.05, 0.4, 0.55]])
W_Q = np.array([[0.1, 0.3, 0.6], [0.4, 0.05, 0.0], [0.0, 0.7, 0.5]])
W_K = np.array([[0.0, 0.15, 0.9], [0.8, 0.35, 0.75], [0.25, 0.4, 0.0]])
W_V = np.array([[0.7, 0.15, 0.1], [0.0, 0.1, 0.4], [0.2, 0.4, 0.95]])


def attention(x: np.ndarray, w_q: np.ndarray, w_k: np.ndarray, w_v: np.ndarray) -> dict[str, np.ndarray]:
    """Single-head scaled dot-product self-attention, every intermediate kept.

    ``x`` is (n, d_model), the weights (d_model, d_k). Returns Q, K, V (n, d_k),
    ``scores = Q K^T`` and ``scaled = scores / sqrt(d_k)`` (n, n), ``exp`` of the
    scaled scores, the row-wise softmax ``A`` (n, n) and the output ``A V`` (n, d_k).
    """
    if x.ndim != 2 or x.shape[1] != w_q.shape[0]:
        raise ValueError(f"tokens must be (n, {w_q.shape[0]}), got {x.shape}")
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T
    scaled = scores / math.sqrt(k.shape[1])
    # Subtracting the row max would not change A; the scores are tiny, so exp is shown as is.
    e = np.exp(scaled)
    a = e / e.sum(axis=1, keepdims=True)
    return {"Q": q, "K": k, "V": v, "scores": scores, "scaled": scaled, "exp": e, "A": a, "out": a @ v}


# ---------------------------------------------- A10a: sinusoidal positional encoding
def sinusoidal_encoding(position: int, d_model: int, base: float = 10000.0) -> np.ndarray:
    """The (d_model,) encoding of ``position`` (Vaswani et al.).

    Dimension ``k`` uses the frequency ``base ** (-2 * (k // 2) / d_model)``: sine for
    even ``k``, cosine for odd ``k``. For odd ``d_model`` the last dimension is even,
    so it is a sine with no cosine partner.
    """
    k = np.arange(d_model)
    angle = position / base ** (2 * (k // 2) / d_model)
    return np.where(k % 2 == 0, np.sin(angle), np.cos(angle))


# ------------------------------------------------- A6 / B5: Conv2d(1, 1, 32) gradient
def conv_full_gradients(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Analytical gradients of ``((conv(x) - y) ** 2).sum()`` for a kernel as large as the image.

    ``x`` and ``y`` are (1, H, W), ``weight`` (1, 1, H, W), ``bias`` (1,). The output
    ``y_hat = sum(weight * x) + bias`` is one number (shape (1, 1, 1)) that broadcasts
    against the (1, H, W) target, so it receives the sum of all H*W residual gradients:
    ``dL/dW = 2 * sum_ij(y_hat - y_ij) * x`` and ``dL/db = 2 * sum_ij(y_hat - y_ij)``.
    Returns tensors shaped like ``weight`` and ``bias``.
    """
    if x.shape != y.shape or x.shape != weight.shape[1:] or weight.shape[:2] != (1, 1):
        raise ValueError(
            "need x, y (1, H, W) and weight (1, 1, H, W); "
            f"got {tuple(x.shape)}, {tuple(y.shape)}, {tuple(weight.shape)}"
        )
    y_hat = (weight[0] * x).sum() + bias[0]
    residual_sum = (y_hat.expand_as(y) - y).sum()  # the broadcast, written out
    return 2 * residual_sum * x.unsqueeze(0), (2 * residual_sum).reshape(1)


CONV_EXAMPLE = {"x": 1.0, "y": 0.25, "weight": 0.0, "bias": 0.5, "size": 32}  # constant images: a hand-checkable case


# ------------------------------------------------------------------- A1: XOR
XOR_X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
XOR_LABELS = np.array([1, 1, 0, 0])
GRID = np.linspace(-3.0, 3.0, 41)  # values tried for w1, w2 and b
TAUS = np.linspace(0.1, 0.9, 9)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def best_linear_threshold(
    x: np.ndarray, labels: np.ndarray, grid: np.ndarray = GRID, taus: np.ndarray = TAUS
) -> tuple[int, int, int]:
    """Grid search over ``class 1 iff sigmoid(w . x + b) >= tau``.

    ``x`` is (n, 2). Returns (classifiers tried, most points any of them gets right,
    how many classifiers get all n right).
    """
    w1, w2, b, tau = (a.ravel() for a in np.meshgrid(grid, grid, grid, taus, indexing="ij"))
    z = w1[:, None] * x[:, 0] + w2[:, None] * x[:, 1] + b[:, None]  # (classifiers, n)
    correct = ((sigmoid(z) >= tau[:, None]) == labels.astype(bool)).sum(axis=1)
    return len(correct), int(correct.max()), int((correct == len(labels)).sum())


# A 2-layer network solving XOR, built by hand: h1 fires on (1, 1) only, h2 on (-1, -1) only.
XOR_NET = {
    "W1": np.array([[4.0, 4.0], [-4.0, -4.0]]),
    "b1": np.array([-4.0, -4.0]),
    "W2": np.array([[1.0, 1.0]]),
    "b2": np.array([-0.5]),
    "tau": 0.0,
}


def two_layer(x: np.ndarray, net: dict) -> tuple[np.ndarray, np.ndarray]:
    """``y = W2 sigmoid(W1 x + b1) + b2`` for (n, 2) inputs; returns hidden (n, 2) and y (n,)."""
    h = sigmoid(x @ net["W1"].T + net["b1"])
    return h, (h @ net["W2"].T + net["b2"])[:, 0]


# -------------------------------------------- A5 / B10: vanishing and exploding
DEPTHS = (5, 10, 20, 50)
EXPLODE_WEIGHT = 1.5


def sigmoid_chain_derivative(depth: int, x0: float = 0.0) -> float:
    """d/dx of sigmoid applied ``depth`` times, at ``x0``, by torch autograd (float64)."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    h = x
    for _ in range(depth):
        h = torch.sigmoid(h)
    h.backward()
    return float(x.grad)


def linear_chain_derivative(depth: int, weight: float) -> float:
    """d h_T / d h_0 of the recurrence ``h_t = weight * h_{t-1}`` (a linear RNN / deep linear net), by autograd."""
    x = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    h = x
    for _ in range(depth):
        h = weight * h
    h.backward()
    return float(x.grad)


# ------------------------------------------------------------------- A11: GAN
def discriminator_bce(d_real: float, d_fake: float) -> tuple[float, float]:
    """The discriminator's BCE terms ``-log D(x)`` and ``-log(1 - D(G(z)))``."""
    return -math.log(d_real), -math.log(1.0 - d_fake)


# ------------------------------------------------------- A3: receptive field
RF_EXAMPLES = {  # (kernel, stride, dilation) per layer
    "three 3x3 convolutions, stride 1": [(3, 1, 1)] * 3,
    "one 7x7 convolution": [(7, 1, 1)],
    "3x3 stride 2, then two 3x3 stride 1": [(3, 2, 1), (3, 1, 1), (3, 1, 1)],
    "three 3x3 convolutions, dilation 1, 2, 4": [(3, 1, 1), (3, 1, 2), (3, 1, 4)],
}


def receptive_field(layers: list[tuple[int, int, int]]) -> int:
    """Side of the input window one output unit sees after the stacked (kernel, stride, dilation) layers.

    Each layer widens the window by ``dilation * (kernel - 1)`` steps of the current
    input spacing, and the spacing grows by the layer's stride.
    """
    size, jump = 1, 1
    for kernel, stride, dilation in layers:
        size += dilation * (kernel - 1) * jump
        jump *= stride
    return size


# ------------------------------------------------- B2: parameters, MLP against CNN
IMAGE_SHAPE = (3, 224, 224)
MLP_HIDDEN = 1000
CONV_CHANNELS, CONV_KERNEL = 64, 3


def first_layer_parameters() -> tuple[int, int]:
    """Weights and biases of a dense layer to ``MLP_HIDDEN`` units and of a 3x3 convolution to 64 channels,
    on a 3x224x224 image."""
    dense = torch.nn.Linear(int(np.prod(IMAGE_SHAPE)), MLP_HIDDEN, device="meta")  # meta: counts without allocating
    conv = torch.nn.Conv2d(IMAGE_SHAPE[0], CONV_CHANNELS, CONV_KERNEL, device="meta")
    return sum(p.numel() for p in dense.parameters()), sum(p.numel() for p in conv.parameters())


# ------------------------------------------------------------ B3: momentum
CONDITION = 100.0  # f(x) = (x_1^2 + CONDITION * x_2^2) / 2, convex, mu = 1, L = CONDITION


def iterations_to_converge(lr: float, beta: float, tol: float = 1e-6, max_iter: int = 100_000) -> int:
    """Heavy-ball iterations ``x <- x - lr * grad + beta * (x - x_prev)`` from (1, 1) until ``|x| <= tol * |x_0|``."""
    curvature = np.array([1.0, CONDITION])
    x = x_prev = np.ones(2)
    start = np.linalg.norm(x)
    for t in range(1, max_iter + 1):
        x, x_prev = x - lr * curvature * x + beta * (x - x_prev), x
        if np.linalg.norm(x) <= tol * start:
            return t
    raise RuntimeError(f"no convergence in {max_iter} iterations (lr={lr}, beta={beta})")


def momentum_settings() -> dict[str, tuple[float, float, float]]:
    """(lr, beta, theoretical contraction per step) of the tuned methods on the quadratic."""
    mu, big_l, root = 1.0, CONDITION, math.sqrt(CONDITION)
    return {
        "gradient descent, lr = 1/L": (1 / big_l, 0.0, 1 - mu / big_l),
        "gradient descent, lr = 2/(L + mu)": (2 / (big_l + mu), 0.0, (CONDITION - 1) / (CONDITION + 1)),
        "heavy-ball momentum, tuned": (
            4 / (math.sqrt(big_l) + math.sqrt(mu)) ** 2,
            ((root - 1) / (root + 1)) ** 2,
            (root - 1) / (root + 1),
        ),
    }


# ------------------------------------------------------------- B9: diffusion
DDPM_STEPS, DDPM_BETA = 1000, (1e-4, 0.02)  # the linear schedule of Ho et al. (2020)


def ddpm_prior_gap(x0: float = 1.0) -> tuple[float, float]:
    """alpha_bar_T and the per-dimension KL(q(x_T | x_0) || N(0, 1)) for one pixel value ``x0``."""
    alpha_bar = float(np.prod(1 - np.linspace(*DDPM_BETA, DDPM_STEPS)))
    var = 1 - alpha_bar
    kl = 0.5 * (alpha_bar * x0**2 + var - 1 - math.log(var))
    return alpha_bar, kl


# ------------------------------------------------------------------ rendering
def fmt(value: float, decimals: int = 4) -> str:
    """Fixed-point text rounded half up, as by hand (0.335 -> 0.34), without a negative zero.

    Going through 10 decimals first removes binary noise (0.115 is 0.11499999... as a float).
    """
    text = str(Decimal(f"{value:.10f}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def md_table(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def matrix_table(m: np.ndarray, row_names: list[str], col_names: list[str], corner: str = "", decimals: int = 4) -> str:
    return md_table([[r] + [fmt(v, decimals) for v in row] for r, row in zip(row_names, m)], [corner] + col_names)


def latex_matrix(m: np.ndarray) -> str:
    body = r" \\ ".join(" & ".join(f"{v:g}" for v in row) for row in m)
    return r"\begin{pmatrix} " + body + r" \end{pmatrix}"


def _vec(v: np.ndarray, decimals: int | None = None) -> str:
    return "(" + ", ".join(f"{x:g}" if decimals is None else fmt(x, decimals) for x in v) + ")"


def _row_steps(x: np.ndarray, w: np.ndarray, result: np.ndarray, name: str) -> str:
    """One line per token: the row of the product as a weighted sum of the rows of ``w``."""
    lines = []
    for i, (xi, ri) in enumerate(zip(x, result), start=1):
        terms = r" + ".join(rf"{a:g}\,{_vec(wr)}" for a, wr in zip(xi, w))
        lines.append(f"- ${name}_{i} = {terms} = {_vec(ri, 4)}$")
    return "\n".join(lines)


def render_blocks() -> dict[str, str]:
    """The text of every generated block of answers.md, by block name."""
    blocks: dict[str, str] = {}
    n = len(TOKENS)
    tok = [f"token {i}" for i in range(1, n + 1)]

    # A1b / A1c
    tried, best, perfect = best_linear_threshold(XOR_X, XOR_LABELS)
    blocks["xor_search"] = (
        f"Every classifier with $w_1, w_2, b$ on a grid of {len(GRID)} values in $[{GRID[0]:g}, {GRID[-1]:g}]$ "
        f"and $\\tau \\in \\{{{', '.join(f'{t:g}' for t in TAUS)}\\}}$:\n\n"
    ) + md_table(
        [
            ["classifiers tried", str(tried)],
            ["most points correct (of 4)", str(best)],
            ["classifiers with 4 of 4 correct", str(perfect)],
        ],
        ["grid search", "value"],
    )
    net = XOR_NET
    blocks["xor_net_weights"] = md_table(
        [[name, str(net[name].tolist())] for name in ("W1", "b1", "W2", "b2")] + [["tau", f"{net['tau']:g}"]],
        ["parameter", "value"],
    )
    h, y = two_layer(XOR_X, net)
    pred = (y >= net["tau"]).astype(int)
    rows = [
        [_vec(x), fmt(h[i, 0]), fmt(h[i, 1]), fmt(y[i]), str(pred[i]), str(XOR_LABELS[i])] for i, x in enumerate(XOR_X)
    ]
    blocks["xor_net_outputs"] = md_table(rows, ["x", "h1", "h2", "y", "predicted", "label"])
    blocks["xor_net_correct"] = str(int((pred == XOR_LABELS).sum()))

    # A5 / B10
    rows = []
    for d in DEPTHS:
        rows.append(
            [
                str(d),
                f"{0.25**d:.3e}",
                f"{sigmoid_chain_derivative(d):.3e}",
                f"{EXPLODE_WEIGHT**d:.3e}",
                f"{linear_chain_derivative(d, EXPLODE_WEIGHT):.3e}",
            ]
        )
    blocks["grad_vanish_10"] = f"{0.25**10:.3e}"
    blocks["grad_explode_50"] = f"{EXPLODE_WEIGHT**50:.3e}"
    blocks["grad_table"] = md_table(
        rows, ["depth n", "0.25^n (bound)", "sigmoid chain, autograd", "1.5^n", "linear chain w = 1.5, autograd"]
    )

    # A6 / B5
    c = CONV_EXAMPLE
    s = c["size"]
    conv = torch.nn.Conv2d(1, 1, s)
    with torch.no_grad():
        conv.weight.fill_(c["weight"])
        conv.bias.fill_(c["bias"])
    x = torch.full((1, s, s), c["x"])
    y_t = torch.full((1, s, s), c["y"])
    with torch.no_grad():
        y_hat = float(conv(x).squeeze())
    dw, db = conv_full_gradients(x, y_t, conv.weight.detach(), conv.bias.detach())
    blocks["conv_example"] = md_table(
        [
            ["x_ij (every pixel)", f"{c['x']:g}"],
            ["y_ij (every pixel)", f"{c['y']:g}"],
            ["W_uv (every tap)", f"{c['weight']:g}"],
            ["b", f"{c['bias']:g}"],
            ["y_hat", f"{y_hat:g}"],
            ["sum_ij (y_hat - y_ij)", f"{float(db[0]) / 2:g}"],
            ["dL/db", f"{float(db[0]):g}"],
            ["dL/dW_uv (every tap)", f"{float(dw.flatten()[0]):g}"],
        ],
        ["quantity", "value"],
    )

    # A9
    att = attention(TOKENS, W_Q, W_K, W_V)
    blocks["att_inputs"] = (
        "$$\n"
        + ",\\quad ".join(
            f"{name} = {latex_matrix(m)}" for name, m in (("X", TOKENS), ("W_Q", W_Q), ("W_K", W_K), ("W_V", W_V))
        )
        + "\n$$"
    )
    blocks["att_q_steps"] = _row_steps(TOKENS, W_Q, att["Q"], "q")
    blocks["att_k_steps"] = _row_steps(TOKENS, W_K, att["K"], "k")
    cols = ["dim 1", "dim 2", "dim 3"]
    blocks["att_qkv"] = "\n\n".join(
        f"**{name}** (exact)\n\n" + matrix_table(att[name], tok, cols, name) for name in ("Q", "K", "V")
    )
    q, k = att["Q"], att["K"]
    terms = [" + ".join(f"{a:g} \\cdot {b:g}" for a, b in zip(q[0], k[j])) for j in range(n)]
    blocks["att_score_steps"] = "\n".join(
        f"- $S_{{1{j + 1}}} = q_1 \\cdot k_{j + 1} = {t} = {fmt(att['scores'][0, j])}$" for j, t in enumerate(terms)
    )
    keys = [f"k{j}" for j in range(1, n + 1)]
    qs = [f"q{i}" for i in range(1, n + 1)]
    blocks["att_scores"] = matrix_table(att["scores"], qs, keys, "S = QK^T")
    blocks["att_scaled"] = matrix_table(att["scaled"], qs, keys, "S / sqrt(3)")
    exp_rows = [[qs[i]] + [fmt(v) for v in att["exp"][i]] + [fmt(att["exp"][i].sum())] for i in range(n)]
    blocks["att_exp"] = md_table(exp_rows, ["exp(S / sqrt(3))"] + keys + ["row sum"])
    blocks["att_softmax"] = matrix_table(att["A"], qs, keys, "A")
    blocks["att_output"] = matrix_table(att["out"], tok, cols, "A V")
    blocks["att_answer"] = "\n\n".join(
        f"**{title}** (2 decimals)\n\n" + matrix_table(att[name], rn, cn, name, decimals=2)
        for title, name, rn, cn in (
            ("Q", "Q", tok, cols),
            ("K", "K", tok, cols),
            ("Unscaled scores", "scores", qs, keys),
            ("Scaled scores", "scaled", qs, keys),
            ("Attention A", "A", qs, keys),
        )
    )

    # A10a
    d_model = TOKENS.shape[1]
    pe = np.stack([sinusoidal_encoding(p, d_model) for p in range(n)])
    blocks["pe_table"] = matrix_table(
        pe,
        [f"position {p} (token {p + 1})" for p in range(n)],
        ["dim 0: sin(p)", "dim 1: cos(p)", "dim 2: sin(p / 10000^(2/3))"],
        "PE",
    )
    blocks["pe_last"] = md_table(
        [
            ["PE(3), 0-based: the answer", *(fmt(v) for v in pe[-1])],
            ["x_4 + PE(3)", *(fmt(v) for v in TOKENS[-1] + pe[-1])],
            ["PE(4), if positions are counted from 1", *(fmt(v) for v in sinusoidal_encoding(n, d_model))],
        ],
        ["last token", "dim 0", "dim 1", "dim 2"],
    )
    blocks["pe_freq"] = f"{10000 ** (2 / 3):.2f}"

    # A3
    blocks["rf_table"] = md_table(
        [[name, str(receptive_field(layers))] for name, layers in RF_EXAMPLES.items()],
        ["layers", "receptive field (pixels per side)"],
    )

    # B2
    dense, conv_params = first_layer_parameters()
    blocks["param_table"] = md_table(
        [
            [f"dense layer, {int(np.prod(IMAGE_SHAPE))} inputs to {MLP_HIDDEN} units", f"{dense:,}"],
            [
                f"{CONV_KERNEL}x{CONV_KERNEL} convolution, {IMAGE_SHAPE[0]} to {CONV_CHANNELS} channels",
                f"{conv_params:,}",
            ],
        ],
        ["first layer on a 3x224x224 image", "parameters"],
    )

    # B3
    blocks["momentum_table"] = md_table(
        [
            [name, fmt(lr, 4), fmt(beta, 4), fmt(rate, 4), str(iterations_to_converge(lr, beta))]
            for name, (lr, beta, rate) in momentum_settings().items()
        ],
        ["method", "lr", "beta", "contraction per step", "iterations to 1e-6"],
    )

    # B9
    alpha_bar, kl = ddpm_prior_gap()
    blocks["ddpm_table"] = md_table(
        [
            ["alpha_bar_T", f"{alpha_bar:.3e}"],
            ["sqrt(alpha_bar_T), the weight of x_0 in x_T", f"{math.sqrt(alpha_bar):.3e}"],
            ["KL from q(x_T given x_0) to N(0, 1), per dimension, x_0 = 1", f"{kl:.3e}"],
        ],
        ["T = 1000, beta linear from 1e-4 to 0.02", "value"],
    )

    # A11
    real, fake = discriminator_bce(0.5, 0.5)
    blocks["gan_table"] = md_table(
        [
            ["D(x) = D(G(z))", "0.5"],
            ["-log D(x)", fmt(real)],
            ["-log(1 - D(G(z)))", fmt(fake)],
            ["sum of the two terms (log 4)", fmt(real + fake)],
            ["mean of the two terms (log 2)", fmt((real + fake) / 2)],
        ],
        ["discriminator loss at D = 1/2", "value"],
    )
    blocks["gan_sum"] = fmt(real + fake, 3)
    return blocks


# ------------------------------------------------------- keeping answers.md in sync
TAG = "dry"


def read_blocks(text: str) -> dict[str, str]:
    """The stripped content of every ``dry`` block in ``text``."""
    return blocks_md.read_blocks(text, TAG)


def fill_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every ``dry`` block's content replaced by ``blocks[name]``."""
    return blocks_md.fill_blocks(text, blocks, TAG)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dry.compute",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the generated blocks inside the answers file")
    mode.add_argument(
        "--check", action="store_true", help="exit 1 if the answers file's blocks differ from the computed ones"
    )
    parser.add_argument("--answers", type=Path, default=ANSWERS, help="the Markdown answers file")
    args = parser.parse_args(argv)

    blocks = render_blocks()
    if not (args.write or args.check):
        for name, body in blocks.items():
            print(f"== {name}\n{body}\n")
        return 0
    if not args.answers.is_file():
        parser.error(f"no answers file at {args.answers}")
    text = args.answers.read_text(encoding="utf-8")
    try:
        filled = fill_blocks(text, blocks)
    except ValueError as err:
        parser.error(str(err))
    if args.write:
        if filled != text:
            args.answers.write_text(filled, encoding="utf-8")
        print(f"{args.answers}: {'updated' if filled != text else 'already up to date'}")
        return 0
    stale = [name for name, body in read_blocks(text).items() if body != blocks[name]]
    if stale:
        print(f"{args.answers} is out of date in blocks {stale}; run: python -m dry.compute --write", file=sys.stderr)
        return 1
    print(f"{args.answers}: all {len(blocks)} blocks match the computed numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
