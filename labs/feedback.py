"""What the submission page shows of a stored report, built for display only: the stored report
(``GradeReport.as_json()``, the grade_lab and API contract) is read, never changed.

``report_feedback``: a wrong answer's failed cases grouped by error class, the class that covers the most
inputs first, each class once with one example and its rule; then every case with the classes it fails.
The classes come from the messages the labs' ``check()`` write (graders/labs/): a section head such as
``encode_e4m3 is wrong on 126 of 65536 inputs, in these classes:`` followed by one line per class,
``- <class>: <n> [of <m>] wrong, e.g. <example>: expected <e>, got <g>. <rule>.`` (fp8-e4m3, int8-asym,
nvfp4; labs.analytics.failure_class reads the same lines). A message that names no class (gptq, hadamard,
kivi, a wrong dtype or shape) is one problem of its own, grouped with the same problem in other cases.

``grading_progress``: the page's progress bar from the status and progress text (cli.progress, shared with
the terminal client). ``speed_feedback``: the speedup and how the lab turns it into speed points."""

from __future__ import annotations

import math
import re

from cli.progress import WORDS, case_of, progress_fraction, progress_stage
from graders.labs.score import lab_score

TIMED_PREFIX = "A timed run gave a wrong result: "
CLASS_LINE = re.compile(r"^- (?P<name>[^:\n]+?): (?P<count>\d+)(?: of (?P<total>\d+))? wrong, e\.g\. (?P<rest>.+)$")
SUBJECT = re.compile(r"^\(?([A-Za-z_][\w.]*)")
COUNT = re.compile(r"\b(\d+) of (\d+)\b")
NUMBER = re.compile(r"0x[0-9A-Fa-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?")
TITLE_CHARS = 160


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 case', '2 cases', '1,024 inputs'."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _example_and_rule(rest: str) -> tuple[str, str]:
    """``x = 248.0 (...): expected 0x78, got 0x7E. exponent field ...`` -> the example and the rule: the
    rule starts after the sentence that holds "got"."""
    got = rest.find(", got ")
    cut = rest.find(". ", got if got >= 0 else 0)
    if cut < 0:
        return rest.rstrip(". "), ""
    return rest[:cut], rest[cut + 2:].strip().rstrip(".")


def _title(text: str) -> str:
    """A problem without classes, in one line: the text before its example, or its first sentence."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    for marker in (", e.g. ", " e.g. ", ". "):
        if marker in line:
            line = line.split(marker, 1)[0]
            break
    line = line.rstrip(":.")
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1] + "…"


def parse_message(message: str) -> list[dict]:
    """One failed case's message as its problems: each class line is one (``klass`` set, ``count`` of
    wrong inputs, ``example``, ``rule``), and each section without class lines is one (``klass`` None,
    ``text`` the section, ``count`` from its "n of m" when it has one)."""
    text = (message or "").strip()
    if text.startswith(TIMED_PREFIX):
        text = text[len(TIMED_PREFIX):]
    problems: list[dict] = []
    heads: list[dict] = []  # sections: {"head": line, "classes": [...]}; every other line is a section
    for line in text.splitlines():
        match = CLASS_LINE.match(line)
        if match and heads:
            example, rule = _example_and_rule(match["rest"])
            heads[-1]["classes"].append({"klass": match["name"].strip(), "count": int(match["count"]),
                                         "total": int(match["total"]) if match["total"] else None,
                                         "example": example, "rule": rule})
        elif line.strip() and not (line.startswith("(") and line.rstrip().endswith(")")):  # "(...)": a note
            heads.append({"head": line, "classes": []})
    for section in heads:
        subject = SUBJECT.match(section["head"].strip())
        subject = subject.group(1) if subject else ""
        if section["classes"]:
            for klass in section["classes"]:
                problems.append({**klass, "subject": subject, "text": ""})
        elif section["head"].strip():
            body = section["head"].strip()
            before = body.split("e.g.", 1)[0]
            count = COUNT.search(before)
            problems.append({"klass": None, "subject": subject, "count": int(count.group(1)) if count else None,
                             "total": int(count.group(2)) if count else None, "example": "", "rule": "",
                             "text": body})
    return problems


def _key(problem: dict) -> tuple:
    if problem["klass"]:
        return ("class", problem["subject"], problem["klass"], problem["rule"])
    return ("text", NUMBER.sub("#", _title(problem["text"])))


def report_feedback(result: dict | None) -> dict | None:
    """The summary of a report's cases, or None when it has none. ``groups``: the error
    classes (and problems without a class), the one covering the most wrong inputs first (then the most
    cases), each with one example (the shortest, so the numbers read at a glance), its rule and its cases;
    ``rows``: every case in order, a failed one with the groups it falls in."""
    cases = [c for c in (result or {}).get("cases") or [] if isinstance(c, dict)]
    if not cases:
        return None
    failed = [c for c in cases if not c.get("passed")]
    groups: dict[tuple, dict] = {}
    rows = []
    for index, case in enumerate(cases):
        name = str(case.get("name", ""))
        if case.get("passed"):
            rows.append({"name": name, "passed": True, "message": str(case.get("message") or ""), "problems": []})
            continue
        problems = parse_message(str(case.get("message") or "")) or [
            {"klass": None, "subject": "", "count": None, "total": None, "example": "", "rule": "",
             "text": "This case failed (the grader gave no message)."}]
        seen_here = []
        for problem in problems:
            key = _key(problem)
            group = groups.setdefault(key, {
                "klass": problem["klass"], "subject": problem["subject"], "rule": problem["rule"],
                "inputs": 0, "counted": False, "cases": [], "order": (index, len(groups)),
                "example": None, "example_case": "", "text": problem["text"]})
            if problem["count"] is not None:
                group["inputs"] += problem["count"]
                group["counted"] = True
            if name not in group["cases"]:
                group["cases"].append(name)
            example = problem["example"] or problem["text"]
            if group["example"] is None or len(example) < len(group["example"]):
                group["example"], group["example_case"] = example, name
                group["text"] = problem["text"]
            seen_here.append((key, problem))
        rows.append({"name": name, "passed": False, "message": str(case.get("message") or ""),
                     "problems": [{"key": key, **problem} for key, problem in seen_here]})
    ordered = sorted(groups.items(), key=lambda item: (not item[1]["klass"], -item[1]["inputs"],
                                                       -len(item[1]["cases"]), item[1]["order"]))
    anchors = {}
    summary = []
    for number, (key, group) in enumerate(ordered, 1):
        anchors[key] = f"error-class-{number}"
        title = group["klass"] or _title(group["text"])
        coverage = [plural(len(group["cases"]), "case")]
        if group["counted"]:
            coverage.insert(0, plural(group["inputs"], "wrong input"))
        summary.append({"anchor": anchors[key], "number": number, "title": title, "classified": bool(group["klass"]),
                        "subject": group["subject"], "inputs": group["inputs"] if group["counted"] else None,
                        "coverage": " in ".join(coverage), "example": group["example"],
                        "example_case": group["example_case"], "rule": group["rule"], "cases": group["cases"]})
    for row in rows:
        row["problems"].sort(key=lambda problem: list(anchors).index(problem["key"]))
        for problem in row["problems"]:
            problem["anchor"] = anchors[problem.pop("key")]
            problem["title"] = problem["klass"] or _title(problem["text"])
            if problem["count"] is not None and problem["klass"]:
                problem["detail"] = (f"{problem['count']:,} of {problem['total']:,} wrong" if problem["total"]
                                     else f"{problem['count']:,} wrong")
            else:
                problem["detail"] = ""
    headline = (f"{len(failed)} of {plural(len(cases), 'case')} failed, in "
                f"{plural(len(summary), 'kind of error', 'kinds of error')}." if failed else "")
    return {"failed": len(failed), "total": len(cases), "groups": summary, "rows": rows, "headline": headline}


# --- progress -------------------------------------------------------------------------------------

# The steps the page lists, in order; "starting" (the harness is up) is part of preparing the sandbox.
STEPS = ("queued", "preparing", "reference", "tests", "timing", "scoring")


def grading_progress(*, status: str, progress: str, held: bool = False) -> dict:
    """The bar of a submission being graded: its ``percent`` (never less at a later stage: the harness
    names the reference's timing "timing the reference", so a bare "timing case i of n" is the
    submission's), the stage in words with its case, and the steps in order, each done, current or to do."""
    stage = progress_stage(status, progress, ran=True)
    fraction = progress_fraction(status, progress, ran=True)
    words = WORDS[stage]
    if stage == "queued":
        words = ("Waiting for your previous submission" if held
                 else (progress or "queued")[:1].upper() + (progress or "queued")[1:])
    case = case_of(progress) if stage in ("reference", "tests", "timing") else None
    if case:
        words = f"{words}: case {case[0]} of {case[1]}"
    current = STEPS.index("preparing" if stage == "starting" else stage) if stage != "done" else len(STEPS)
    steps = [{"key": key, "words": WORDS[key], "state": "done" if i < current else "current" if i == current else "todo"}
             for i, key in enumerate(STEPS)]
    return {"stage": stage, "words": words, "percent": math.floor(fraction * 100), "steps": steps}


# --- speed ----------------------------------------------------------------------------------------

def speed_feedback(*, verdict: str, result: dict | None, config: dict, speed_review: str = "") -> dict | None:
    """For an accepted submission only: the speedup (or why there is none) and how the lab's speed points
    follow from it (graders/labs/score.py lab_score): ``base`` points for passing every case, plus up to
    ``speed_points`` growing with log(speedup), all of them at ``speed_cap``× the reference's speed."""
    if verdict != "accepted" or not config.get("speed_points"):
        return None
    points, speed_points, cap = config.get("points", 100), config["speed_points"], config.get("speed_cap", 1)
    base = points - speed_points
    speedup = (result or {}).get("speedup")
    speedup = speedup if isinstance(speedup, int | float) and not isinstance(speedup, bool) else None
    withheld = speed_review in ("needed", "rejected")
    earned = 0.0
    if speedup is not None and not withheld:
        earned = round(lab_score(all_passed=True, points=points, speed_points=speed_points, speed_cap=cap,
                                 speedup=speedup) - base, 2)
    return {"speedup": speedup, "base": base, "speed_points": speed_points, "cap": cap, "earned": earned,
            "withheld": withheld}
