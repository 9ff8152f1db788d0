"""Experiment ``conv``: the hand-written 2-D convolution against scipy, timed, and applied as image filters.

    python main.py conv            # the default: sizes 128..1024, kernels 3..15, best of 5

``discrete_2d_convolution`` (``utils.py``) is checked against
``scipy.signal.correlate2d(mode="same")`` on every case and timed against it, against
``convolve2d`` (with the kernel flipped, so the output is the same) and, on small images,
against the pure-Python pixel loop. Writes ``metrics.json`` (``timings``: one row per
size and kernel), ``timings.png`` and ``filters.png``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.signal import convolve2d, correlate2d
from skimage import data as skdata
from tqdm import tqdm

from common.runs import save_figure
from medical_cnn.utils import discrete_2d_convolution, naive_2d_convolution

# Arguments a --resume must repeat: they define the models, the data split or the training schedule's meaning.
FIXED_ON_RESUME = ("seed",)
DATASET = {"name": "synthetic uniform-random images for timings; skimage.data.brick() for the filter figure"}


def best_time(fn, *args, repeats: int) -> float:
    """Fastest of ``repeats`` calls, in seconds (the minimum is the least noisy estimate on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def filter_kernels() -> dict[str, np.ndarray]:
    """A 7x7 Gaussian blur and Sobel kernels answering to horizontal and vertical edges."""
    g = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    sobel_horizontal = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)  # d/dy: horizontal edges
    return {
        "blur (Gaussian 7x7)": np.outer(g, g) / np.outer(g, g).sum(),
        "horizontal edges (Sobel)": sobel_horizontal,
        "vertical edges (Sobel)": sobel_horizontal.T,
    }


def time_one_case(image: np.ndarray, kernel: np.ndarray, args: argparse.Namespace) -> dict:
    """One row of the speed table: best-of-``repeats`` seconds of each implementation on one image and kernel."""
    size = image.shape[0]
    row = {
        "size": size,
        "kernel": kernel.shape[0],
        "ours_s": best_time(discrete_2d_convolution, image, kernel, repeats=args.repeats),
        "scipy_correlate2d_s": best_time(correlate2d, image, kernel, "same", repeats=args.repeats),
        # convolve2d flips the kernel, so flip it first to get the same output
        "scipy_convolve2d_s": best_time(convolve2d, image, kernel[::-1, ::-1], "same", repeats=args.repeats),
        "naive_s": best_time(naive_2d_convolution, image, kernel, repeats=1) if size <= args.naive_max_size else None,
    }
    row["ratio_to_correlate2d"] = row["ours_s"] / row["scipy_correlate2d_s"]
    return row


def timings_figure(rows: list[dict], sizes: list[int], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for size in sizes:
        sub = [r for r in rows if r["size"] == size]
        line = ax.plot([r["kernel"] for r in sub], [r["ours_s"] for r in sub], "o-", label=f"ours {size}x{size}")[0]
        ax.plot(
            [r["kernel"] for r in sub],
            [r["scipy_correlate2d_s"] for r in sub],
            "x--",
            color=line.get_color(),
            label=f"scipy {size}x{size}",
        )
    ax.set(
        xlabel="kernel size k (k x k)",
        ylabel="seconds (best of repeats)",
        yscale="log",
        title="discrete_2d_convolution vs scipy.signal.correlate2d",
    )
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def filters_figure(path: Path) -> None:
    """The brick image and its blurred and edge-filtered versions, computed with our convolution."""
    image = skdata.brick().astype(float) / 255.0
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("skimage.data.brick()")
    for ax, (name, kernel) in zip(axes[1:], filter_kernels().items()):
        out = discrete_2d_convolution(image, kernel)
        shown = out if "blur" in name else np.abs(out)
        ax.imshow(shown, cmap="gray", vmax=np.percentile(shown, 99.5))  # a few strong edges would dim the rest
        ax.set_title(name if "blur" in name else f"|{name}|")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def load_data(args: argparse.Namespace) -> tuple[None, dict]:
    """Nothing to load: the images are drawn at random (seeded) while timing."""
    return None, DATASET


def run(args: argparse.Namespace, data: None, run_dir: Path, device) -> dict:
    """Time every (size, kernel) case, check the outputs against scipy, write the two figures."""
    rng = np.random.default_rng(args.seed)
    rows, max_error = [], 0.0
    for size, k in tqdm([(s, k) for s in args.sizes for k in args.kernels], desc="conv timings", disable=None):
        image, kernel = rng.random((size, size)), rng.standard_normal((k, k))
        max_error = max(
            max_error,
            float(np.abs(discrete_2d_convolution(image, kernel) - correlate2d(image, kernel, mode="same")).max()),
        )
        rows.append(time_one_case(image, kernel, args))
    at_512 = [r for r in rows if r["size"] == 512]
    timings_figure(rows, args.sizes, run_dir / "timings.png")
    filters_figure(run_dir / "filters.png")
    return {
        "timings": rows,
        "max_abs_error_vs_correlate2d": max_error,
        "worst_ratio_at_512": max((r["ratio_to_correlate2d"] for r in at_512), default=None),
        "within_3x_at_512": all(r["ratio_to_correlate2d"] <= 3 for r in at_512) if at_512 else None,
    }


def headline(metrics: dict) -> str:
    ratios = [r["ratio_to_correlate2d"] for r in metrics["timings"]]
    return (
        f"ours / scipy correlate2d time {min(ratios):.2f}x to {max(ratios):.2f}x, "
        f"max |difference| {metrics['max_abs_error_vs_correlate2d']:.1e}"
    )
