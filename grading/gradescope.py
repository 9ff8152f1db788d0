"""Gradescope: the autograder's ``results.json``, and the autograder zip (``setup.sh`` + ``run_autograder``).

One Gradescope test per rubric problem: ``max_score`` its points, ``score`` what it earned, ``output``
the reasons for every lost point. Field names follow Gradescope's autograder specification
(top level ``score``, ``execution_time``, ``output``, ``visibility``, ``stdout_visibility``, ``tests``).
The per-problem, all-or-nothing rubric lives outside the test files, so the reference tests stay plain
pytest; gradescope-utils' decorators (one weight per unittest test) would not express it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

from grading.score import AssignmentScore, fmt, render

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def results_json(scores: list[AssignmentScore], seconds: float) -> dict:
    """The results.json dictionary of one grading run."""
    tests = []
    for s in scores:
        for p in s.problems:
            problem = p.problem
            lines = [
                f"{fmt(p.earned)} / {fmt(problem.points)}: " + ("every check passed" if not p.reasons else "lost:")
            ]
            lines += [f"- {reason}" for reason in p.reasons]
            tests.append(
                {
                    "name": f"{s.assignment.name} {problem.number}. {problem.title} ({', '.join(problem.files)})",
                    "number": f"{len(tests) + 1}",
                    "score": p.earned,
                    "max_score": float(problem.points),
                    "status": "passed" if p.earned == problem.points else "failed",
                    "output": "\n".join(lines),
                    "visibility": "visible",
                    "tags": [s.assignment.name],
                }
            )
    return {
        "score": sum(t["score"] for t in tests),
        "execution_time": round(seconds, 1),
        "output": render(scores),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write_results(path: Path, scores: list[AssignmentScore], seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results_json(scores, seconds), indent=2))
    os.replace(tmp, path)


SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once to build the autograder image (Ubuntu, as root), from /autograder/source.
set -euo pipefail
apt-get update -q && apt-get install -y -q python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --upgrade pip
# the CPU build of the pinned torch pair (the PyPI wheel is the 6 GB CUDA build)
/autograder/venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -q -r /autograder/source/requirements.txt
chmod -R go-rwx /autograder/source   # the grader and the solution: root only
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this per submission, as root. The grader (trusted, root) runs the reference solution, then
# each problem's worker as an unprivileged uid of its own, in mount and network namespaces where
# /autograder/source, /autograder/submission and /autograder/results are hidden, with CPU, memory, process
# and file-size limits; it kills every process of a worker before reading its arrays, and writes
# results.json itself once the last worker is gone.
set -u
chmod 700 /autograder/source /autograder/results 2>/dev/null || true
cd /autograder/source
/autograder/venv/bin/python -m grading grade --assignment {assignment} \\
    --submission /autograder/submission --results /autograder/results/results.json
status=$?
if [ ! -s /autograder/results/results.json ]; then  # the grader itself failed: say so instead of no result
    printf '{{"score": 0, "output": "the autograder failed (exit %s); tell the staff", "tests": []}}\\n' "$status" \\
        > /autograder/results/results.json
fi
"""
SOURCE_PARTS = ("grading/", "common/", "pyproject.toml", "requirements.txt")


def source_files(root: Path, assignment: str) -> list[str]:
    """What the autograder needs: the grader, the shared code and the assignment's package with its solution
    (the reference the probes compare against), never the lab, the results, the docs or the tests."""
    from grading.release import is_course, tracked_files

    parts = (*SOURCE_PARTS, f"{assignment}/")
    return [
        rel
        for rel in tracked_files(root)
        if rel.startswith(parts) and (rel.startswith("grading/") or is_course(rel, root)) and not rel.endswith(".ipynb")
    ]


def build_autograder(assignment: str, root: Path, out: Path) -> Path:
    """``out/<assignment>.zip``: ``setup.sh``, ``run_autograder`` and the grader's source from ``root``."""
    out.mkdir(parents=True, exist_ok=True)
    scripts = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER.format(assignment=assignment)}
    zip_path = out / f"{assignment}.zip"
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in scripts.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            z.writestr(info, text)
        for rel in source_files(root, assignment):
            z.write(root / rel, rel)
    os.replace(tmp, zip_path)
    return zip_path


def clear(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
