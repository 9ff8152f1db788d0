"""pytest plugin loaded by the grader (``-p grading.plugin``): keeps each test report small.

A student's function that prints megabytes would otherwise put all of it into the report log
(pytest-reportlog writes the captured output with every report).
"""

from __future__ import annotations

import pytest

LIMIT = 2000


def _clip(text: str) -> str:
    return (
        text if len(text) <= LIMIT else text[:LIMIT] + f"\n... ({len(text) - LIMIT} more characters cut by the grader)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.sections = [(name, _clip(content)) for name, content in report.sections]
