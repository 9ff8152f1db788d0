"""A student's submission: the handout's files found in it, what was refused, and the trees workers run in.

Only regular files whose names the rubric lists are taken (``folder/<rel>``, ``folder/<basename>``, or the
one file of that name below the folder), read into memory by the trusted grader. A symbolic link anywhere on
the way, a file over 1 MB, or any other file in the submission is refused with a reason (a note in the
report); nothing of the submission is ever followed or executed here. A worker's tree is the starter (the
stubs, :mod:`grading.release`) with these files written over it, so the solution checkout is never part of it.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grading.rubric import RUBRIC, Assignment

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE = 2**20
_IGNORED = {"__pycache__", ".DS_Store", "__MACOSX", ".ipynb_checkpoints"}
_TREE_SKIP = shutil.ignore_patterns("__pycache__", "*.ipynb", "*.md", "runs", "data_cache", "*.pt", "*.pth")


@dataclass
class Submitted:
    """One assignment's files: ``files`` by rubric path, ``missing`` (why each scores 0), ``refused`` notes."""

    files: dict[str, bytes] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def submission_folder(submission: Path, assignment: str) -> Path:
    """Where an assignment's files are: ``SUBMISSION/<assignment>/`` when it exists, else ``SUBMISSION``."""
    sub = submission / assignment
    return sub if sub.is_dir() and not sub.is_symlink() else submission


def listing(folder: Path) -> tuple[list[str], list[str]]:
    """``(regular files, links and other non-files)`` below ``folder``, relative, never following a link."""
    files, odd = [], []
    for top, dirs, names in os.walk(folder, followlinks=False):
        rel_top = Path(top).relative_to(folder)
        for name in list(dirs):
            if name in _IGNORED:
                dirs.remove(name)
            elif os.path.islink(os.path.join(top, name)):
                odd.append((rel_top / name).as_posix())
                dirs.remove(name)
        for name in names:
            if name in _IGNORED or name.endswith(".pyc"):
                continue
            mode = os.lstat(os.path.join(top, name)).st_mode
            (files if stat.S_ISREG(mode) else odd).append((rel_top / name).as_posix())
    return files, odd


def match(rel: str, files: list[str]) -> str | None:
    """Which listed file is the handout's ``rel``: the exact path, the base name at the top, or a unique name."""
    base = Path(rel).name
    for candidate in (rel, base):
        if candidate in files:
            return candidate
    found = [f for f in files if Path(f).name == base]
    return found[0] if len(found) == 1 else None


def read_regular(path: Path) -> bytes:
    """The file's bytes, refusing links and anything that is not a small regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > MAX_FILE:
            raise OSError(f"larger than {MAX_FILE // 2**20} MB")
        return os.read(fd, MAX_FILE + 1)
    finally:
        os.close(fd)


def collect(assignment: Assignment, submission: Path, others: tuple[str, ...] = ()) -> Submitted:
    """The handout's files of ``assignment`` in ``submission`` (``others``: other graded assignments' folders)."""
    folder = submission_folder(submission, assignment.name)
    files, odd = listing(folder)
    out = Submitted(refused=[f"{p}: refused (a link or not a regular file)" for p in odd])
    used = set()
    for rel in assignment.files:
        found = match(rel, files)
        if found is None:
            out.missing[rel] = f"missing (looked for {rel} in {folder})"
            continue
        try:
            out.files[rel] = read_regular(folder / found)
            used.add(found)
        except OSError as exc:
            out.missing[rel] = f"refused: {found} ({exc.strerror or exc})"
    if folder == submission:
        files = [f for f in files if f.split("/")[0] not in others]
    out.refused += [f"{f}: refused (not a file this assignment grades)" for f in files if f not in used]
    return out


def repository_files(assignment: Assignment, root: Path = ROOT) -> Submitted:
    """The reference solution's files, read as a submission (``make grade`` without ``SUBMISSION``)."""
    return Submitted(files={rel: (root / assignment.name / rel).read_bytes() for rel in assignment.files})


def build_tree(dest: Path, starter: Path, assignment: str, files: dict[str, bytes], uid: int | None) -> Path:
    """``dest``: the starter's shared code and ``assignment`` package with ``files`` over it, owned by ``uid``."""
    dest.mkdir(mode=0o700)
    shutil.copytree(starter / "common", dest / "common", ignore=_TREE_SKIP)
    shutil.copytree(starter / assignment, dest / assignment, ignore=_TREE_SKIP)
    for rel, data in files.items():
        target = dest / assignment / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        target.write_bytes(data)
    (dest / "out").mkdir()
    if uid is not None:
        for top, dirs, names in os.walk(dest):
            for name in [top, *(os.path.join(top, n) for n in dirs + names)]:
                os.lchown(name, uid, uid)
    return dest


def graded_assignments(names: list[str] | None) -> list[Assignment]:
    return [RUBRIC[n] for n in (names or list(RUBRIC))]
