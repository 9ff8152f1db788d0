"""Points per problem from the checks' outcomes, and the text report ``make grade`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from grading.rubric import Assignment, Problem
from grading.runner import Run


@dataclass
class ProblemScore:
    problem: Problem
    earned: float
    reasons: list[str] = field(default_factory=list)  # one line per lost check (or one for a file)


@dataclass
class AssignmentScore:
    assignment: Assignment
    problems: list[ProblemScore]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # of the pytest run that graded it (shared by the assignments graded together)

    @property
    def earned(self) -> float:
        return sum(p.earned for p in self.problems)


def matches(check: str, nodeid: str) -> bool:
    """Whether test ``nodeid`` belongs to ``check`` (a file, a test, or one parametrisation)."""
    return nodeid == check or nodeid.startswith(check + "::") or nodeid.startswith(check + "[")


def short(nodeid: str) -> str:
    return nodeid.rsplit("/", 1)[-1]


def grouped(failed: list) -> list[str]:
    """One line per failed test; the cases of one parametrised test that fail alike share a line."""
    groups: dict[tuple[str, str], list[str]] = {}
    for o in failed:
        groups.setdefault((o.nodeid.split("[")[0], o.message or o.outcome), []).append(o.nodeid)
    lines = []
    for (test, message), nodeids in groups.items():
        name = short(nodeids[0]) if len(nodeids) == 1 else f"{short(test)} ({len(nodeids)} cases)"
        lines.append(f"{name}: {message}")
    return lines


def score_problem(problem: Problem, run: Run, file_problems: dict[str, str], absent: list[str]) -> ProblemScore:
    """All of the problem's points when every check that is present passes, else 0 with the reasons."""
    lost_files = [f"{rel}: {file_problems[rel]}" for rel in problem.files if rel in file_problems]
    if lost_files:
        return ProblemScore(problem, 0.0, lost_files)
    reasons = []
    for check in problem.checks:
        if check in absent:  # a hidden check is absent from the release: it runs in the course's grader only
            if check not in problem.hidden:
                reasons.append(f"{short(check)}: this check is missing from the tests")
            continue
        found = [o for nodeid, o in run.outcomes.items() if matches(check, nodeid)]
        if not found:
            path = check.split("::")[0]
            why = (
                f"{short(path)} did not import: {run.collect_errors[path]}"
                if path in run.collect_errors
                else run.stopped or "not collected"
            )
            reasons.append(f"{short(check)}: not run ({why})")
        reasons += grouped([o for o in found if o.outcome != "passed"])
    return ProblemScore(problem, 0.0 if reasons else float(problem.points), reasons)


def fmt(points: float) -> str:
    return f"{points:g}"


def render(scores: list[AssignmentScore]) -> str:
    """Per assignment and problem: points earned / possible, then one line per lost check."""
    out = []
    for s in scores:
        a = s.assignment
        out.append(f"{a.name}: {fmt(s.earned)} / {fmt(a.points)}   (points: {a.points_source})")
        for p in s.problems:
            files = ", ".join(p.problem.files)
            out.append(f"  {p.problem.number}. {p.problem.title} ({files}): {fmt(p.earned)} / {fmt(p.problem.points)}")
            out += [f"       - {reason}" for reason in p.reasons]
        out += [f"  note: {note}" for note in s.notes]
        if a.report_only:
            out.append("  graded by staff from the report: " + "; ".join(a.report_only))
        out.append("")
    total, possible = sum(s.earned for s in scores), sum(s.assignment.points for s in scores)
    seconds = max((s.seconds for s in scores), default=0.0)
    out.append(f"total: {fmt(total)} / {fmt(possible)}   (tests ran {seconds:.0f} s)")
    return "\n".join(out)
