"""common.cli: the shared flags, argparse types and the one-line error exit."""

import argparse
from pathlib import Path

import pytest

from common import cli


def parser_with_sub():
    p = cli.OneLineParser(prog="main.py")
    cli.add_common_args(p)
    sub = p.add_subparsers(dest="command", required=True)
    cli.add_common_args(sub.add_parser("train"), sub_command=True)
    return p


@pytest.mark.parametrize("argv", [["--seed", "3", "train"], ["train", "--seed", "3"]])
def test_common_flags_work_before_and_after_the_sub_command(argv):
    args = cli.fill_common_defaults(parser_with_sub().parse_args(argv))
    assert args.seed == 3 and args.device == "auto" and args.results_root == "runs" and not args.resume


def test_defaults_when_no_flag_given():
    args = cli.fill_common_defaults(parser_with_sub().parse_args(["train"]))
    assert {k: getattr(args, k) for k in cli.COMMON_DEFAULTS} == cli.COMMON_DEFAULTS


@pytest.mark.parametrize(
    "func, good, bad",
    [
        (cli.positive_int, ("1", 1), ["0", "-2", "1.5", "x"]),
        (cli.non_negative_int, ("0", 0), ["-1", "a"]),
        (cli.positive_float, ("1e-3", 1e-3), ["0", "-1", "nan", "inf", "x"]),
        (cli.non_negative_float, ("0", 0.0), ["-0.1", "nan"]),
        (cli.fraction, ("0.3", 0.3), ["1", "-0.1", "1.5"]),
        (cli.device_name, ("cuda:1", "cuda:1"), ["nonsense", "cuda:", "gpu"]),
    ],
)
def test_argument_types(func, good, bad):
    assert func(good[0]) == good[1]
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            func(text)


def test_bad_device_is_one_usage_line(capsys):
    with pytest.raises(SystemExit) as e:
        parser_with_sub().parse_args(["train", "--device", "nonsense"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("main.py train: error: argument --device") and "xla" not in err[0]


def test_run_name_marks_quick_runs():
    ns = argparse.Namespace(name=None, quick=True)
    assert cli.run_name(ns, "segment") == "segment_quick"
    assert cli.run_name(argparse.Namespace(name="mine", quick=False), "segment") == "mine"


@pytest.mark.parametrize(
    "exc, code, text",
    [
        (cli.DataError("no MNIST in data/"), 2, "prog: error: no MNIST in data/"),
        (cli.RunError("runs/x already holds a run"), 2, "prog: error: runs/x already holds a run"),
        (PermissionError(13, "Permission denied", "/proc/x"), 2, "prog: error: Permission denied (/proc/x)"),
        (KeyboardInterrupt(), 130, "prog: interrupted; add --resume"),
    ],
)
def test_run_command_turns_errors_into_one_line(exc, code, text, capsys):
    def fail():
        raise exc

    with pytest.raises(SystemExit) as e:
        cli.run_command("prog", fail, resume_hint="add --resume")
    assert e.value.code == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0] == text


def test_run_command_returns_the_result():
    assert cli.run_command("prog", lambda: 42) == 42


def test_a_main_py_of_another_checkout_is_refused(tmp_path):
    from common.cli import RunError, check_checkout

    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "cli.py").write_text("")
    (tmp_path / "medical_cnn").mkdir()
    with pytest.raises(RunError, match="make setup"):
        check_checkout(tmp_path / "medical_cnn" / "main.py")
    here = Path(__file__).resolve().parents[2]
    check_checkout(here / "medical_cnn" / "main.py")  # this checkout's own main.py runs
    check_checkout(tmp_path / "medical_cnn" / "bench.py")  # only main.py files are checked
