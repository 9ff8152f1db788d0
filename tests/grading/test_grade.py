"""``make grade``: the repository gets full marks, a known bug loses exactly its problem's points and names
the failing check, and broken, missing, hanging or chatty files never crash or stall the grader."""

import json
import subprocess
import sys

import pytest

from grading.rubric import RUBRIC
from grading.score import render

from .conftest import reference, with_bug, write


def points(score) -> dict[str, float]:
    return {p.problem.number: p.earned for p in score.problems}


def reasons(score, number: str) -> str:
    return "\n".join(next(p.reasons for p in score.problems if p.problem.number == number))


def test_the_repository_gets_full_marks(grade_once):
    scores = grade_once("repository", None)
    assert set(scores) == set(RUBRIC)
    for name, score in scores.items():
        assert [p.reasons for p in score.problems] == [[] for _ in score.problems], name
        assert score.earned == RUBRIC[name].points
    text = render(list(scores.values()))
    assert f"total: {sum(a.points for a in RUBRIC.values()):g} / " in text and "graded by staff from the report" in text


@pytest.fixture(scope="module")
def submission(tmp_path_factory, grade_once):
    """One submission, graded in one run: medical_cnn with bugs in three problems (MLP, depthwise block, Dice)
    and three intact; autoencoders with a Dice loss without the squares of equation 1 and models.py missing;
    backprop whose first_layer_grads hangs and whose LinearFunction.forward prints a lot; mri_cs with a syntax
    error; auto_decoder whose VariationalAutoDecoder.py hangs at import beside the reference AutoDecoder.py."""
    folder = tmp_path_factory.mktemp("submission")
    write(
        folder / "medical_cnn",
        {
            "mlp.py": with_bug(
                "medical_cnn",
                "mlp.py",
                "module.weight.normal_(0.0, std)",
                "module.weight.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)",
            ),  # Glorot uniform
            "mobileNet.py": with_bug(
                "medical_cnn",
                "mobileNet.py",
                "x = self.relu(self.bn1(self.depthwise(x)))",
                "x = self.bn1(self.depthwise(x))",
            ),  # no ReLU after the depthwise batch norm
            "utils.py": with_bug("medical_cnn", "utils.py", "(2.0 * intersection + smooth)", "(intersection + smooth)"),
            "unet.py": reference("medical_cnn", "unet.py"),
        },
    )
    write(
        folder / "autoencoders",
        {
            "helper.py": with_bug(
                "autoencoders",
                "helper.py",
                "((probs**2).sum() + (target**2).sum() + eps)",
                "(probs.sum() + target.sum() + eps)",
            )
        },
    )
    chatty_and_hanging = reference("backprop", "functions.py") + (
        "\n\n_forward = LinearFunction.forward\n\n\ndef _chatty(ctx, *args):\n    print('x' * 200_000)\n"
        "    return _forward(ctx, *args)\n\n\nLinearFunction.forward = staticmethod(_chatty)\n\n\n"
        "def first_layer_grads(net, x, target):\n    while True:\n        pass\n"
    )
    write(folder / "backprop", {"functions.py": chatty_and_hanging})
    write(folder / "mri_cs" / "models", {"model.py": "class ReconstructionModel(:\n"})
    write(
        folder / "auto_decoder",
        {
            "AutoDecoder.py": reference("auto_decoder", "AutoDecoder.py"),
            "VariationalAutoDecoder.py": "import time\ntime.sleep(600)\n",
        },
    )
    return folder, grade_once("submission", None, folder, test=3.0, imports=5.0, run=300.0)


def test_each_bug_loses_exactly_its_problems_points_and_names_the_check(submission):
    _, scores = submission
    medical = scores["medical_cnn"]
    assert points(medical) == {"1": 0, "2": 2, "3": 0, "4": 10, "5": 10, "6": 0}
    assert reasons(medical, "1").startswith(
        "test_mlp.py::test_glorot_weights_are_normal_not_uniform_with_the_same_variance: "
    )
    assert "\n" not in reasons(medical, "1")  # the variance test still passes: only the shape check fails
    assert "test_depthwise_separable_block_applies_relu_after_each_batch_norm" in reasons(medical, "3")
    assert "test_dice_loss_matches_a_hand_computation_over_the_whole_batch" in reasons(medical, "6")
    auto = scores["autoencoders"]
    assert points(auto) == {"1": 0, "2": 2, "3": 0, "4": 0, "5": 0}
    assert "test_dice_loss_matches_the_formula_computed_by_hand" in reasons(auto, "1")
    for number in "345":  # one line: the missing file, not a list of failed tests
        assert reasons(auto, number).startswith("models.py: missing") and "\n" not in reasons(auto, number)


def test_the_overlay_never_touches_the_repository(submission):
    folder, _ = submission
    assert "normal_(0.0, std)" in reference("medical_cnn", "mlp.py")
    assert "uniform_" in (folder / "medical_cnn" / "mlp.py").read_text()


def test_results_json_has_gradescopes_fields(submission, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from grading.gradescope import VISIBILITIES, write_results

    _, scores = submission
    path = tmp_path / "results" / "results.json"
    write_results(path, [scores["medical_cnn"], scores["autoencoders"]], 12.5)
    results = json.loads(path.read_text())
    test_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "number", "score", "max_score", "output", "visibility"],
        "properties": {
            "name": {"type": "string"},
            "number": {"type": "string"},
            "score": {"type": "number"},
            "max_score": {"type": "number"},
            "output": {"type": "string"},
            "status": {"enum": ["passed", "failed"]},
            "visibility": {"enum": list(VISIBILITIES)},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["score", "tests"],
        "properties": {
            "score": {"type": "number"},
            "execution_time": {"type": "number"},
            "output": {"type": "string"},
            "visibility": {"enum": list(VISIBILITIES)},
            "stdout_visibility": {"enum": list(VISIBILITIES)},
            "tests": {"type": "array", "items": test_schema},
        },
    }
    jsonschema.validate(results, schema)
    tests = results["tests"]
    assert len(tests) == len(RUBRIC["medical_cnn"].problems) + len(RUBRIC["autoencoders"].problems)
    assert results["score"] == sum(t["score"] for t in tests) == 22 + 2
    assert all(0 <= t["score"] <= t["max_score"] for t in tests)
    mlp = next(t for t in tests if "Linear layer and MLP" in t["name"])
    assert (mlp["score"], mlp["max_score"], mlp["status"]) == (0, 10, "failed")
    assert "test_glorot_weights_are_normal_not_uniform" in mlp["output"]


def test_a_hanging_function_is_cut_at_the_time_limit_and_scores_zero(submission):
    backprop = submission[1]["backprop"]
    assert points(backprop) == {"1": 6, "2": 4, "3": 0}  # printing costs nothing, hanging costs its problem
    assert "test_hand_derived_first_layer_grads_match_autograd (3 cases): Failed: Timeout" in reasons(backprop, "3")
    assert backprop.seconds < 120  # three hanging cases at 3 s each, not a stalled run
    from grading.gradescope import results_json

    entry = next(t for t in results_json([backprop], 1.0)["tests"] if "hand-derived" in t["name"])
    assert (entry["score"], entry["max_score"]) == (0, 10) and "Timeout" in entry["output"]


def test_files_that_do_not_import_or_hang_at_import_score_zero_with_one_line(submission):
    _, broken = submission
    assert points(broken["mri_cs"]) == {"1": 0}
    assert reasons(broken["mri_cs"], "1").startswith("models/model.py: does not import: SyntaxError")
    auto = broken["auto_decoder"]
    assert points(auto) == {"1": 10, "2": 0}  # the test module still imports: the hanging file was stubbed
    assert reasons(auto, "2") == "VariationalAutoDecoder.py: import did not finish within 5 s"


def test_bad_submission_path_is_one_line_and_exit_2(tmp_path):
    for args in (["--submission", str(tmp_path / "absent")], ["--submission", str(tmp_path)]):
        done = subprocess.run([sys.executable, "-m", "grading", "grade", *args], capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "error:" in done.stderr and "Traceback" not in done.stderr
