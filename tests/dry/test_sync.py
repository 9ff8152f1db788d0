"""answers.md and compute.py agree, and a wrong number in the text is caught."""

import pytest

from dry import compute


def test_answers_file_is_up_to_date(capsys):
    assert compute.main(["--check"]) == 0


def test_every_block_is_generated(answers):
    assert set(answers.blocks) == set(compute.render_blocks())


def test_check_fails_on_a_tampered_number_and_write_repairs_it(tmp_path, capsys):
    copy = tmp_path / "answers.md"
    text = compute.ANSWERS.read_text(encoding="utf-8")
    assert "| 0.1411 | -0.9900 | 0.0065 |" in text
    copy.write_text(text.replace("| 0.1411 | -0.9900 | 0.0065 |", "| 0.1411 | -0.9800 | 0.0065 |", 1), encoding="utf-8")
    assert compute.main(["--check", "--answers", str(copy)]) == 1
    assert "pe_" in capsys.readouterr().err
    assert compute.main(["--write", "--answers", str(copy)]) == 0
    assert copy.read_text(encoding="utf-8") == text


def test_value_checker_rejects_a_wrong_number(close_as_written):
    close_as_written([["0.25", "9.537e-07"]], [[0.2465, 9.5367e-07]])
    with pytest.raises(AssertionError):
        close_as_written([["0.26"]], [[0.2465]])
    with pytest.raises(AssertionError):
        close_as_written([["9.54e-07"]], [[9.5367e-07 * 1.01]])


def test_missing_or_unknown_blocks_are_errors():
    blocks = compute.render_blocks()
    with pytest.raises(ValueError, match="missing"):
        compute.fill_blocks("no blocks here", blocks)
    with pytest.raises(ValueError, match="unknown"):
        compute.fill_blocks(compute.ANSWERS.read_text() + "<!-- dry:begin extra -->1<!-- dry:end extra -->", blocks)
    with pytest.raises(ValueError, match="twice"):
        compute.read_blocks("<!-- dry:begin a -->1<!-- dry:end a --> <!-- dry:begin a -->2<!-- dry:end a -->")


def test_bad_answers_path_is_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        compute.main(["--check", "--answers", str(tmp_path / "missing.md")])
    assert exc.value.code == 2
    assert "no answers file" in capsys.readouterr().err


def test_printing_mode_lists_the_numbers(capsys):
    assert compute.main([]) == 0
    out = capsys.readouterr().out
    assert "== att_softmax" in out and "1.386" in out
