"""Figures for the run folders and the report. Every function returns the figure;
:func:`save` writes it as PNG and closes it."""

from __future__ import annotations

from pathlib import Path

# No matplotlib.use() here: a notebook importing this module keeps its inline backend, and
# matplotlib picks the headless Agg backend by itself when there is no display.
import matplotlib.pyplot as plt
import numpy as np
import torch

from common.runs import save_figure


def save(fig: plt.Figure, path: str | Path) -> None:
    """Write ``fig`` as PNG atomically (:func:`common.runs.save_figure`) and close it."""
    save_figure(fig, path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def history_figure(history: dict[str, list[float]], title: str) -> plt.Figure:
    """Training (and validation) loss (left) and every validation/test metric (right) against the epoch."""
    fig, (ax_loss, ax_test) = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    for key in ("train_loss", "val_loss", "test_loss"):
        if key in history:
            ax_loss.plot(epochs, history[key], marker=".", label=key.replace("_", " "))
    ax_loss.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    ax_loss.legend()
    for key, values in history.items():
        if key.startswith(("val_", "test_")) and not key.endswith("_loss"):
            ax_test.plot(epochs, values, marker=".", label=key)
    ax_test.set(xlabel="epoch", title=f"{title}: validation metrics")
    ax_test.legend()
    ax_test.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _show(ax: plt.Axes, image: np.ndarray | torch.Tensor) -> None:
    image = np.asarray(image, dtype=np.float32)
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
    ax.set_xticks([])
    ax.set_yticks([])


def image_rows_figure(rows: dict[str, np.ndarray | torch.Tensor], title: str) -> plt.Figure:
    """One row per entry of ``rows`` (label -> images ``(N, C, H, W)`` in ``[0, 1]``), N columns."""
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.4 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            _show(axes[r, c], images[c])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def pairs_grid_figure(originals: np.ndarray, reconstructions: np.ndarray, title: str) -> plt.Figure:
    """A 3x3 grid, each cell showing an original next to its reconstruction (nine images ``(9, C, H, W)``)."""
    fig, axes = plt.subplots(3, 6, figsize=(10, 5.2))
    for i in range(9):
        r, c = divmod(i, 3)
        _show(axes[r, 2 * c], originals[i])
        _show(axes[r, 2 * c + 1], reconstructions[i])
        if r == 0:
            axes[r, 2 * c].set_title("original", fontsize=8)
            axes[r, 2 * c + 1].set_title("reconstruction", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def segmentation_samples_figure(
    images: np.ndarray, masks: np.ndarray, preds: dict[int, np.ndarray], title: str
) -> plt.Figure:
    """Rows: the slice, the true mask, then the predicted probability after each kept epoch."""
    n = len(images)
    rows = 2 + len(preds)
    fig, axes = plt.subplots(rows, n, figsize=(1.6 * n, 1.6 * rows), squeeze=False)
    labels = ["slice", "true mask"] + [f"epoch {e}" for e in sorted(preds)]
    data = [images, masks] + [preds[e] for e in sorted(preds)]
    for r, (label, block) in enumerate(zip(labels, data)):
        for c in range(n):
            _show(axes[r, c], block[c])
            if r == 0:
                axes[r, c].contour(np.asarray(masks[c][0], dtype=np.float32), levels=[0.5], colors="r", linewidths=0.6)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def contour_cases_figure(
    images: np.ndarray, masks: np.ndarray, preds: np.ndarray, titles: list[str], title: str
) -> plt.Figure:
    """One panel per slice: the image with the true (green) and predicted (red, probability > 0.5) outlines."""
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6), squeeze=False)
    for ax, image, mask, pred, text in zip(axes[0], images, masks, preds, titles):
        _show(ax, image)
        for outline, colour in (
            (np.asarray(mask[0], np.float32), "lime"),
            ((np.asarray(pred[0]) > 0.5).astype(np.float32), "red"),
        ):
            if 0 < outline.sum() < outline.size:  # an empty mask has no outline to draw
                ax.contour(outline, levels=[0.5], colors=colour, linewidths=0.8)
        ax.set_title(text, fontsize=7)
    fig.suptitle(f"{title} (green: true outline, red: predicted)")
    fig.tight_layout()
    return fig
