"""``make release`` and ``make gradescope``: the starter tree scores 0 on every problem and runs everything
that is given; the autograder zip grades a submission with the hidden checks included."""

import json
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from grading.gradescope import build_autograder
from grading.release import build, hidden_tests
from grading.rubric import RUBRIC

from .conftest import reference, write


def in_tree(tree, *args, cwd=None, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or tree, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    tree = tmp_path_factory.mktemp("release") / "starter"
    stubbed = build(tree)
    return tree, stubbed


def test_release_has_stubs_and_no_solutions_hidden_tests_or_outputs(release):
    tree, stubbed = release
    assert sorted(stubbed) == sorted(f"{a.name}/{f}" for a in RUBRIC.values() for f in a.files)
    for name in RUBRIC:  # no solution block left in any assignment (the grader's own docs describe them)
        for path in (tree / name).rglob("*.py"):
            assert "# BEGIN SOLUTION" not in path.read_text(), path
    mlp = (tree / "medical_cnn" / "mlp.py").read_text()
    assert "NotImplementedError" in mlp and "normal_(0.0, std)" not in mlp
    assert "Glorot/Xavier normal weights" in mlp  # the docstring contract stays
    for path, names in hidden_tests().items():
        text = (tree / path).read_text() if (tree / path).exists() else ""
        assert names and not any(f"def {name}(" in text for name in names)
        assert "def test_" in text  # the public tests of that file stay
    assert not (tree / "dry").exists() and not (tree / "tests" / "grading").exists()
    for path in tree.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path


def test_release_refuses_to_overwrite_a_folder_it_did_not_build(tmp_path):
    write(tmp_path / "mine", {"notes.txt": "keep me"})
    with pytest.raises(FileExistsError):
        build(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_release_grades_zero_on_every_problem_without_a_crash(release):
    tree, _ = release
    done = in_tree(tree, "-m", "grading", "grade")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if re.match(r"  \d+\. ", line)]
    assert len(lines) == sum(len(a.problems) for a in RUBRIC.values())
    assert all(re.search(r": 0 / \d+$", line) for line in lines), lines
    assert "NotImplementedError" in done.stdout and "hidden check(s) are not in this copy" in done.stdout
    assert f"total: 0 / {sum(a.points for a in RUBRIC.values()):g}" in done.stdout


def test_everything_given_works_in_the_release(release):
    tree, _ = release
    for name in RUBRIC:
        done = in_tree(tree, "main.py", "--help", cwd=tree / name, timeout=120)
        assert done.returncode == 0 and "usage:" in done.stdout, (name, done.stderr[-500:])
    given = [
        "tests/medical_cnn/test_data.py",
        "tests/backprop/test_loaders.py",
        "tests/mri_cs/test_transforms.py",
        "tests/mri_cs/test_subsampling.py::test_keeps_exactly_the_requested_fraction",
        "tests/mri_cs/test_subsampling.py::test_straight_through_gradient_reaches_the_scores",
    ]
    done = in_tree(tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", *given)
    assert done.returncode == 0, done.stdout[-2000:]


def test_gradescope_zip_grades_a_submission_with_the_hidden_checks(tmp_path):
    from grading.__main__ import AUTOGRADER_LEAVES_OUT

    tree = tmp_path / "tree"
    build(tree, keep_hidden=True, leave_out=AUTOGRADER_LEAVES_OUT)
    zip_path = build_autograder("backprop", tree, tmp_path / "dist")
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "grading/rubric.py", "requirements.txt"} <= names
        assert not any(n.startswith("results/") for n in names)
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111  # executable
        run = z.read("run_autograder").decode()
        assert "--assignment backprop" in run and "/autograder/results/results.json" in run
        z.extractall(tmp_path / "source")
    source = tmp_path / "source"
    assert "NotImplementedError" in (source / "backprop" / "functions.py").read_text()  # no solution in the zip
    assert (
        "test_hand_derived_first_layer_grads_match_autograd"
        in (source / "tests/backprop/test_functions.py").read_text()
    )
    submission = write(tmp_path / "submission", {"functions.py": reference("backprop", "functions.py")})
    done = in_tree(
        source,
        "-m",
        "grading",
        "grade",
        "--assignment",
        "backprop",
        "--submission",
        str(submission),
        "--results",
        str(tmp_path / "results" / "results.json"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert results["score"] == RUBRIC["backprop"].points and all(t["status"] == "passed" for t in results["tests"])
    assert "hidden check" not in results["output"]
