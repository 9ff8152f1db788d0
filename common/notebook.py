"""What the report notebooks need: where they read runs from, and figures and tables that read like a report.

A report reads ``results/<assignment>`` (or, where there are no published results, the assignment's ``runs``)
unless ``REPORT_RUNS`` names another folder (:func:`report_dir`).
Figures are shown by a relative link above a caption (:func:`figure`); ``make report`` (``python -m lab.report``)
numbers the captions and embeds the images into the HTML, so a notebook stores no copy of a published figure.
"""

from __future__ import annotations

import itertools
import os
from html import escape
from pathlib import Path

RESULTS_ROOT = Path(__file__).resolve().parents[1] / "results"
_TABLE_IDS = itertools.count(1)  # numbered table ids, so a re-executed notebook changes only where a number did


def report_dir(assignment: str) -> Path:
    """The folder a report reads its runs from: ``$REPORT_RUNS`` if set, else the published ``results/<assignment>``
    where there is one, else the assignment's own ``runs`` (a student's runs: the starter has no results).

    Returned relative to the working directory when it lies below it or beside it (a notebook
    runs in its assignment folder, so this is ``../results/<assignment>``), so printed paths
    carry no machine-specific prefix.
    """
    published = RESULTS_ROOT / assignment
    default = published if published.is_dir() else RESULTS_ROOT.parent / assignment / "runs"
    folder = Path(os.environ["REPORT_RUNS"]) if os.environ.get("REPORT_RUNS") else default
    try:
        return Path(os.path.relpath(folder.resolve(), Path.cwd()))
    except ValueError:  # another drive on Windows
        return folder


def finished_runs(folder: Path) -> list[Path]:
    """Run folders directly under ``folder`` that hold a ``metrics.json``, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "metrics.json").is_file())


def figure(path: Path, caption: str = "", width: int = 800):
    """A notebook output showing the image at ``path`` (relative to the notebook) above its caption.

    ``make report`` numbers the captions (Figure 1, 2, ...) and embeds the image; a missing file is one line.
    """
    from IPython.display import HTML

    src = Path(path).as_posix()
    text = escape(caption or Path(path).name)
    if not Path(path).is_file():
        return HTML(f"<p>Figure not found: <code>{escape(src)}</code> ({text})</p>")
    return HTML(
        f'<figure><img src="{escape(src)}" width="{width}" alt="{text}"><figcaption>{text}</figcaption></figure>'
    )


def caption(text: str):
    """A caption for the plot drawn just above it in the notebook, numbered like :func:`figure`'s by ``make report``."""
    from IPython.display import HTML

    return HTML(f"<figure><figcaption>{escape(text)}</figcaption></figure>")


def table(frame, caption: str | None = None, precision: int = 3):
    """A pandas table as a report shows it: no index column, "–" for a missing value, an optional caption."""
    styler = frame.style.hide(axis="index").format(na_rep="–", precision=precision).set_uuid(f"t{next(_TABLE_IDS)}")
    return styler.set_caption(caption) if caption else styler
