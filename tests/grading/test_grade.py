"""``make grade``: a known bug loses exactly its problem's points and names the failing check (a hidden one only
as "hidden check failed"), a correct file beside a crashing one keeps its points, and results.json says what
the printed table says."""

import json
import os
import subprocess
import sys

import pytest

from grading.rubric import RUBRIC
from grading.score import render

from .conftest import points, reasons, reference, with_bug, write


@pytest.fixture(scope="module")
def submission(tmp_path_factory, grade_once):
    """One submission: medical_cnn with bugs in three problems (MLP init, depthwise block, Dice); autoencoders
    with a Dice loss without squares and models.py missing; backprop with a wrong, chatty backward; mri_cs with
    an inverted data-consistency mask; auto_decoder whose VariationalAutoDecoder.py hangs at import."""
    folder = tmp_path_factory.mktemp("submission")
    write(
        folder / "medical_cnn",
        {
            "mlp.py": with_bug(
                "medical_cnn",
                "mlp.py",
                "module.weight.normal_(0.0, std)",
                "module.weight.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)",
            ),  # Glorot uniform: only the hidden check can tell
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
    wrong_backward = with_bug("backprop", "functions.py", "grad_w = grad_out.T @ x", "grad_w = 2 * grad_out.T @ x")
    write(
        folder / "backprop",
        {
            "functions.py": wrong_backward.replace(
                "        ctx.save_for_backward(x, weight)",
                "        print('x' * 100_000)\n        ctx.save_for_backward(x, weight)",
            )
        },
    )
    inverted = with_bug(
        "mri_cs",
        "models/model.py",
        "predicted + mask * (kspace - predicted)",
        "predicted + (1 - mask) * (kspace - predicted)",
    )
    write(folder / "mri_cs" / "models", {"model.py": inverted})
    write(
        folder / "auto_decoder",
        {
            "AutoDecoder.py": reference("auto_decoder", "AutoDecoder.py"),
            "VariationalAutoDecoder.py": "import time\ntime.sleep(600)\n",
        },
    )
    return folder, grade_once("submission", None, folder, wall_s=15.0, cpu_s=15.0)


def test_each_bug_loses_exactly_its_problems_points_and_names_the_check(submission):
    _, scores = submission
    medical = scores["medical_cnn"]
    assert points(medical) == {"1": 0, "2": 2, "3": 0, "4": 10, "5": 10, "6": 0}
    assert reasons(medical, "1") == "hidden check failed"  # not even its name: it would say what it checks
    assert "test_depthwise_separable_block_applies_relu_after_each_batch_norm" in reasons(medical, "3")
    assert "test_dice_loss_matches_a_hand_computation_over_the_whole_batch" in reasons(medical, "6")
    auto = scores["autoencoders"]
    assert points(auto) == {"1": 0, "2": 2, "3": 0, "4": 0, "5": 0}
    assert "test_dice_loss_matches_the_formula_computed_by_hand" in reasons(auto, "1")
    for number in "345":  # one line: the missing file, not a list of failed checks
        assert reasons(auto, number).startswith("models.py: missing") and "\n" not in reasons(auto, number)


def test_a_wrong_backward_costs_its_problem_only_and_printing_costs_nothing(submission):
    backprop = submission[1]["backprop"]
    assert points(backprop) == {"1": 0, "2": 4, "3": 10}  # the network is checked on the reference Functions
    assert "grad_w: differs from the expected values" in reasons(backprop, "1")


def test_an_inverted_data_consistency_mask_is_caught(submission):
    mri = submission[1]["mri_cs"]
    assert points(mri) == {"1": 0}
    assert "test_output_ignores_the_unmeasured_samples: largest_change" in reasons(mri, "1")


def test_a_file_that_hangs_at_import_costs_its_own_problems_only(submission):
    auto = submission[1]["auto_decoder"]
    assert points(auto) == {"1": 10, "2": 0}
    assert "did not finish within 15 s" in reasons(auto, "2")


def test_results_json_says_what_the_table_says(submission, tmp_path):
    from grading.gradescope import VISIBILITIES, results_json, write_results

    _, scores = submission
    path = tmp_path / "results" / "results.json"
    write_results(path, list(scores.values()), 12.5)
    results = json.loads(path.read_text())
    assert set(results) <= {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert results["output"] == render(list(scores.values())) and results == results_json(list(scores.values()), 12.5)
    tests = results["tests"]
    assert len(tests) == sum(len(a.problems) for a in RUBRIC.values())
    assert results["score"] == sum(t["score"] for t in tests) == sum(s.earned for s in scores.values())
    for t in tests:
        assert 0 <= t["score"] <= t["max_score"] and t["visibility"] in VISIBILITIES
        line = next(line for line in results["output"].splitlines() if t["name"].split(" ", 1)[1] in line)
        assert line.endswith(f": {t['score']:g} / {t['max_score']:g}")
    mlp = next(t for t in tests if "Linear layer and MLP" in t["name"])
    assert (mlp["score"], mlp["max_score"], mlp["status"]) == (0, 10, "failed")
    assert "hidden check failed" in mlp["output"] and "kurtosis" not in mlp["output"]


def test_bad_submission_path_is_one_line_and_exit_2(tmp_path):
    for args in (["--submission", str(tmp_path / "absent")], ["--submission", str(tmp_path)]):
        done = subprocess.run(
            [sys.executable, "-m", "grading", "grade", *args], capture_output=True, text=True, env=dict(os.environ)
        )
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "error:" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def more_bugs(tmp_path_factory, grade_once):
    """A second submission: one more known bug in the problems the first one left intact."""
    folder = tmp_path_factory.mktemp("more_bugs")
    conv = with_bug("medical_cnn", "utils.py", "out += windows @ ker[i]", "out += windows @ ker[kh - 1 - i][::-1]")
    stride = with_bug("medical_cnn", "mobileNet.py", "(128, 2),", "(128, 1),")
    write(
        folder / "medical_cnn",
        {
            "utils.py": conv,
            "mobileNet.py": stride,
            "mlp.py": reference("medical_cnn", "mlp.py"),
            "unet.py": reference("medical_cnn", "unet.py"),
        },
    )
    last_batch = with_bug(
        "autoencoders",
        "helper.py",
        "accuracy(torch.cat(preds), torch.cat(targets))",
        "accuracy(preds[-1], targets[-1])",
    )
    no_indices = with_bug(
        "autoencoders", "models.py", "self.pool2 = nn.MaxPool2d(2, return_indices=True)", "self.pool2 = nn.MaxPool2d(2)"
    )
    write(folder / "autoencoders", {"helper.py": last_batch, "models.py": no_indices})
    laplace = with_bug("auto_decoder", "VariationalAutoDecoder.py", "return 2 * scale**2", "return scale**2")
    write(
        folder / "auto_decoder",
        {"AutoDecoder.py": reference("auto_decoder", "AutoDecoder.py"), "VariationalAutoDecoder.py": laplace},
    )
    relu = with_bug(
        "backprop", "functions.py", "grad_out * (x > 0).to(grad_out.dtype)", "grad_out * (x >= 0).to(grad_out.dtype)"
    )
    write(folder / "backprop", {"functions.py": relu})
    write(folder / "mri_cs" / "models", {"model.py": reference("mri_cs", "models/model.py")})
    return grade_once("more bugs", None, folder, wall_s=60.0, cpu_s=30.0)


def test_more_planted_bugs_each_lose_exactly_their_problem(more_bugs):
    assert points(more_bugs["medical_cnn"]) == {"1": 10, "2": 0, "3": 5, "4": 0, "5": 10, "6": 5}
    assert "test_is_correlation_not_convolution" in reasons(more_bugs["medical_cnn"], "2")
    assert "test_mobilenet_layout_follows_table_1: strides" in reasons(more_bugs["medical_cnn"], "4")
    assert points(more_bugs["autoencoders"]) == {"1": 5, "2": 0, "3": 5, "4": 4, "5": 0}
    assert points(more_bugs["auto_decoder"]) == {"1": 10, "2": 0}
    assert "laplace: variance() is not 2 scale^2" in reasons(more_bugs["auto_decoder"], "2")
    assert points(more_bugs["backprop"]) == {"1": 6, "2": 0, "3": 10}
    assert "test_relu_gradient_is_zero_at_exactly_zero_like_torch" in reasons(more_bugs["backprop"], "2")
    assert points(more_bugs["mri_cs"]) == {"1": 10}
