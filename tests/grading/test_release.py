"""``make release`` and ``make gradescope``: the starter holds the course only, under 5 MB, and everything given
works in it; dropping the reference files into it gets full marks; the autograder zip grades a submission."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest

from grading.gradescope import build_autograder
from grading.release import build, hidden_tests
from grading.rubric import RUBRIC
from grading.submission import ROOT

from .conftest import reference, write

NEVER_IN_STARTER = ("lab", "results", "docs", "dry", "grading", "tests/grading", "tests/lab", "tests/dry", "reports")


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


def test_the_starter_holds_the_course_only(release):
    tree, stubbed = release
    assert sorted(stubbed) == sorted(f"{a.name}/{f}" for a in RUBRIC.values() for f in a.files)
    for part in NEVER_IN_STARTER:
        assert not (tree / part).exists(), part
    assert not list(tree.rglob("*.py.orig")) and not (tree / "CONTRIBUTING.md").exists()
    for path in tree.rglob("*.py"):
        text = path.read_text()
        assert "# BEGIN SOLUTION" not in text and not re.search(r"^(from|import) lab\b", text, re.M), path
    mlp = (tree / "medical_cnn" / "mlp.py").read_text()
    assert "NotImplementedError" in mlp and "normal_(0.0, std)" not in mlp
    for path, names in hidden_tests().items():
        text = (tree / path).read_text() if (tree / path).exists() else ""
        assert names and not any(f"def {name}(" in text for name in names)
    for path in tree.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    assert size < 5 * 2**20, size


def test_each_student_readme_names_the_handouts_problems_and_points_and_no_result(release):
    tree, _ = release
    for a in RUBRIC.values():
        text = (tree / a.name / "README.md").read_text()
        assert text != (ROOT / a.name / "README.md").read_text()
        for p in a.problems:
            assert f"| {p.number} | {p.title} |" in text and f"| {p.points:g} |" in text
        assert f"pytest tests/{a.name}" in text and "python main.py --help" in text
        assert not re.search(r"\d+(\.\d+)? ?dB|\d+\.\d+ ?%|results/", text), a.name
    assert "starter" in (tree / "README.md").read_text()


def test_release_refuses_to_overwrite_a_folder_it_did_not_build(tmp_path):
    write(tmp_path / "mine", {"notes.txt": "keep me"})
    with pytest.raises(FileExistsError):
        build(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_everything_given_works_in_the_starter(release):
    tree, _ = release
    for name in RUBRIC:
        done = in_tree(tree, "main.py", "--help", cwd=tree / name, timeout=120)
        assert done.returncode == 0 and "usage:" in done.stdout, (name, done.stderr[-500:])
    done = in_tree(tree, "report.py", "backprop", timeout=300)  # no run yet: one line, no traceback
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr[-1000:]
    assert done.stdout.strip().count("\n") == 0 and done.stdout.startswith("backprop: ")


def test_the_starter_with_the_reference_files_dropped_in_gets_full_marks(release, tmp_path, grade_once):
    tree, _ = release
    filled = tmp_path / "filled"
    shutil.copytree(tree, filled)
    for a in RUBRIC.values():
        for rel in a.files:
            shutil.copyfile(ROOT / a.name / rel, filled / a.name / rel)
    scores = grade_once("filled starter", None, filled, wall_s=120.0, cpu_s=60.0)  # other jobs may share the CPUs
    for name, score in scores.items():
        assert score.earned == RUBRIC[name].points, [p.reasons for p in score.problems]
    assert max(s.seconds for s in scores.values()) < 300  # `make grade` took 25-35 s on two shared cores
    public = ["tests/backprop/test_functions.py", "tests/medical_cnn/test_mlp.py", "tests/mri_cs/test_subsampling.py"]
    done = in_tree(filled, "-m", "pytest", "-q", "-p", "no:cacheprovider", *public)
    assert done.returncode == 0, done.stdout[-2000:]


def test_the_stubs_score_zero(grade_once, release):
    tree, _ = release
    scores = grade_once("starter", ["backprop", "mri_cs"], tree, wall_s=10.0, cpu_s=10.0)
    for score in scores.values():
        assert score.earned == 0 and all("NotImplementedError" in p.reasons[0] for p in score.problems)


def test_gradescope_zip_grades_a_submission_with_the_hidden_checks(tmp_path):
    zip_path = build_autograder("backprop", ROOT, tmp_path / "dist")
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "grading/rubric.py", "grading/worker.py", "requirements.txt"} <= names
        assert not any(n.startswith(("results/", "lab/", "tests/", "docs/", "dry/", "mri_cs/")) for n in names)
        assert (z.getinfo("run_autograder").external_attr >> 16) & 0o111  # executable
        run = z.read("run_autograder").decode()
        assert "--assignment backprop" in run and "/autograder/results/results.json" in run
        z.extractall(tmp_path / "source")
    source = tmp_path / "source"
    assert "# BEGIN SOLUTION" in (source / "backprop" / "functions.py").read_text()  # the reference, root only
    buggy = reference("backprop", "functions.py").replace("grad_out.sum(0)", "grad_out.mean(0)")
    submission = write(tmp_path / "submission", {"functions.py": buggy})
    results = tmp_path / "results" / "results.json"
    done = in_tree(
        source, "-m", "grading", "grade", "--assignment", "backprop", "--submission", str(submission),
        "--results", str(results),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(results.read_text())
    assert data["score"] == RUBRIC["backprop"].points - 6 and data["output"] in done.stdout
    assert points_of(data) == {"1": 0, "2": 4, "3": 10}


def points_of(results: dict) -> dict[str, float]:
    return {t["name"].split(" ")[1].rstrip("."): t["score"] for t in results["tests"]}
