"""Grade the repository or a student's submission: reference first, then one sandboxed worker per problem.

1. The starter (stubs) is built from this checkout into a private work folder, and the probe code is copied
   beside it (the worker imports it from there, never from the checkout).
2. The reference solution is run through every probe (trusted, before any student code starts); its
   outputs stay in the grader's memory and in a folder only the grader can read.
3. For each problem a fresh tree (the starter plus the submitted files) is run by a fresh worker under the
   limits of :class:`grading.sandbox.Limits`; everything it started is killed before its output is read.
4. The verdicts are computed here (:mod:`grading.judge`); a hidden check says only "hidden check failed".
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from grading import judge
from grading.probes import checks_of
from grading.release import build_code
from grading.rubric import Assignment, Problem
from grading.sandbox import Fate, Limits, Zygote, clean_env, free_uid, is_root, namespaces_available, user_name
from grading.score import AssignmentScore, ProblemScore
from grading.submission import ROOT, Submitted, build_tree, collect, graded_assignments, repository_files

__all__ = ["Limits", "grade"]
RUNTIME_FILES = ("__init__.py", "worker.py", "probes")


def install_runtime(dest: Path) -> Path:
    """The worker's code (zygote, probes), copied out of the checkout: root-owned, read-only to workers."""
    package = dest / "grading"
    package.mkdir(parents=True)
    for name in RUNTIME_FILES:
        source = ROOT / "grading" / name
        if source.is_dir():
            shutil.copytree(source, package / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, package / name)
    for top, _dirs, files in os.walk(dest):
        os.chmod(top, 0o755)
        for f in files:
            os.chmod(os.path.join(top, f), 0o644)
    return dest


def hidden_paths(work: Path, session: Path, extra: tuple[Path, ...]) -> list[str]:
    """What a worker must not see: the checkout (but the interpreter, when it lives inside it), the probes."""
    prefix = Path(sys.prefix).resolve()
    if prefix.is_relative_to(ROOT):
        top = prefix.relative_to(ROOT).parts[0]
        paths = [str(p) for p in ROOT.iterdir() if p.is_dir() and p.name != top]
    else:
        paths = [str(ROOT)]
    paths += [str(p) for p in extra if p.is_dir() and not work.is_relative_to(p)]  # never the workers' own trees
    return paths + [str(session / "runtime")]


PRIVATE = ("/tmp", "/var/tmp", "/dev/shm")  # world-writable: a worker gets empty ones of its own


def covers_and_keep() -> tuple[list[list[str]], list[str]]:
    """``(covers, keep)`` of every worker: fresh private temporary folders, and for each of the interpreter's
    folders below a folder others cannot enter (a pyenv under /root), that folder covered and the
    interpreter kept, so the unprivileged user can run Python but read nothing else there."""
    covers, keep = [[p, "1777"] for p in PRIVATE], []
    for path in dict.fromkeys(Path(p).resolve() for p in (sys.base_prefix, sys.prefix)):
        blockers = [a for a in reversed(path.parents) if not os.stat(a).st_mode & 0o001]
        if blockers:
            covers.append([str(blockers[0]), "0755"])
            keep.append(str(path))
    return covers, keep


def hidden_names(problem: Problem) -> set[str]:
    return {c.split("::", 1)[1].split("[")[0] for c in problem.hidden if "::" in c}


def reference_outputs(zygote: Zygote, assignment: Assignment, work: Path, seed: int, limits: Limits) -> dict:
    """``{problem: {check: {key: array}}}`` of the reference solution (a trusted worker, before any student's)."""
    tree = build_tree(
        work / f"solution-{assignment.name}",
        work / "starter",
        assignment.name,
        repository_files(assignment).files,
        None,
    )
    numbers = [p.number for p in assignment.problems]
    job = {"tree": str(tree), "out": str(tree / "out"), "assignment": assignment.name, "problems": numbers}
    job.update(seed=seed, hide=[], env=clean_env(str(tree)))
    wall = limits.wall_s * len(numbers) + 60
    fate = zygote.run(job, Limits(wall_s=wall, cpu_s=wall, memory_mb=limits.memory_mb * 2, processes=256), None)
    outputs = {n: judge.load_output(tree / "out" / f"{n}.npz") for n in numbers}
    shutil.rmtree(tree)
    if any(v is None for v in outputs.values()):
        raise RuntimeError(f"the reference solution of {assignment.name} failed its probes: {fate.describe(wall)}")
    return outputs


def run_problem(zygote: Zygote, assignment: Assignment, problem: Problem, tree: Path, job: dict) -> tuple:
    """Run one problem's worker; ``(its output or None, why there is none)``."""
    uid, limits = job.pop("uid"), job.pop("limits")
    fate: Fate = zygote.run(job, limits, uid)
    output = judge.load_output(tree / "out" / f"{problem.number}.npz", uid)
    why = fate.describe(limits.wall_s)
    where = judge.read_private(tree / "out" / "status.txt", 200, uid)
    if output is None and where and fate.timed_out:
        why += f" ({where.decode(errors='replace').strip()})"
    if not fate.clean:
        output, why = None, "a process of the worker could not be stopped"
    return output, why


def score_problem(problem: Problem, checks: list, output: dict | None, why: str, reference: dict) -> ProblemScore:
    """All of the problem's points when every probe's values match the reference's, else 0 with the reasons."""
    hidden, failed = hidden_names(problem), []
    for check in checks:
        got = None if output is None else output.get(check.name)
        why_none = why if output is None else "the worker returned no value for this check"
        want = reference.get(check.name)
        reason = (
            "no reference value: a grader bug, tell the staff"
            if want is None
            else judge.verdict(check, got, want, why_none)
        )
        if reason:
            failed.append((check.name, judge.HIDDEN if check.name in hidden else reason))
    return ProblemScore(problem, 0.0 if failed else float(problem.points), merged(failed))


def merged(failed: list[tuple[str, str]]) -> list[str]:
    """One line per failed check; visible checks that failed for the same reason (a file that does not import,
    a worker cut off) share one line."""
    visible = [reason for _, reason in failed if reason != judge.HIDDEN]
    if len(visible) > 1 and len(set(visible)) == 1:
        hidden = [reason for _, reason in failed if reason == judge.HIDDEN]
        return [f"every check ({len(visible)}): {visible[0]}", *hidden]
    return [reason if reason == judge.HIDDEN else f"{name}: {reason}" for name, reason in failed]


def budget(context: dict) -> Limits:
    """The limits of the next worker: the configured ones, but never more wall-clock time than this problem's
    share of what is left of the whole grading's budget (so that a submission where everything hangs still
    finishes within ``total_s``)."""
    import dataclasses
    import time

    limits = context["limits"]
    context["left"] -= 1
    share = (context["deadline"] - time.monotonic()) / (context["left"] + 1)
    wall = min(limits.wall_s, max(5.0, share))
    return dataclasses.replace(limits, wall_s=round(wall, 1))


def grade_assignment(assignment: Assignment, submitted: Submitted, context: dict) -> AssignmentScore:
    """One assignment: a worker per problem whose files are all there; points from the trusted comparison."""
    work, limits, uid, session = context["work"], context["limits"], context["uid"], context["session"]
    if assignment.name not in session.references:
        session.references[assignment.name] = reference_outputs(session.zygote, assignment, work, session.seed, limits)
    reference, zygote = session.references[assignment.name], session.zygote
    problems = []
    for problem in assignment.problems:
        lost = [f"{rel}: {submitted.missing[rel]}" for rel in problem.files if rel in submitted.missing]
        if lost:
            problems.append(ProblemScore(problem, 0.0, lost))
            context["left"] -= 1
            continue
        tree = build_tree(work / f"{assignment.name}-{problem.number}", work / "starter", assignment.name,
                          submitted.files, uid)  # fmt: skip
        job = {"tree": str(tree), "out": str(tree / "out"), "assignment": assignment.name}
        job.update(problems=[problem.number], seed=session.seed, hide=context["hide"], env=clean_env(str(tree)))
        job.update(covers=context["covers"], keep=context["keep"], namespaces=context["namespaces"])
        output, why = run_problem(zygote, assignment, problem, tree, dict(job, uid=uid, limits=budget(context)))
        checks = checks_of(assignment.name, problem.number)
        problems.append(score_problem(problem, checks, output, why, reference[problem.number]))
        shutil.rmtree(tree, ignore_errors=True)
    notes = list(submitted.refused)
    if uid is None:
        notes.append(f"not run as root: the student's code ran as {user_name()}, without file isolation")
    elif not context["namespaces"]:
        notes.append("no mount namespace here: the grader's files are protected by their permissions only")
    return AssignmentScore(assignment, problems, notes)


class Session:
    """A zygote and the reference outputs it computed, shared by the gradings run with it (a batch of
    submissions, the tests): torch is imported and the reference run once per assignment and seed."""

    def __init__(self, seed: int | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="grader-"))
        os.chmod(self.folder, 0o711)
        install_runtime(self.folder / "runtime")
        self.zygote = Zygote(self.folder / "runtime", self.folder, self.folder / "zygote.log")
        self.seed = secrets.randbits(31) if seed is None else seed
        self.references: dict[str, dict] = {}

    def close(self) -> None:
        self.zygote.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def grade(
    names: list[str] | None = None,
    submission: Path | None = None,
    limits: Limits | None = None,
    hide: tuple[Path, ...] = (),
    session: Session | None = None,
    total_s: float = 480.0,
) -> list[AssignmentScore]:
    """Scores of the named assignments (all by default, in rubric order): of the repository's own files when
    ``submission`` is None, else of the handout's files found in that folder. Without a ``session``, one is
    opened (a fresh seed) and closed. ``total_s`` bounds the whole grading (each worker gets at most its share
    of what is left)."""
    import time

    own = session is None
    session = session or Session()
    chosen, limits = graded_assignments(names), limits or Limits()
    work = Path(tempfile.mkdtemp(prefix="grade-"))
    os.chmod(work, 0o711)
    start = time.monotonic()
    try:
        build_code(work / "starter")
        uid = free_uid() if is_root() else None
        extra = (*hide, submission) if submission is not None else hide
        context = {"work": work, "limits": limits, "uid": uid, "session": session, "deadline": start + total_s}
        context["left"] = sum(len(a.problems) for a in chosen)
        context["hide"] = hidden_paths(work, session.folder, tuple(p for p in extra if p is not None))
        context["covers"], context["keep"] = covers_and_keep()
        context["namespaces"] = uid is not None and namespaces_available()
        scores = []
        for a in chosen:
            names_all = tuple(c.name for c in chosen)
            submitted = repository_files(a) if submission is None else collect(a, submission, names_all)
            scores.append(grade_assignment(a, submitted, context))
            scores[-1].seconds = time.monotonic() - start
        return scores
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if own:
            session.close()
