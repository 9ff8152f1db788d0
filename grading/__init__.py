"""The course's autograder: the rubric per assignment (``rubric.py``), ``make grade`` for the repository or a
student's files, Gradescope's results.json and autograder zip, and the starter release built from the solution."""
