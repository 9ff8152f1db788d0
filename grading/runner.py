"""Run the rubric's checks with pytest in a subprocess, and read back every outcome.

pytest-reportlog streams one JSON line per report while the tests run, so the outcomes of a run that
had to be stopped (the whole-run limit) are kept; pytest-timeout cuts a single test at the per-test
limit and fails it. The subprocess's own output goes to a file, of which only the tail is read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grading.rubric import Assignment


@dataclass
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, skipped
    message: str = ""


@dataclass
class Run:
    outcomes: dict[str, Outcome]
    collect_errors: dict[str, str]  # test file -> one-line reason it did not import
    stopped: str = ""  # why the run was cut short, "" when it finished
    seconds: float = 0.0


def selectors(assignment: Assignment, root: Path) -> tuple[list[str], list[str]]:
    """``(present, absent)`` checks: the release has no hidden tests, so absent ones are not run there."""
    present, absent = [], []
    for problem in assignment.problems:
        for check in problem.checks:
            path, _, name = check.partition("::")
            file = root / path
            exists = file.is_file() and (
                not name or re.search(rf"^\s*def {re.escape(name.split('[')[0])}\(", file.read_text(), re.M)
            )
            (present if exists else absent).append(check)
    return list(dict.fromkeys(present)), absent


def first_line(longrepr) -> str:
    """The one line that says what failed: the crash message of a failure, the reason of a skip."""
    if isinstance(longrepr, dict):
        crash = longrepr.get("reprcrash") or {}
        text = crash.get("message") or ""
        if not text:
            entries = (longrepr.get("reprtraceback") or {}).get("reprentries") or []
            text = "\n".join(str(e.get("data", {}).get("lines", "")) for e in entries[-1:])
    elif isinstance(longrepr, list) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else "failed"
    if len(lines) > 1 and line.startswith("E "):
        line = line[2:]
    return line if len(line) <= 200 else line[:197] + "..."


def _last_error_line(longrepr) -> str:
    text = longrepr if isinstance(longrepr, str) else json.dumps(longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("E ")]
    line = lines[-1][2:].strip() if lines else (text.strip().splitlines() or ["did not import"])[-1]
    return line if len(line) <= 200 else line[:197] + "..."


def _verdict(nodeid: str, phases: list[dict]) -> Outcome:
    """A failure in any phase fails the test; a skip skips it; otherwise its call must have passed."""
    for record in phases:
        if record["outcome"] == "failed":
            message = first_line(record.get("longrepr"))
            return Outcome(
                nodeid, "failed", message if record["when"] == "call" else f"error in {record['when']}: {message}"
            )
    for record in phases:
        if record["outcome"] == "skipped":
            return Outcome(nodeid, "skipped", "skipped: " + first_line(record.get("longrepr")))
    if any(r["when"] == "call" and r["outcome"] == "passed" for r in phases):
        return Outcome(nodeid, "passed")
    return Outcome(nodeid, "failed", "did not finish")


def read_log(path: Path) -> tuple[dict[str, Outcome], dict[str, str]]:
    """Outcomes per test and the test files that did not collect (with the reason)."""
    phases: dict[str, list[dict]] = {}
    errors: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a stopped run
            kind = record.get("$report_type")
            if kind == "CollectReport" and record.get("outcome") == "failed":
                errors[record["nodeid"].split("::")[0]] = _last_error_line(record.get("longrepr"))
            elif kind == "TestReport":
                phases.setdefault(record["nodeid"], []).append(record)
    return {nodeid: _verdict(nodeid, records) for nodeid, records in phases.items()}, errors


def run_checks(
    checks: list[str], root: Path, env: dict[str, str], test_timeout: float, run_timeout: float, work: Path
) -> Run:
    """Run ``checks`` (pytest node ids) in ``root``; ``work`` holds the report log and the output."""
    log, output = work / "reportlog.jsonl", work / "pytest-output.txt"
    log.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "grading.plugin",
        f"--report-log={log}",
        f"--timeout={test_timeout:g}",
        "--timeout-method=signal",
        "--rootdir",
        str(root),
        "-c",
        str(root / "pyproject.toml"),
        *checks,
    ]
    start, stopped = time.monotonic(), ""
    with open(output, "wb") as sink:
        try:
            subprocess.run(
                command, cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=run_timeout, check=False
            )
        except subprocess.TimeoutExpired:
            stopped = f"the run was stopped after {run_timeout:.0f} s"
    outcomes, errors = read_log(log)
    if not outcomes and not errors and not stopped:
        stopped = "pytest ended without a report: " + tail(output)
    return Run(outcomes, errors, stopped, time.monotonic() - start)


def tail(path: Path, size: int = 300) -> str:
    """The last line of a possibly huge file, read from its end only."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - size))
        text = f.read().decode(errors="replace").strip()
    return text.splitlines()[-1] if text else "no output"
