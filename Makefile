# Entry points: `make run` (the main job), `make test` (the autograder suite), `make lint` (ruff check and
# format check), `make report` (HTML reports), `make grade` / `make release` / `make gradescope` (grading/).
# Both create the virtual environment on first use and reuse it afterwards.
# VENV may point outside the clone (CI keys it by a hash of requirements.txt).
PYTHON ?= python3
VENV ?= .venv
VENV_ABS := $(abspath $(VENV))
PY := $(VENV_ABS)/bin/python
DEPS_STAMP := $(VENV_ABS)/.deps-installed

.PHONY: setup run test lint report grade release gradescope clean

$(DEPS_STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV_ABS)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

# The editable install points at this checkout; redo it when the venv was made
# for another clone (a cached CI venv) or the package list changed.
setup: $(DEPS_STAMP)
	@$(PY) -I -c "import common, pathlib, sys; sys.exit(pathlib.Path(common.__file__).resolve().parents[1] != pathlib.Path('$(CURDIR)').resolve())" 2>/dev/null \
		|| $(PY) -m pip install -q --no-deps --no-build-isolation -e .

run: setup
	cd mri_cs && $(PY) main.py --drop-rate 0.3 --learn-mask

# pytest exits non-zero on failures and with 5 when nothing was collected; both fail `make`.
test: setup
	$(VENV_ABS)/bin/pytest -q

# The lint rules and the formatter's check, with the settings in pyproject.toml (line length 120);
# `ruff format .` fixes what the second one reports.
lint: setup
	$(VENV_ABS)/bin/ruff check .
	$(VENV_ABS)/bin/ruff format --check .

# Execute the five report notebooks on the committed results/ and write self-contained HTML
# (plus dry/answers.md) into reports/ (ignored by git).
report: setup
	$(PY) -m lab.report

# Points per problem (rubric: grading/rubric.py) of this repository's files, or SUBMISSION=DIR's (one folder per
# assignment, or ASSIGNMENT=name and the files themselves): each problem's worker runs the files against the
# starter, sandboxed (an unprivileged uid of its own when run as root); the verdicts are computed by the grader.
grade: setup
	$(PY) -m grading grade $(if $(SUBMISSION),--submission "$(SUBMISSION)") $(foreach a,$(ASSIGNMENT),--assignment $(a)) $(if $(RESULTS),--results "$(RESULTS)")

# The student starter (the course only: stubs, public tests, cleared notebooks, student READMEs; no lab,
# results, docs, dry or grader) in dist/starter, or OUT=DIR (outside the tree).
release: setup
	$(PY) -m grading release $(if $(OUT),--out "$(OUT)")

# One Gradescope autograder zip per assignment in dist/gradescope: setup.sh, run_autograder (drops privileges
# for the student's code, writes results.json itself), the grader and the assignment's reference solution.
gradescope: setup
	$(PY) -m grading gradescope $(foreach a,$(ASSIGNMENT),--assignment $(a))

clean:
	rm -rf $(VENV_ABS) *.egg-info
