"""The tracked ``results/`` tree: publishing finished runs, and what the README blocks need.

A run a README or a report cites is *published*: ``python -m lab.publish <assignment>/runs/<name>``
copies its small files (JSON, CSV, Markdown, text, PNG, small ``.npz``; never checkpoints) to
``results/<assignment>/<name>/``, which is committed. Each ``lab/<assignment>/readme_results.py``
renders README blocks from it with :func:`load_run`, :func:`made_with`, :func:`md_table` and :func:`show`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path

from common.cli import RunError, check_folder_name

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_ROOT = REPO_ROOT / "results"
ASSIGNMENTS = ("mri_cs", "medical_cnn", "autoencoders", "auto_decoder", "backprop")
PUBLISHED_SUFFIXES = {".json", ".csv", ".md", ".txt", ".png", ".npz"}
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 3  # sub-folders of a run (e.g. a sweep's cases) are published down to this depth


def assignment_of(run_dir: Path) -> str:
    """The assignment a run folder belongs to: the nearest enclosing folder named like one."""
    for part in reversed(run_dir.resolve().parts):
        if part in ASSIGNMENTS:
            return part
    raise RunError(f"{run_dir} is not inside one of {', '.join(ASSIGNMENTS)}; pass --assignment")


def publishable_files(run_dir: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """The files of ``run_dir`` that :func:`publish` copies, relative to it, sorted: small result files, and
    PNG figures of any size (:func:`shrink_png` makes them fit); none matching an ``exclude`` glob."""
    files = []
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if (
            path.is_file()
            and path.suffix in PUBLISHED_SUFFIXES
            and len(rel.parts) <= MAX_DEPTH
            and not any(p.startswith(".") for p in rel.parts)
            and (path.suffix == ".png" or path.stat().st_size <= MAX_FILE_BYTES)
            and not any(fnmatch.fnmatch(rel.as_posix(), pattern) for pattern in exclude)
        ):
            files.append(rel)
    return files


def shrink_png(src: Path, dest: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Copy a PNG, re-encoded with a 256-colour palette and halved in size until it is at most ``max_bytes``."""
    from PIL import Image

    image = Image.open(src).convert("RGB")
    while True:
        image.quantize(256).save(dest, optimize=True)
        if dest.stat().st_size <= max_bytes or min(image.size) < 64:
            return
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)


def publish(
    run_dir: str | Path,
    assignment: str | None = None,
    results_root: str | Path = RESULTS_ROOT,
    exclude: tuple[str, ...] = (),
) -> Path:
    """Copy the small files of a finished run to ``results_root/<assignment>/<run name>/``.

    A run is finished when it holds a ``metrics.json`` or a ``*.csv`` table. The published
    folder is replaced as a whole (written next to it, then swapped in), so it never mixes
    files of two runs. Returns the published folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is not a run folder")
    if not (run_dir / "metrics.json").is_file() and not any(run_dir.glob("*.csv")):
        raise RunError(f"{run_dir} has no metrics.json or results table: the run has not finished")
    assignment = assignment or assignment_of(run_dir)
    if assignment not in ASSIGNMENTS:
        raise RunError(f"unknown assignment {assignment!r}; expected one of {', '.join(ASSIGNMENTS)}")
    try:  # the published folder is one folder inside results/<assignment>, named like the run
        dest = Path(results_root) / assignment / check_folder_name(run_dir.resolve().name, "the run folder's name")
    except ValueError as e:
        raise RunError(f"cannot publish {run_dir}: {e}") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        for rel in publishable_files(run_dir, exclude):
            try:
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                if (run_dir / rel).stat().st_size > MAX_FILE_BYTES:  # only figures get here
                    shrink_png(run_dir / rel, staging / rel)
                else:
                    shutil.copyfile(run_dir / rel, staging / rel)
            except OSError as e:  # a full disk: the published folder as it was, no half copy
                raise RunError(f"cannot write {dest / rel}: {e.strerror or e}; {dest} is unchanged") from None
        os.chmod(staging, 0o755)
        old = dest.with_name(f".{dest.name}.old")
        if dest.exists():
            os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def load_run(run: Path) -> tuple[dict, dict]:
    """``(config, metrics)`` of a published run folder."""
    return json.loads((run / "config.json").read_text()), json.loads((run / "metrics.json").read_text())


def command(config: dict) -> str:
    """The command that made a run, as its ``config.json`` records it (``argv``), in backticks."""
    return f"`{shlex.join(config['argv'])}`"


def made_with(run: Path, config: dict, seconds: float | None = None) -> str:
    """One line naming a published run folder, the command that made it, and where it ran (and for how long)."""
    parts = [f"device `{config['device']}`"] if "device" in config else []
    torch = config.get("versions", {}).get("torch", config.get("torch"))  # runs published before 'versions' existed
    parts += [f"torch {torch}"] if torch else []
    parts += [] if seconds is None else [f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"]
    where = f" ({', '.join(parts)})" if parts else ""
    rel = run.relative_to(REPO_ROOT).as_posix() if run.is_relative_to(REPO_ROOT) else run.name
    return f"Run `{rel}/`, made with {command(config)}{where}."


def md_table(rows: list[list], headers: list[str], align: tuple[str, ...] | None = None) -> str:
    """A Markdown table (tabulate's ``pipe`` format) of cells formatted by the caller."""
    from tabulate import tabulate

    return tabulate(rows, headers, tablefmt="pipe", disable_numparse=True, colalign=align)


def show(text: str) -> None:
    """Write ``text`` into the README block cog is filling, set off by blank lines so Markdown sees paragraphs."""
    import cog

    cog.out(f"\n{text.strip()}\n\n")
