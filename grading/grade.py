"""Grade the repository itself, or a student's submission in a temporary overlay, one assignment per subprocess."""
from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grading.rubric import RUBRIC, Assignment
from grading.runner import run_checks, selectors
from grading.score import AssignmentScore, score_problem
from grading.submission import ROOT, build_overlay, child_env, temporary_folder


@dataclass(frozen=True)
class Limits:
    test: float = 60.0  # seconds per test (pytest-timeout)
    run: float = 900.0  # seconds per assignment's whole run
    imports: float = 120.0  # seconds to import a student's files


def grade_assignment(assignment: Assignment, submission: Path | None, limits: Limits, keep: bool = False) -> AssignmentScore:
    """The score of one assignment: of the repository (``submission`` None) or of a submission folder."""
    work = temporary_folder(f"grade-{assignment.name}-")
    try:
        if submission is None:
            root, file_problems = ROOT, {}
        else:
            root = work / "repo"
            root.mkdir()
            overlay = build_overlay(assignment, submission, root, limits.imports, child_env(root))
            file_problems = overlay.problems
        present, absent = selectors(assignment, root)
        run = run_checks(present, root, child_env(root), limits.test, limits.run, work)
        problems = [score_problem(p, run, file_problems, absent) for p in assignment.problems]
        notes = [run.stopped] if run.stopped else []
        hidden_absent = [c for p in assignment.problems for c in p.hidden if c in absent]
        if hidden_absent:
            notes.append(f"{len(hidden_absent)} hidden check(s) are not in this copy; the course's grader runs them")
        return AssignmentScore(assignment, problems, notes, run.seconds)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def grade(names: list[str] | None = None, submission: Path | None = None, limits: Limits = Limits(), jobs: int = 2) -> list[AssignmentScore]:
    """Grade the named assignments (all by default), ``jobs`` at a time, in rubric order."""
    chosen = [RUBRIC[n] for n in (names or list(RUBRIC))]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(lambda a: grade_assignment(a, submission, limits), chosen))
