"""Stored XSS and the Content-Security-Policy, through real requests: a hostile quiz description written by
an instructor reaches a learner with none of its script vectors; an imported Anki deck's fields are cleaned
on the way in; every kind of response carries the policy."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from drills.anki import Note, import_notes
from drills.models import Card
from quizzes.models import Question, Quiz
from quizzes.templatetags.mathdown import mathdown
from tests.factories import instructor_make, user_make

pytestmark = pytest.mark.django_db

HOSTILE = """Read **carefully**: $x_1 < y$ and [the paper](https://arxiv.org/abs/2210.17323).

<script>alert('script')</script>
<img src=x onerror="alert('img')">
<svg onload="alert('svg')"><circle r=1></circle></svg>
<iframe src="https://example.com/"></iframe>
<a href="javascript:alert('link')">click</a> [md link](javascript:alert('md')) <a href="JaVaScRiPt:alert(1)">x</a>
<object data="x.swf"></object><embed src="x"><form action="/x"><input name=a></form>
<p style="background:url(javascript:alert(1))" onclick="alert('p')">styled</p>
<math><mi xlink:href="javascript:alert(1)">m</mi></math>
"""
VECTORS = re.compile(r"<script|onerror|onload|onclick|<iframe|javascript:|<svg|<object|<embed|<form|<input|<math|style=",
                     re.I)


def test_a_hostile_quiz_description_reaches_the_learner_without_a_script_vector():
    teacher, student = instructor_make("mallory"), user_make("lea")
    cohort = cohort_create(name="C", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=student)
    Question.objects.create(slug="q1", title="Q", body="b")
    quiz = Quiz.objects.create(slug="hostile", title="Hostile", description=HOSTILE, question_slugs=["q1"],
                               cohort=cohort, created_by=teacher)
    client = Client()
    client.force_login(student)
    page = client.get(f"/quizzes/{quiz.slug}/").content.decode()
    description = page[page.index("Read <strong>carefully</strong>"):page.index("styled") + 20]
    assert not VECTORS.search(description), VECTORS.search(description)
    assert '<a href="https://arxiv.org/abs/2210.17323" rel="noopener noreferrer">the paper</a>' in description
    assert "$x_1 &lt; y$" in description  # the math is left for KaTeX, escaped
    assert "click" in description and "styled" in description  # the text stays, the vectors go


@pytest.mark.parametrize("payload", ["<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>", "<scr<script>ipt>alert(1)</script>",
                                     "<a href=' javascript:alert(1)'>a</a>", "<a href='&#106;avascript:alert(1)'>a</a>",
                                     "<iframe srcdoc='<script>alert(1)</script>'>", "[a](vbscript:msgbox(1))",
                                     "<details open ontoggle=alert(1)>", "<base href='https://evil.example/'>"])
def test_the_usual_filter_evasions_leave_nothing_that_runs(payload):
    out = str(mathdown(payload))
    assert not re.search(r"<(script|img|svg|iframe|details|base)|on[a-z]+=|javascript:|vbscript:", out, re.I), out


def test_imported_anki_fields_are_cleaned_on_the_way_in_and_keep_their_math():
    import_notes(deck_slug="imported", notes=[Note(front='What is $a<b$? <img src=x onerror="alert(1)">',
                                                    back="<b>Yes</b><script>alert(2)</script>", tags=[], guid="g1")])
    card = Card.objects.get(guid="g1")
    assert card.front == "What is $a<b$? " and card.back == "<b>Yes</b>"


@pytest.mark.parametrize("url", ["/login/", "/register/", "/questions/", "/api/openapi.json", "/api/docs",
                                 "/admin/login/", "/no-such-page/", "/cohorts/"])
def test_every_kind_of_response_carries_the_policy(client, url):
    response = client.get(url)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_a_csv_export_and_a_logged_in_page_carry_it_too(client):
    teacher = instructor_make("ivy")
    cohort = cohort_create(name="C", instructor=teacher)
    client.force_login(teacher)
    for url in (f"/cohorts/{cohort.id}/", f"/cohorts/{cohort.id}/responses.csv", "/quizzes/", "/labs/"):
        assert "script-src 'self'" in client.get(url).headers["Content-Security-Policy"], url


def test_no_template_has_an_inline_script_or_handler():
    """What the policy would block: a <script> without src, or an on...= attribute, in any template."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("templates/**/*.html"), *root.glob("*/templates/**/*.html")]:
        text = path.read_text()
        for m in re.finditer(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", text):
            offenders.append(f"{path.relative_to(root)}: {m.group(0)}")
        for m in re.finditer(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(root)}: {m.group(0)}")
    assert offenders == []
