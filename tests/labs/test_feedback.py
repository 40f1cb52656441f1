"""The submission page teaches in one screen (issue #18 item 4): the error classes summarised once each,
the one covering the most inputs first, with one example and the rule; the case table with failed rows
marked; no speedup unless accepted, and the speed points explained next to it; a progress bar whose
stages only move forward.

The reports in tests/labs/reports/ are real grader outputs, ``python manage.py grade_lab <lab> <file>
--backend local --json`` on fixtures/labs/*/solutions (the file name says which), stored as they came."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from content.labs import labs_root
from content.load import labs_sync
from labs import services
from labs.feedback import grading_progress, parse_message, report_feedback, speed_feedback
from labs.models import Lab, Submission
from tests.factories import user_make

REPORTS = Path(__file__).resolve().parent / "reports"
TOP = "top binades (240 ≤ |x| ≤ 448)"


def report(name: str) -> dict:
    return json.loads((REPORTS / f"{name}.json").read_text())


@pytest.fixture
def lab(db):
    labs_sync(root=labs_root())
    return Lab.objects.get(slug="fp8-e4m3")


def graded_page(lab: Lab, result: dict, *, htmx: bool = False, **fields) -> str:
    user = user_make(f"learner{Submission.objects.count()}")
    submission = Submission.objects.create(user=user, lab=lab, code="x = 1", status="done", progress="done",
                                           verdict=result["verdict"], score=result["score"], result=result,
                                           backend="local", **fields)
    client = Client()
    client.force_login(user)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.get(f"/labs/submissions/{submission.id}/", headers=headers).content.decode()


def classes_on(page: str) -> list[str]:
    return re.findall(r'<details class="error-class" id="error-class-\d+" data-class="([^"]*)"', page)


# --- the summary, from the stored report ---------------------------------------------------------------

def test_classes_are_ordered_by_the_inputs_they_cover_each_with_one_example_and_its_rule():
    wrong = report("fp8-e4m3--course_notes_encoder")
    feedback = report_feedback(wrong)
    # the grader lists NaN first in every message; the learner's mistake is the top binades: 56,420 wrong
    # inputs against NaN's 9,349
    assert [g["title"] for g in feedback["groups"]] == [TOP, "NaN", "signed zero"]
    assert [g["inputs"] for g in feedback["groups"]] == [56420, 9349, 2]
    top = feedback["groups"][0]
    assert top["coverage"] == "56,420 wrong inputs in 8 cases" and top["subject"] == "encode_e4m3"
    assert top["example"] == "x = 248.0 (float32 0x43780000): expected 0x78, got 0x7E"  # the shortest
    assert top["rule"].startswith("exponent field 1111 is an ordinary normal exponent") and "e.g." not in top["rule"]
    assert feedback["groups"][2]["coverage"] == "2 wrong inputs in 2 cases"
    assert feedback["headline"] == "9 of 14 cases failed, in 3 kinds of error."
    first = feedback["rows"][0]  # each failed case lists its classes, the summary's order, with its counts
    assert [(p["title"], p["detail"], p["anchor"]) for p in first["problems"]] == [
        (TOP, "1,536 of 1,794 wrong", "error-class-1"), ("NaN", "1,023 of 2,046 wrong", "error-class-2"),
        ("signed zero", "1 of 2 wrong", "error-class-3")]
    assert [r["passed"] for r in feedback["rows"]].count(False) == 9


def test_the_other_labs_classes_and_problems_without_a_class():
    ties = report_feedback(report("int8-asym--round_half_away"))
    assert [(g["title"], g["subject"], g["inputs"]) for g in ties["groups"]] == [
        ("tie (w / scale is exactly halfway)", "q", 12397)]
    assert ties["groups"][0]["rule"].startswith("ties go to the even integer")
    nvfp4 = report_feedback(report("nvfp4--e2m1_half_away"))
    assert [(g["title"], g["subject"], len(g["cases"])) for g in nvfp4["groups"]] == [("E2M1 tie", "codes", 3)]
    # a message without class lines (a wrong dtype) is one problem, once, whatever the number of cases
    dtype = report_feedback(report("fp8-e4m3--returns_int32"))
    assert len(dtype["groups"]) == 1 and not dtype["groups"][0]["classified"]
    assert dtype["groups"][0]["cases"] == [r["name"] for r in dtype["rows"] if not r["passed"]]
    # the prose of labs that name no class (gptq), as the analytics tests quote it
    prose = parse_message("codes match 77.1% of the reference's; layer error 116.5% above the reference's (needs ≥ "
                          "99% of codes equal and a layer error at most 0.5% above). Your codes match 100.0% of that "
                          "mistake's: your codes are plain round-to-nearest: there is no error compensation.")
    assert len(prose) == 1 and prose[0]["klass"] is None and prose[0]["count"] is None


def test_an_accepted_report_has_rows_and_no_summary():
    feedback = report_feedback(report("fp8-e4m3--frexp_round"))
    assert feedback["groups"] == [] and feedback["headline"] == "" and all(r["passed"] for r in feedback["rows"])
    assert report_feedback({"verdict": "runtime_error", "cases": []}) is None


# --- the page ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_page_shows_each_class_once_in_order_and_marks_the_failed_rows(lab):
    wrong = report("fp8-e4m3--course_notes_encoder")
    page = graded_page(lab, wrong)
    assert classes_on(page) == [TOP, "NaN", "signed zero"]
    for rule in ("field 1111 is an ordinary normal exponent", "encodes to S.1111.111", "eros keep their sign"):
        assert page.count(rule) == 1  # once, in the summary: not in each case, not again in the diagnostics
    assert page.count("248.0 (float32 0x43780000)") == 1 and "First: all-fp16" not in page
    assert "9 of 14 cases failed, in 3 kinds of error." in page
    rows = re.findall(r'<tr class="case (failed|passed)" data-case="([^"]+)" data-passed="(true|false)">(.*?)</tr>',
                      page, re.S)
    assert len(rows) == 14
    failed = [(name, body) for kind, name, flag, body in rows if kind == "failed"]
    assert [name for name, _ in failed] == [c["name"] for c in wrong["cases"] if not c["passed"]]
    for _, body in failed:  # a visible mark and the word, then the classes linking to the summary
        assert '<span class="mark" aria-hidden="true">✗</span> <strong>failed</strong>' in body
        assert '<a href="#error-class-1">' in body or '<a href="#error-class-2">' in body
    assert all(flag == "true" and "✓" in body for kind, _, flag, body in rows if kind == "passed")
    assert "Wrong Answer · score 0.0" in page and "wrong_answer" not in page.replace('data-verdict="wrong_answer"', "")


@pytest.mark.django_db
def test_no_speedup_for_a_wrong_answer_and_the_speed_points_explained_for_an_accepted_one(lab):
    wrong = report("fp8-e4m3--round_half_away")
    wrong["speedup"] = 1.8  # as an older report or a re-run could carry: still not shown for a wrong answer
    page = graded_page(lab, wrong)
    assert "Speedup" not in page and "speed points" not in page and 'id="speed"' not in page
    assert classes_on(page)[0] == "normal tie"  # the learner's mistake: ties, not the top binades listed first

    accepted = report("fp8-e4m3--frexp_round")
    page = graded_page(lab, accepted)
    speed = re.search(r'<p id="speed">(.*?)</p>', page, re.S).group(1)
    expected = speed_feedback(verdict="accepted", result=accepted, config=lab.config)
    assert f"Speedup over the reference: <strong>{accepted['speedup']:.2f}×</strong>" in speed
    assert f"worth {expected['earned']:g} of 20 speed points" in speed
    assert "80 base points for passing every case, plus up to 20 speed points" in speed
    assert "all 20 at 4× or faster" in speed
    assert expected["earned"] == pytest.approx(accepted["score"] - 80, abs=0.01)
    assert classes_on(page) == [] and page.count('<tr class="case passed"') == len(accepted["cases"])

    review = graded_page(lab, {**accepted, "speedup": 30.0, "score": 80.0}, speed_review="needed")
    assert "its speed points withheld" in review and 'data-speed-review="needed"' in review


def test_speed_feedback_is_for_accepted_submissions_only():
    config = {"points": 100, "speed_points": 20, "speed_cap": 4.0}
    assert speed_feedback(verdict="wrong_answer", result={"speedup": 2.0}, config=config) is None
    assert speed_feedback(verdict="accepted", result={"speedup": 4.0}, config=config)["earned"] == 20
    assert speed_feedback(verdict="accepted", result={"speedup": 0.5}, config=config)["earned"] == 0
    none = speed_feedback(verdict="accepted", result={"speedup": None}, config=config)
    assert none["speedup"] is None and none["earned"] == 0


# --- the progress bar -----------------------------------------------------------------------------------

def progress_on(page: str) -> tuple[int, str, str, str]:
    value = int(re.search(r'<progress id="grading-progress" max="100" value="(\d+)"', page).group(1))
    stage = re.search(r'data-stage="([a-z]+)" id="grading-stage">([^<]*)</p>', page)
    current = re.search(r'<li class="current" data-step="([a-z]+)" aria-current="step">', page).group(1)
    return value, stage.group(1), stage.group(2), current


@pytest.mark.django_db
def test_the_bar_moves_forward_through_the_stages_as_the_worker_reports_them(lab, monkeypatch):
    monkeypatch.setattr(services, "submission_enqueue", lambda submission_id, delay_s=0: None)
    user = user_make("pat")
    submission = services.submission_create(user=user, lab=lab, code="x = 1")
    client = Client()
    client.force_login(user)
    # what grade() and the harness send, in order (labs/grading/__init__.py, sandbox/harness.py)
    steps = [None, "claim", {"stage": "preparing"}, {"stage": "starting"}]
    steps += [{"stage": "timing the reference", "case": i, "of": 2, "name": f"b{i}"} for i in (1, 2)]
    steps += [{"stage": "running tests", "case": i, "of": 12, "name": f"t{i}"} for i in (1, 6, 12)]
    steps += [{"stage": "timing", "case": i, "of": 2, "name": f"b{i}"} for i in (1, 2)]
    steps += [{"stage": "scoring"}]
    seen = []
    for step in steps:
        if step == "claim":
            assert services.submission_claim(submission_id=submission.id)
        elif step:
            services.submission_progress(submission_id=submission.id, fields=step)
        for headers in ({}, {"HX-Request": "true"}):  # a refresh and a poll read the same
            page = client.get(f"/labs/submissions/{submission.id}/", headers=headers).content.decode()
            assert "Preparing: preparing" not in page and ": preparing" not in page
            seen.append(progress_on(page))
    values = [value for value, *_ in seen]
    assert values == sorted(values) and values[0] == 0 and values[-1] == 95
    words = list(dict.fromkeys(text for _, _, text, _ in seen))
    assert words == ["Queued", "Preparing the sandbox", "Starting the sandbox", "Timing the reference: case 1 of 2",
                     "Timing the reference: case 2 of 2", "Running the tests: case 1 of 12",
                     "Running the tests: case 6 of 12", "Running the tests: case 12 of 12",
                     "Timing your code: case 1 of 2", "Timing your code: case 2 of 2", "Scoring"]
    currents = list(dict.fromkeys(current for *_, current in seen))
    assert currents == ["queued", "preparing", "reference", "tests", "timing", "scoring"]
    # during the tests the bar is past every moment of the reference's timing
    reference = max(v for v, stage, _, _ in seen if stage == "reference")
    assert min(v for v, stage, _, _ in seen if stage == "tests") > reference


def test_the_bar_says_what_a_queued_submission_waits_for():
    assert grading_progress(status="queued", progress="waiting for your previous submission", held=True)["words"] \
        == "Waiting for your previous submission"
    again = grading_progress(status="queued", progress="queued again after a grader error")
    assert (again["words"], again["percent"]) == ("Queued again after a grader error", 0)
    steps = grading_progress(status="running", progress="running tests case 3 of 4")["steps"]
    assert [s["state"] for s in steps] == ["done", "done", "done", "current", "todo", "todo"]
