"""Lab analytics per lab and cohort (labs/analytics.py, /cohorts/<id>/labs/<slug>/): every number of a small
hand-built cohort computed by hand; the page for the cohort's instructor, and nothing of it for anyone else;
the cohort page's Labs section; a bounded number of queries at two cohort sizes (cohorts/demo.py), whose
lab submissions carry results of the grader's shape."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from content.labs import labs_root
from content.load import labs_sync
from labs.analytics import cohort_labs, failure_class, lab_cohort_analytics
from labs.grading.report import GradeReport
from labs.models import Lab, Submission
from tests.cohorts.demo_data import demo_cohorts
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# Messages as the real checks write them (from grade_lab runs of fixtures/labs/*/solutions/wrong, trimmed).
INT8_TIES = ("q is wrong in 5934 of 12336 codes checked:\n- tie (w / scale is exactly halfway): 5934 wrong, e.g. "
             "w[0, 0] = -0.609375 (float32 0xBF1C0000) in row 0 (scale 0.03125, zero point 20, w / scale = -19.5): "
             "expected 0, got 1. ties go to the even integer: round(2.5) = 2, round(3.5) = 4 (torch.round).")
FP8_ALL = ("encode_e4m3 is wrong on 126 of 65536 inputs, in these classes:\n- top binades (240 ≤ |x| ≤ 448): 6 of "
           "1794 wrong, e.g. x = 272.0 (float32 0x43880000): expected 0x78, got 0x79.\n- boundary 2^-6: 2 of 768 "
           "wrong, e.g. x = 0.0166015625: expected 0x08, got 0x09.")
GPTQ_RTN = ("codes match 77.1% of the reference's; layer error 116.5% above the reference's (needs ≥ 99% of codes "
            "equal and a layer error at most 0.5% above). Your codes match 100.0% of that mistake's: your codes are "
            "plain round-to-nearest: there is no error compensation.")
DTYPE = "quantize_int8_asym: q must have dtype torch.uint8, got torch.int32"


def test_the_class_is_the_first_class_line_of_the_message_or_none():
    assert failure_class(INT8_TIES) == "tie (w / scale is exactly halfway)"
    assert failure_class(FP8_ALL) == "top binades (240 ≤ |x| ≤ 448)"
    assert failure_class("A timed run gave a wrong result: " + INT8_TIES) == "tie (w / scale is exactly halfway)"
    assert failure_class(GPTQ_RTN) is None and failure_class(DTYPE) is None and failure_class("") is None


# ----------------------------------------------------------------------------- a hand-built cohort


def _case(name: str, passed: bool, message: str = "codes, zero points and dequantized values exact") -> dict:
    return {"name": name, "passed": passed, "message": message, "metrics": {}}


def _wrong(*cases: dict) -> dict:
    return GradeReport("wrong_answer", cases=list(cases), diagnostics="cases failed").as_json()


def _accepted(speedup: float | None) -> dict:
    return GradeReport("accepted", score=90.0, correct=True, speedup=speedup, diagnostics="All cases passed.",
                       cases=[_case("random-odd", True), _case("ties", True)]).as_json()


def _failed(verdict: str, diagnostics: str) -> dict:
    return GradeReport(verdict, diagnostics=diagnostics).as_json()


def submit(user: User, lab: Lab, hours: float, verdict: str, result: dict, *, status: str = "done",
           speed_review: str = "") -> Submission:
    s = Submission.objects.create(user=user, lab=lab, code="SECRET-CODE", status=status, verdict=verdict,
                                  result=result, speed_review=speed_review)
    Submission.objects.filter(pk=s.pk).update(created_at=T0 + dt.timedelta(hours=hours))
    return s


@pytest.fixture
def world():
    """Five students of one cohort on int8-asym (one without a submission), and what must not count: a
    student of another cohort, an account not enrolled, another lab."""
    labs_sync(root=labs_root())
    lab, other_lab = Lab.objects.get(slug="int8-asym"), Lab.objects.get(slug="fp8-e4m3")
    teacher = instructor_make("lab-teacher-q1")
    cohort = cohort_create(name="Lab cohort Q1", instructor=teacher)
    names = ["lab-ana-q1", "lab-ben-q1", "lab-cai-q1", "lab-dee-q1", "lab-eve-q1"]
    ana, ben, cai, dee, eve = (user_make(n) for n in names)
    for student in (ana, ben, cai, dee, eve):
        Enrolment.objects.create(cohort=cohort, student=student)
    # ana: a wrong answer (first failure: ties, a classified tie), a runtime error, then accepted at 1.5x
    submit(ana, lab, 0, "wrong_answer", _wrong(_case("random-odd", True), _case("ties", False, INT8_TIES),
                                                _case("ties-axis1", False, INT8_TIES)))
    submit(ana, lab, 1, "runtime_error", _failed("runtime_error", "On case ties:\nIndexError: boom"))
    submit(ana, lab, 3, "accepted", _accepted(1.5))
    # ben: accepted at once (0.4x), then again at 12x, above the plausible ceiling: flagged
    submit(ben, lab, 0, "accepted", _accepted(0.4))
    flagged = submit(ben, lab, 2, "accepted", _accepted(12.0), speed_review="needed")
    # cai: the same tie, then a dtype problem (no class), a time limit, one still queued: never accepted
    submit(cai, lab, 0, "wrong_answer", _wrong(_case("random-odd", True), _case("ties", False, INT8_TIES)))
    submit(cai, lab, 0.5, "wrong_answer", _wrong(_case("random-odd", False, DTYPE), _case("ties", False, DTYPE)))
    submit(cai, lab, 1, "time_limit", _failed("time_limit", "Time limit of 60 s exceeded on case ties."))
    submit(cai, lab, 5, "", {}, status="queued")
    # eve: a wrong answer whose result records no cases, then accepted 10 h later with no usable timing
    submit(eve, lab, 0, "wrong_answer", {"diagnostics": "graded before cases were recorded"})
    submit(eve, lab, 10, "accepted", _accepted(None))
    # not counted
    other_teacher = instructor_make("lab-other-teacher-q1")
    elsewhere = cohort_create(name="Elsewhere Q1", instructor=other_teacher)
    stranger, outsider = user_make("lab-stranger-q1"), user_make("lab-outsider-q1")
    Enrolment.objects.create(cohort=elsewhere, student=stranger)
    submit(stranger, lab, 0, "wrong_answer", _wrong(_case("single", False, GPTQ_RTN)))
    submit(outsider, lab, 0, "accepted", _accepted(3.0), speed_review="needed")
    submit(ana, other_lab, 0, "wrong_answer", _wrong(_case("all-fp16", False, FP8_ALL)))
    return {"cohort": cohort, "lab": lab, "teacher": teacher, "other_teacher": other_teacher, "names": names,
            "ana": ana, "flagged": flagged}


def test_the_numbers_of_a_hand_built_cohort(world):
    a = lab_cohort_analytics(cohort=world["cohort"], lab=world["lab"])
    assert (a["enrolled"], a["submissions"], a["finished"], a["in_progress"], a["accepted"]) == (5, 11, 10, 1, 4)
    assert a["share_accepted"] == pytest.approx(0.4)
    assert [(v["verdict"], v["count"]) for v in a["verdicts"]] == [
        ("accepted", 4), ("wrong_answer", 4), ("time_limit", 1), ("runtime_error", 1)]
    assert [(f["case"], f["klass"], f["submissions"], f["students"]) for f in a["failures"]] == [
        ("ties", "tie (w / scale is exactly halfway)", 2, 2), ("random-odd", None, 1, 1)]
    assert a["failures"][1]["example"] == DTYPE and a["failures"][0]["example"] is None
    assert [(v["verdict"], v["count"]) for v in a["no_case"]] == [
        ("wrong_answer", 1), ("time_limit", 1), ("runtime_error", 1)]
    assert [b["count"] for b in a["histogram"]] == [1, 0, 1, 0, 0, 1] and a["untimed"] == 1
    assert [b["label"] for b in a["histogram"]] == ["< 0.5×", "0.5–1×", "1–2×", "2–4×", "4–8×", "≥ 8×"]
    # tries to the first accept: ana 3, ben 1, eve 2; time: 3 h, 0, 10 h
    assert (a["students_tried"], a["students_accepted"], a["median_tries"]) == (4, 3, 2)
    assert a["median_to_accept_s"] == 3 * 3600 and a["median_to_accept"] == "3.0 h"
    assert a["never_submitted"] == ["lab-dee-q1"]
    assert a["no_accept"] == [{"username": "lab-cai-q1", "submissions": 4}]
    assert [(s["id"], s["username"], s["speedup"]) for s in a["flagged"]] == [(world["flagged"].id, "lab-ben-q1", 12.0)]
    assert a["chart"] == {"verdicts": {"labels": ["Accepted", "Wrong Answer", "Time Limit", "Runtime Error"],
                                       "counts": [4, 4, 1, 1]},
                          "speedups": {"labels": [b["label"] for b in a["histogram"]], "counts": [1, 0, 1, 0, 0, 1]}}


def test_an_empty_lab_has_no_shares_or_medians(world):
    a = lab_cohort_analytics(cohort=world["cohort"], lab=Lab.objects.get(slug="gptq"))
    assert (a["submissions"], a["share_accepted"], a["median_tries"], a["median_to_accept"]) == (0, None, None, "—")
    assert a["never_submitted"] == world["names"] and a["verdicts"] == [] and a["failures"] == []


def test_the_cohort_labs_index_counts_students(world):
    rows = {r["slug"]: r for r in cohort_labs(cohort=world["cohort"])}
    assert set(rows) == set(Lab.objects.values_list("slug", flat=True))
    assert (rows["int8-asym"]["accepted"], rows["int8-asym"]["attempted"]) == (3, 4)
    assert (rows["fp8-e4m3"]["accepted"], rows["fp8-e4m3"]["attempted"]) == (0, 1)
    assert (rows["gptq"]["accepted"], rows["gptq"]["attempted"]) == (0, 0)


# ----------------------------------------------------------------------------- the page


class Tables(HTMLParser):
    """Each table's rows (by the table's id) as lists of cell texts, and every script tag's attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts: list[dict] = []
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))
        elif tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_the_instructor_sees_the_numbers_without_javascript(world):
    url = reverse("cohort_lab", args=[world["cohort"].id, "int8-asym"])
    response = _client(world["teacher"]).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    page = Tables(html)
    summary = dict((row[0], row[1]) for row in page.tables["lab-summary"])
    assert summary["Submissions"] == "11 (1 not graded yet)"
    assert summary["Accepted"] == "4 of 10 graded (40%)"
    assert summary["Median tries to the first accept"] == "2"
    assert summary["Median time from the first submission to the first accept"] == "3.0 h"
    assert page.tables["verdict-mix"][1:] == [["Accepted", "4"], ["Wrong Answer", "4"], ["Time Limit", "1"],
                                              ["Runtime Error", "1"]]
    assert page.tables["speedup-histogram"][1:] == [["< 0.5×", "1"], ["0.5–1×", "0"], ["1–2×", "1"], ["2–4×", "0"],
                                                    ["4–8×", "0"], ["≥ 8×", "1"], ["not timed", "1"]]
    assert page.tables["first-failures"][1:] == [
        ["ties", "tie (w / scale is exactly halfway)", "2", "2"],
        ["random-odd", f"not named; the message begins: {DTYPE}", "1", "1"]]
    assert page.tables["no-case"][1:] == [["Wrong Answer", "1"], ["Time Limit", "1"], ["Runtime Error", "1"]]
    assert page.tables["flagged"][1:] == [[str(world["flagged"].id), "lab-ben-q1", "12.0×",
                                           (T0 + dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")]]
    flagged_page = reverse("cohort_submission", args=[world["cohort"].id, world["flagged"].id])
    assert reverse("labs:speed_reviews") in html and f'href="{flagged_page}"' in html
    # the latest submissions, newest first, each linked to the instructor's submission page
    latest = page.tables["latest-submissions"][1:]
    at = [(T0 + dt.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M") for h in (10, 5)]
    assert len(latest) == 11 and [row[1:] for row in latest[:2]] == [["lab-eve-q1", at[0], "Accepted", ""],
                                                                    ["lab-cai-q1", at[1], "Queued", ""]]  # in words
    newest = Submission.objects.filter(user__username="lab-eve-q1", verdict="accepted").get()
    assert f'href="{reverse("cohort_submission", args=[world["cohort"].id, newest.id])}"' in html
    assert re.search(r'<ul id="never-submitted"><li>lab-dee-q1</li></ul>', html)
    assert "lab-cai-q1 <span class=\"muted\">(4 submissions)</span>" in html
    # the charts: their data as JSON, a static script, no inline code; hidden until the script draws them
    chart = json.loads(re.search(r'<script id="lab-chart-data" type="application/json">(.*?)</script>', html).group(1))
    assert chart["verdicts"]["counts"] == [4, 4, 1, 1] and chart["speedups"]["counts"] == [1, 0, 1, 0, 0, 1]
    assert all(s.get("src") or s.get("type") == "application/json" for s in page.scripts)
    assert any(s.get("src", "").endswith("js/lab_analytics.js") for s in page.scripts)
    assert html.count('<figure class="card chart" hidden>') == 2
    # nothing of another cohort, no code
    assert "lab-stranger-q1" not in html and "lab-outsider-q1" not in html and "SECRET-CODE" not in html


def test_an_unknown_lab_is_404(world):
    url = reverse("cohort_lab", args=[world["cohort"].id, "no-such-lab"])
    assert _client(world["teacher"]).get(url).status_code == 404


@pytest.mark.parametrize("who, status", [("other instructor", 404), ("student", 403), ("anonymous", 302)])
def test_nobody_else_sees_the_page_or_its_names(world, who, status):
    user = {"other instructor": world["other_teacher"], "student": world["ana"], "anonymous": None}[who]
    url = reverse("cohort_lab", args=[world["cohort"].id, "int8-asym"])
    response = _client(user).get(url)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(reverse("login"))
    body = response.content.decode()
    # the 403 page has the site's header, with the viewer's own name in it: no one else's
    assert not [name for name in world["names"] if name in body and name != getattr(user, "username", None)]
    assert world["cohort"].name not in body


def test_a_superuser_sees_every_cohort(world):
    admin = User.objects.create_superuser("lab-admin-q1", password="x-long-password")
    url = reverse("cohort_lab", args=[world["cohort"].id, "int8-asym"])
    assert _client(admin).get(url).status_code == 200


def test_the_cohort_page_links_each_lab_with_its_counts(world):
    html = _client(world["teacher"]).get(reverse("cohort", args=[world["cohort"].id])).content.decode()
    rows = {row[0]: row[1:] for row in Tables(html).tables["labs-index"][1:]}
    int8 = Lab.objects.get(slug="int8-asym")
    assert rows[int8.title] == ["3", "4 of 5"]
    assert reverse("cohort_lab", args=[world["cohort"].id, "int8-asym"]) in html
    assert f'href="{reverse("cohort", args=[world["cohort"].id])}#labs">Labs</a>' in html


# ----------------------------------------------------------------------------- two sizes of demo cohort

SMALL = {"students": 4, "quizzes": 1, "seed": 31}
LARGE = {"students": 30, "quizzes": 1, "seed": 32}
MOST_QUERIES = 16  # measured: 15 (session, user, the role thrice, cohort, lab, the selector's seven, the sandbox banner)


@pytest.fixture(scope="module")
def demos(django_db_setup, django_db_blocker):
    """The content and two demo cohorts, made once for these tests in a transaction rolled back at the end."""
    with demo_cohorts(django_db_blocker, small=SMALL, large=LARGE) as made:
        yield made


def _busiest_lab(made: dict) -> str:
    """The lab with the most submissions of the cohort (so the page has something in every section)."""
    rows = (Submission.objects.filter(user__enrolments__cohort_id=made["cohort_id"]).values_list("lab__slug")
            .order_by().annotate(n=Count("id")))
    return max(rows, key=lambda r: (r[1], r[0]))[0]


def test_the_page_makes_the_same_bounded_number_of_queries_at_both_sizes(demos, django_assert_max_num_queries):
    made_counts = {}
    for size in ("small", "large"):
        made = demos[size]
        client = _client(User.objects.get(username=made["instructor"]))
        url = reverse("cohort_lab", args=[made["cohort_id"], _busiest_lab(made)])
        assert client.get(url).status_code == 200  # warm-up: per-process caches do not count
        with django_assert_max_num_queries(MOST_QUERIES) as captured:
            response = client.get(url)
        assert response.status_code == 200
        made_counts[size] = len(captured)
        # no submission's code, nor a lab's statement or starter, is read
        assert not [q for q in captured.captured_queries if re.search(r'"(code|statement|starter)"', q["sql"])]
    assert made_counts["small"] == made_counts["large"], made_counts


def test_the_demo_results_have_the_graders_shape(demos):
    """Cases by the lab's own names, the first failure with a class where the lab's check names one, a
    speedup (or none) for an accepted one, speed review needed exactly above the plausible ceiling."""
    subs = list(Submission.objects.filter(user__enrolments__cohort_id=demos["large"]["cohort_id"])
                .select_related("lab").order_by("id"))
    assert subs and {s.verdict for s in subs} >= {"accepted", "wrong_answer"}
    for s in subs:
        assert set(s.result) == {"verdict", "score", "correct", "cases", "speedup", "diagnostics", "wall_s", "timings"}
        assert s.result["verdict"] == s.verdict and s.result["score"] == s.score
        names = [c["name"] for c in s.lab.cases["tests"]]
        if s.verdict == "wrong_answer":
            assert [c["name"] for c in s.result["cases"]] == names
            first = next(c for c in s.result["cases"] if not c["passed"])
            assert (failure_class(first["message"]) is not None) == (s.lab.slug in ("fp8-e4m3", "int8-asym", "nvfp4"))
        elif s.verdict == "accepted":
            assert all(c["passed"] for c in s.result["cases"])
            assert s.score >= s.lab.config["points"] - s.lab.config["speed_points"]
            speedup = s.result["speedup"]
            assert (s.speed_review == "needed") == (speedup is not None and speedup > 10)
        else:
            assert s.result["cases"] == [] and "on case" in s.result["diagnostics"].lower()
    assert any(s.speed_review == "needed" for s in subs)
    assert any(s.result["speedup"] is None for s in subs if s.verdict == "accepted")
