"""The grader's parts without running pytest: finding a student's files, reading the report log, scoring."""

import json

from grading.rubric import Problem
from grading.runner import Run, read_log
from grading.score import score_problem
from grading.submission import find_file, submission_folder

from .conftest import write


def test_files_are_found_by_the_handouts_path_then_by_name(tmp_path):
    write(tmp_path / "mri_cs", {"model.py": "x = 1\n"})
    write(tmp_path / "medical_cnn" / "my_work" / "final", {"mlp.py": ""})
    write(tmp_path / "medical_cnn", {"a/utils.py": "", "b/utils.py": ""})
    assert find_file(submission_folder(tmp_path, "mri_cs"), "models/model.py") == tmp_path / "mri_cs" / "model.py"
    assert find_file(tmp_path / "medical_cnn", "mlp.py") == tmp_path / "medical_cnn" / "my_work" / "final" / "mlp.py"
    assert find_file(tmp_path / "medical_cnn", "utils.py") is None  # two candidates: never guess
    assert submission_folder(tmp_path, "backprop") == tmp_path  # no assignment folder: the files themselves


def record(nodeid, when, outcome, message=None):
    longrepr = None if message is None else {"reprcrash": {"path": "t.py", "lineno": 1, "message": message}}
    return json.dumps(
        {"$report_type": "TestReport", "nodeid": nodeid, "when": when, "outcome": outcome, "longrepr": longrepr}
    )


def test_report_log_verdicts(tmp_path):
    lines = [
        record("t.py::test_ok", "setup", "passed"),
        record("t.py::test_ok", "call", "passed"),
        record("t.py::test_ok", "teardown", "passed"),
        record("t.py::test_bad", "setup", "passed"),
        record("t.py::test_bad", "call", "failed", "assert 1 == 2\nmore"),
        record("t.py::test_fixture", "setup", "failed", "FileNotFoundError: x"),
        record("t.py::test_cut", "setup", "passed"),  # the run was stopped during its call
        json.dumps(
            {
                "$report_type": "CollectReport",
                "nodeid": "u.py",
                "outcome": "failed",
                "longrepr": "Traceback...\nE   ImportError: no module named x\n",
            }
        ),
        '{"$report_type": "TestRep',  # a line cut by a stopped run
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(lines))
    outcomes, errors = read_log(tmp_path / "log.jsonl")
    assert {k: (v.outcome, v.message) for k, v in outcomes.items()} == {
        "t.py::test_ok": ("passed", ""),
        "t.py::test_bad": ("failed", "assert 1 == 2"),
        "t.py::test_fixture": ("failed", "error in setup: FileNotFoundError: x"),
        "t.py::test_cut": ("failed", "did not finish"),
    }
    assert errors == {"u.py": "ImportError: no module named x"}
    problem = Problem("1", "p", 3, ("f.py",), ("t.py::test_ok", "u.py::test_x"))
    scored = score_problem(problem, Run(outcomes, errors), {}, [])
    assert scored.earned == 0 and scored.reasons == [
        "u.py::test_x: not run (u.py did not import: ImportError: no module named x)"
    ]
    assert score_problem(Problem("2", "q", 4, ("f.py",), ("t.py::test_ok",)), Run(outcomes, errors), {}, []).earned == 4
    missing = score_problem(
        Problem("3", "r", 4, ("f.py",), ("t.py::test_ok",)), Run(outcomes, errors), {"f.py": "missing"}, []
    )
    assert (missing.earned, missing.reasons) == (0, ["f.py: missing"])
