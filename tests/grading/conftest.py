"""Submissions for the grader's tests: the reference files with one known bug per problem, stubs with an attack,
broken files; and one grading run per key, shared by the tests that read it."""

from pathlib import Path

import pytest

from grading.markers import stub
from grading.submission import ROOT


def reference(assignment: str, rel: str) -> str:
    return (ROOT / assignment / rel).read_text()


def starter(assignment: str, rel: str) -> str:
    """The starter's stub of a student file: every solution block raises NotImplementedError."""
    return stub(reference(assignment, rel), rel)


def with_bug(assignment: str, rel: str, old: str, new: str) -> str:
    """The reference file with ``old`` replaced by ``new`` (fails loudly if the reference changed)."""
    text = reference(assignment, rel)
    assert text.count(old) == 1, f"{assignment}/{rel} no longer holds {old!r}: update the bug"
    return text.replace(old, new)


def write(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def points(score) -> dict[str, float]:
    return {p.problem.number: p.earned for p in score.problems}


def reasons(score, number: str) -> str:
    return "\n".join(next(p.reasons for p in score.problems if p.problem.number == number))


@pytest.fixture(scope="session")
def session():
    """One grading session for the grader's tests: torch imported and each reference run once."""
    from grading.grade import Session

    opened = Session()
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def grade_once(session):
    """``run(key, names, submission=None, **limits)``: grade once per key, shared by the tests that read it."""
    from grading.grade import Limits, grade

    cache = {}

    def run(key, names, submission=None, **limits):
        if key not in cache:
            cache[key] = {s.assignment.name: s for s in grade(names, submission, Limits(**limits), session=session)}
        return cache[key]

    return run
