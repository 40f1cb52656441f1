"""How far along a submission is, from its status and progress text: one place for the terminal client's
bar (cli/main.py) and the submission page's (labs/feedback.py). Plain Python, no Django, no HTTP.

The worker reports, in this order (labs/services.py ``submission_progress``, sandbox/harness.py): status
``queued``, then ``preparing`` ("preparing"), then ``running`` with "starting", "timing the reference case
i of n", "running tests case i of n", "timing case i of n", then ``scoring``, then ``done``. Each stage owns
a span of the bar in that order, so the fraction only grows while a submission is graded (a retry after a
grader error goes back to the queue, and says so)."""

from __future__ import annotations

import re

CASE = re.compile(r"\bcase (\d+) of (\d+)\b")

# (key, words shown to the learner, where its span of the bar starts, how long it is), in grading order
STAGES = (
    ("queued", "Queued", 0.0, 0.0),
    ("preparing", "Preparing the sandbox", 0.05, 0.0),
    ("starting", "Starting the sandbox", 0.08, 0.0),
    ("reference", "Timing the reference", 0.1, 0.2),
    ("tests", "Running the tests", 0.3, 0.4),
    ("timing", "Timing your code", 0.7, 0.2),
    ("scoring", "Scoring", 0.95, 0.0),
    ("done", "Done", 1.0, 0.0),
)
SPANS = {key: (start, length) for key, _, start, length in STAGES}
WORDS = {key: words for key, words, _, _ in STAGES}


def progress_stage(status: str, progress: str, *, ran: bool) -> str:
    """The stage key of a status and progress text. "timing the reference" is the reference's; a bare
    "timing case i of n" is the submission's once its tests have run (``ran``), else the reference's (an
    older server said "timing" for both)."""
    progress = progress or ""
    if status == "done":
        return "done"
    if status == "scoring" or progress.startswith("scoring"):
        return "scoring"
    if progress.startswith("timing the reference"):
        return "reference"
    if progress.startswith("timing"):
        return "timing" if ran else "reference"
    if progress.startswith("running"):
        return "tests"
    if progress.startswith("starting"):
        return "starting"
    if status == "preparing" or progress.startswith("preparing"):
        return "preparing"
    if status == "running":
        return "starting"
    return "queued"


def case_of(progress: str) -> tuple[int, int] | None:
    """(i, n) of "... case i of n", or None."""
    match = CASE.search(progress or "")
    return (int(match.group(1)), max(int(match.group(2)), 1)) if match else None


def progress_fraction(status: str, progress: str, *, ran: bool) -> float:
    """How far along a submission is, from its status and progress text ("running tests case 3 of 8")."""
    stage = progress_stage(status, progress, ran=ran)
    start, length = SPANS[stage]
    case = case_of(progress)
    return start + length * (min(case[0], case[1]) / case[1] if case else 0.0)
