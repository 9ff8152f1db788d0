"""Grade the repository itself, or a student's submission in a temporary overlay: one pytest run for all."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grading.rubric import RUBRIC
from grading.runner import run_checks, selectors
from grading.score import AssignmentScore, score_problem
from grading.submission import ROOT, build_overlay, child_env, temporary_folder


@dataclass(frozen=True)
class Limits:
    test: float = 60.0  # seconds per test (pytest-timeout)
    run: float = 900.0  # seconds for the whole pytest run
    imports: float = 60.0  # seconds to import one of the student's files


def grade(
    names: list[str] | None = None, submission: Path | None = None, limits: Limits = Limits(), keep: bool = False
) -> list[AssignmentScore]:
    """Scores of the named assignments (all by default, in rubric order): of the repository when
    ``submission`` is None, else of that folder's files laid over a temporary copy of it.

    One pytest process runs every check: the libraries and test modules are imported once, and a hang is
    cut per test (pytest-timeout) or per imported file, so one assignment cannot stall the others.
    """
    chosen = [RUBRIC[n] for n in (names or list(RUBRIC))]
    work = temporary_folder("grade-")
    try:
        if submission is None:
            root, file_problems = ROOT, {}
        else:
            root = work / "repo"
            root.mkdir()
            file_problems = build_overlay(chosen, submission, root, limits.imports, child_env(root)).problems
        present, absent = [], []
        for assignment in chosen:
            found, missing = selectors(assignment, root)
            present += found
            absent += missing
        run = run_checks(present, root, child_env(root), limits.test, limits.run, work)
        scores = []
        for assignment in chosen:
            problems = [
                score_problem(p, run, file_problems.get(assignment.name, {}), absent) for p in assignment.problems
            ]
            notes = [run.stopped] if run.stopped else []
            hidden_absent = [c for p in assignment.problems for c in p.hidden if c in absent]
            if hidden_absent:
                notes.append(
                    f"{len(hidden_absent)} hidden check(s) are not in this copy; the course's grader runs them"
                )
            scores.append(AssignmentScore(assignment, problems, notes, run.seconds))
        return scores
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
