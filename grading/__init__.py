"""The course's autograder: the rubric per assignment (``rubric.py``), the probes that ask the student's code what
each graded test asks (``probes/``), the sandboxed workers that run them (``worker.py``, ``sandbox.py``), the
verdicts computed out of their reach (``judge.py``, ``grade.py``), Gradescope's results.json and autograder zip,
and the starter release built from the solution (``release.py``, ``starter.py``)."""
