"""Points per problem and assignment, and the text report ``make grade`` prints (results.json says the same)."""

from __future__ import annotations

from dataclasses import dataclass, field

from grading.rubric import Assignment, Problem


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
    seconds: float = 0.0  # since grading started, when this assignment was done

    @property
    def earned(self) -> float:
        return sum(p.earned for p in self.problems)


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
    out.append(f"total: {fmt(total)} / {fmt(possible)}   (graded in {seconds:.0f} s)")
    return "\n".join(out)
