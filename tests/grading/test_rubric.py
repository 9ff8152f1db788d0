"""The rubric against the tests it names and the handout's points; the solution markers and their stubs."""

import ast
import re

import pytest

from grading.markers import MarkerError, count, stub
from grading.release import without_tests
from grading.rubric import RUBRIC, Problem
from grading.submission import ROOT


def test_medical_cnn_points_are_the_handouts():
    points = {p.title: p.points for p in RUBRIC["medical_cnn"].problems}
    assert points == {
        "Linear layer and MLP": 10,
        "2-D convolution code": 2,
        "DepthwiseSeparableBlock": 5,
        "MobileNet": 10,
        "U-Net": 10,
        "Dice losses": 5,
    }
    assert RUBRIC["medical_cnn"].points_source == "the handout"
    assert all("own" in a.points_source for name, a in RUBRIC.items() if name != "medical_cnn")


@pytest.mark.parametrize("name", sorted(RUBRIC))
def test_every_check_names_an_existing_test_and_every_problem_has_report_only_parts_listed(name):
    assignment = RUBRIC[name]
    assert assignment.report_only and all(p.points > 0 for p in assignment.problems)
    for problem in assignment.problems:
        for check in problem.checks:
            path, _, test = check.partition("::")
            assert (ROOT / path).is_file(), check
            if test:
                assert re.search(rf"^def {re.escape(test.split('[')[0])}\(", (ROOT / path).read_text(), re.M), check
    numbers = [p.number for p in assignment.problems]
    assert len(set(numbers)) == len(numbers)


def test_hidden_checks_must_be_among_the_problems_checks():
    with pytest.raises(ValueError, match="hidden"):
        Problem("1", "x", 1, ("a.py",), ("tests/a.py::test_a",), hidden=("tests/b.py::test_b",))


@pytest.mark.parametrize("rel", sorted({f"{a.name}/{f}" for a in RUBRIC.values() for f in a.files}))
def test_every_student_file_is_marked_and_its_stub_imports_without_the_solution(rel):
    text = (ROOT / rel).read_text()
    assert count(text) >= 1
    stubbed = stub(text, rel)
    tree = ast.parse(stubbed)  # still valid Python
    assert "BEGIN SOLUTION" not in stubbed and stubbed.count("raise NotImplementedError(") >= count(text)
    assert ast.get_docstring(tree) == ast.get_docstring(ast.parse(text))  # the module's contract stays
    assert stub(stubbed) == stubbed


def test_stub_keeps_the_docstring_and_the_code_outside_the_block():
    text = (
        'class A:\n    def f(self, x):\n        """Twice x."""\n        check(x)\n'
        "        # BEGIN SOLUTION\n        return 2 * x\n        # END SOLUTION\n"
    )
    out = stub(text)
    assert '"""Twice x."""' in out and "check(x)" in out and "return 2 * x" not in out
    assert 'raise NotImplementedError("A.f: write it' in out


@pytest.mark.parametrize(
    "text", ["# BEGIN SOLUTION\nx = 1\n", "x = 1\n# END SOLUTION\n", "# BEGIN SOLUTION\n# BEGIN SOLUTION\n"]
)
def test_unbalanced_markers_are_an_error(text):
    with pytest.raises(MarkerError):
        stub(text)


def test_hidden_tests_are_cut_with_their_decorators():
    text = (
        "import pytest\n\n\n@pytest.mark.parametrize('a', [1])\ndef test_hidden(a):\n    assert a\n\n\n"
        "def test_kept():\n    pass\n"
    )
    out = without_tests(text, {"test_hidden"})
    assert "test_hidden" not in out and "parametrize" not in out and "def test_kept" in out
    ast.parse(out)


def _test_names(check: str) -> list[str]:
    """The test functions a rubric check stands for (every one of a file's tests when it names a file)."""
    path, _, name = check.partition("::")
    if name:
        return [name.split("[")[0]]
    return re.findall(r"^def (test_\w+)\(", (ROOT / path).read_text(), re.M)


@pytest.mark.parametrize("name", sorted(RUBRIC))
def test_every_check_has_a_probe_and_every_probe_a_check(name):
    """The grader asks what the public tests ask: one probe per graded test, named after it (a probe that
    stands for one parametrisation adds a suffix), and nothing else."""
    from grading.probes import checks_of

    for problem in RUBRIC[name].problems:
        probes = [c.name for c in checks_of(name, problem.number)]
        tests = [t for check in problem.checks for t in _test_names(check)]
        for test in tests:
            assert any(p == test or p.startswith(test + "_") for p in probes), (problem.number, test)
        for probe in probes:
            assert any(probe == t or probe.startswith(t + "_") for t in tests), (problem.number, probe)
