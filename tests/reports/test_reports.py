"""Problem reports through real requests: a learner reports from a question page, a quiz review or a drill
card and reads only their own reports; text length and a rate limit bound what is sent; the queue is for
instructors and content authors, who answer, mark fixed (where: a commit, an errata anchor or a URL) or
decline; during a learner's running exam the answers on its questions are withheld."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client, override_settings
from django.utils import timezone

from content.catalogue import card_questions_sync
from drills.models import Card, Deck
from quizzes.models import Question, Quiz
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit
from reports.models import TEXT_MAX, ProblemReport
from reports.services import ReportRefused, fixed_in_clean, heading_anchor, report_create, report_respond
from tests.factories import instructor_make, question_make, user_make

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def question():
    return question_make()


@pytest.fixture
def learner():
    return user_make("lena")


@pytest.fixture
def teacher():
    return instructor_make("tess")


def report_for(user, question, text="Part a's key is off by a factor 2.", **kw) -> ProblemReport:
    return report_create(reporter=user, where=ProblemReport.Where.QUESTION, question=question, text=text, **kw)


# ----------------------------------------------------------------------------- learners


def test_a_learner_reports_from_the_question_page_and_reads_the_confirmation(question, learner):
    client = client_for(learner)
    page = client.get(f"/questions/{question.slug}/").content.decode()
    assert f'href="/reports/new/question/{question.slug}/"' in page and "Report a problem with this question" in page
    form = client.get(f"/reports/new/question/{question.slug}/")
    assert form.status_code == 200 and 'name="text"' in form.content.decode() and 'name="part"' in form.content.decode()
    part_b = question.parts.get(key="b")
    sent = client.post(f"/reports/new/question/{question.slug}/",
                       {"text": "The dequantization should be s*(q - z).", "part": str(part_b.id)}, follow=True)
    report = ProblemReport.objects.get()
    assert sent.redirect_chain[-1][0] == f"/reports/{report.id}/"
    body = sent.content.decode()
    assert "your report was sent" in body and "Waiting for an answer" in body
    assert (report.reporter, report.question, report.part, report.where, report.status) == (
        learner, question, part_b, "question", "open")
    assert question.body in report.snapshot and "Part b: The affine dequantization" in report.snapshot
    assert len(report.content_hash) == 64
    # shown on the question page, and on My reports
    page = client.get(f"/questions/{question.slug}/").content.decode()
    assert "Your reports on this question" in page and "should be s*(q - z)" in page
    assert "should be s*(q - z)" in client.get("/reports/").content.decode()


def test_a_report_needs_text_and_at_most_2000_characters(question, learner):
    client = client_for(learner)
    url = f"/reports/new/question/{question.slug}/"
    assert client.post(url, {"text": "   "}).status_code == 400
    too_long = client.post(url, {"text": "x" * (TEXT_MAX + 1)})
    assert too_long.status_code == 400 and f"at most {TEXT_MAX} characters" in too_long.content.decode()
    assert not ProblemReport.objects.exists()
    assert client.post(url, {"text": "x" * TEXT_MAX}).status_code == 302
    with pytest.raises(ReportRefused):
        report_for(learner, question, text="y" * (TEXT_MAX + 1))


def test_a_part_of_another_question_is_refused(question, learner):
    other = question_make("other-q")
    with pytest.raises(ReportRefused):
        report_for(learner, question, part=other.parts.first())
    response = client_for(learner).post(f"/reports/new/question/{question.slug}/",
                                        {"text": "wrong", "part": str(other.parts.first().id)})
    assert response.status_code == 400 and not ProblemReport.objects.exists()


@override_settings(PROBLEM_REPORTS_PER_HOUR=3)
def test_reports_are_rate_limited_per_learner(question, learner):
    client = client_for(learner)
    url = f"/reports/new/question/{question.slug}/"
    for i in range(3):
        assert client.post(url, {"text": f"problem {i}"}).status_code == 302
    refused = client.post(url, {"text": "one more"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "more than 3 reports in an hour" in refused.content.decode() and "one more" in refused.content.decode()
    assert ProblemReport.objects.count() == 3
    assert client_for(user_make("otto")).post(url, {"text": "mine"}).status_code == 302  # per learner


def test_a_learner_sees_only_their_own_reports(question, learner):
    mine = report_for(learner, question, text="mine: a typo")
    theirs = report_for(user_make("otto"), question, text="theirs: secret")
    client = client_for(learner)
    assert client.get(f"/reports/{theirs.id}/").status_code == 404
    assert client.get(f"/reports/{mine.id}/").status_code == 200
    listing = client.get("/reports/").content.decode()
    assert "mine: a typo" in listing and "theirs: secret" not in listing
    page = client.get(f"/questions/{question.slug}/").content.decode()
    assert "mine: a typo" in page and "theirs: secret" not in page


def test_a_question_kept_private_cannot_be_reported_from_the_bank(question, learner):
    Quiz.objects.create(slug="secret", title="Secret", question_slugs=[question.slug], private_until_close=True,
                        closes_at=timezone.now() + timezone.timedelta(days=1))
    assert client_for(learner).get(f"/reports/new/question/{question.slug}/").status_code == 404
    assert client_for(learner).post(f"/reports/new/question/{question.slug}/", {"text": "x"}).status_code == 404


def test_a_learner_reports_from_their_quiz_review(question, learner):
    other_q = question_make("other-q")
    quiz = Quiz.objects.create(slug="q1", title="Quiz one", question_slugs=[question.slug])
    attempt = attempt_submit(attempt=attempt_start(user=learner, quiz=quiz))
    client = client_for(learner)
    review = client.get(f"/attempts/{attempt.id}/review/").content.decode()
    url = f"/reports/new/attempt/{attempt.id}/{question.id}/"
    assert f'href="{url}"' in review
    assert client.get(url).status_code == 200
    assert client.post(url, {"text": "The prompt's formula misses a factor."}).status_code == 302
    report = ProblemReport.objects.get()
    assert (report.where, report.attempt, report.question) == ("review", attempt, question)
    assert client.get(f"/reports/new/attempt/{attempt.id}/{other_q.id}/").status_code == 404  # not in it
    assert client_for(user_make("otto")).get(url).status_code == 404  # not their attempt


def test_a_learner_reports_a_drill_card_with_or_without_a_mirror_question(learner):
    deck = Deck.objects.create(slug="d", title="D")
    plain = Card.objects.create(deck=deck, key="c0", guid="g0", front="Why per-channel?", back="Outliers.")
    graded = Card.objects.create(deck=deck, key="c1", guid="g1", front="7?", back="7",
                                 answer={"kind": "numeric", "answer": 7})
    card_questions_sync()
    client = client_for(learner)
    drills = client.get("/drills/?deck=d").content.decode()
    assert "Report a problem with this card" in drills
    assert client.post(f"/reports/new/card/{plain.id}/", {"text": "The back is too terse."}).status_code == 302
    assert client.post(f"/reports/new/card/{graded.id}/", {"text": "Should be 8."}).status_code == 302
    first, second = ProblemReport.objects.order_by("id")
    assert (first.where, first.card, first.question, first.subject) == ("card", plain, None, "d/c0")
    assert second.question == Question.objects.get(group="drills") and "7?" in second.snapshot
    assert client.get("/reports/new/card/999999/").status_code == 404


# ----------------------------------------------------------------------------- the staff


def test_the_queue_is_for_instructors_and_content_authors_only(question, learner, teacher):
    report = report_for(learner, question)
    assert Client().get("/reports/queue/").status_code == 302  # to the login
    learner_client = client_for(learner)
    assert learner_client.get("/reports/queue/").status_code == 403
    assert learner_client.get(f"/reports/queue/{report.id}/").status_code == 403
    assert learner_client.post(f"/reports/queue/{report.id}/", {"action": "answer", "answer": "x"}).status_code == 403
    assert 'href="/reports/queue/"' not in learner_client.get("/").content.decode()
    home = client_for(teacher).get("/").content.decode()
    assert 'href="/reports/queue/"' in home
    author = user_make("ada")
    author.is_staff = True
    author.save()
    for staff in (teacher, author):
        page = client_for(staff).get("/reports/queue/")
        assert page.status_code == 200 and "Part a&#x27;s key is off" in page.content.decode()
    with pytest.raises(PermissionDenied):
        report_respond(report=report, actor=learner, action="answer", answer="x")


def test_the_queue_shows_the_current_question_and_the_text_at_report_time(question, learner, teacher):
    report = report_for(learner, question, part=question.parts.get(key="a"))
    client = client_for(teacher)
    page = client.get("/reports/queue/").content.decode()
    assert "n_{layers} = 32" in page and "the part reported" in page and "Key:" in page
    assert "changed since the report" not in page
    Question.objects.filter(pk=question.pk).update(body="With 40 layers and d = 5120, how large is the KV cache?")
    page = client.get("/reports/queue/").content.decode()
    assert "40 layers" in page and "changed since the report" in page
    assert "The text when it was reported" in page and "n_{layers} = 32" in page
    report.refresh_from_db()
    assert report.status == "open"


def test_open_reports_come_first_and_the_queue_filters_by_status(question, learner, teacher):
    old = report_for(learner, question, text="first, answered")
    report_respond(report=old, actor=teacher, action="answer", answer="Thanks.")
    new = report_for(learner, question, text="second, open")
    client = client_for(teacher)
    page = client.get("/reports/queue/").content.decode()
    assert page.index(f'id="report-{new.id}"') < page.index(f'id="report-{old.id}"')
    assert "Open (1)" in page and "Answered (1)" in page
    only_open = client.get("/reports/queue/?status=open").content.decode()
    assert f'id="report-{new.id}"' in only_open and f'id="report-{old.id}"' not in only_open


def test_an_instructor_answers_marks_fixed_and_declines(question, learner, teacher):
    report = report_for(learner, question)
    client = client_for(teacher)
    url = f"/reports/queue/{report.id}/"
    assert client.post(url, {"action": "answer", "answer": ""}).status_code == 400  # an answer needs a text
    done = client.post(url, {"action": "answer", "answer": "Good catch: checking.", "next": "/reports/queue/?status=open"})
    assert done.status_code == 302 and done.url == f"/reports/queue/?status=open#report-{report.id}"
    report.refresh_from_db()
    assert (report.status, report.answer, report.answered_by) == ("answered", "Good catch: checking.", teacher)
    assert report.answered_at is not None
    refused = client.post(url, {"action": "fixed", "fixed_in": "not a commit"})
    assert refused.status_code == 400 and "commit hash" in refused.content.decode()
    assert client.post(url, {"action": "fixed", "fixed_in": "ABCDEF1234"}).status_code == 302
    report.refresh_from_db()
    assert (report.status, report.fixed_in, report.answer) == ("fixed", "abcdef1234", "Good catch: checking.")
    mine = client_for(learner).get("/reports/").content.decode()
    assert "Fixed in commit <code>abcdef1234</code>" in mine and "Good catch: checking." in mine
    # declining asks for a reason unless an answer was already sent; the fix's link goes
    other = report_for(learner, question, text="I think 4096 is wrong")
    assert client.post(f"/reports/queue/{other.id}/", {"action": "declined"}).status_code == 400
    assert client.post(f"/reports/queue/{other.id}/", {"action": "declined", "answer": "4096 is LLaMA-7B's d."}) \
        .status_code == 302
    other.refresh_from_db()
    assert other.status == "declined" and other.fixed_in == ""
    assert "4096 is LLaMA-7B&#x27;s d." in client_for(learner).get(f"/reports/{other.id}/").content.decode()


def test_the_return_address_stays_in_the_queue(question, learner, teacher):
    report = report_for(learner, question)
    done = client_for(teacher).post(f"/reports/queue/{report.id}/",
                                    {"action": "answer", "answer": "ok", "next": "https://evil.example/"})
    assert done.url == f"/reports/queue/#report-{report.id}"


def test_report_and_answer_are_plain_text_escaped(question, learner, teacher):
    report = report_for(learner, question, text="<script>alert(1)</script> **bold**")
    report_respond(report=report, actor=teacher, action="answer", answer="<img src=x onerror=alert(2)>")
    queue = client_for(teacher).get("/reports/queue/").content.decode()
    mine = client_for(learner).get("/reports/").content.decode()
    for page in (queue, mine):
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; **bold**" in page
    assert "<img src=x" not in mine and "&lt;img src=x onerror=alert(2)&gt;" in mine


# ----------------------------------------------------------------------------- fixed_in


@pytest.mark.parametrize("value, clean", [
    ("abc1234", "abc1234"), ("A" * 40, "a" * 40), (" 0123456789abcdef ", "0123456789abcdef"),
    ("docs/errata.md#fp8-fp4-and-block-formats-8", "docs/errata.md#fp8-fp4-and-block-formats-8"),
    ("errata#quantization-basics-2", "docs/errata.md#quantization-basics-2"),
    ("https://github.com/o/r/commit/abc1234", "https://github.com/o/r/commit/abc1234"),
    ("http://example.org/errata", "http://example.org/errata"),
])
def test_fixed_in_takes_a_commit_an_errata_anchor_or_a_url(value, clean):
    assert fixed_in_clean(value) == clean


@pytest.mark.parametrize("value", ["", "abc123", "a" * 41, "abcdefg", "docs/errata.md#no-such-heading",
                                   "javascript:alert(1)", "ftp://example.org/x", "https://", "x" * 301,
                                   "see the errata"])
def test_fixed_in_refuses_anything_else(value):
    with pytest.raises(ValidationError):
        fixed_in_clean(value)


def test_heading_anchors_follow_github():
    assert heading_anchor("FP8, FP4 and block formats (§8)") == "fp8-fp4-and-block-formats-8"
    assert heading_anchor("INT8 GEMMs and mixed precision (§3, §12 Q15, Q19)") == \
        "int8-gemms-and-mixed-precision-3-12-q15-q19"


# ----------------------------------------------------------------------------- exam mode


def test_answers_on_a_running_exams_questions_are_withheld_until_it_is_submitted(question, learner, teacher):
    report = report_for(learner, question, text="Is the key in KB or KiB?")
    report_respond(report=report, actor=teacher, action="fixed", answer="KB: 131.072.", fixed_in="abc1234")
    quiz = Quiz.objects.create(slug="midterm", title="Midterm", question_slugs=[question.slug], time_limit_s=1800)
    attempt = attempt_start(user=learner, quiz=quiz)
    client = client_for(learner)
    for url in (f"/questions/{question.slug}/", "/reports/", f"/reports/{report.id}/"):
        page = client.get(url).content.decode()
        assert "Is the key in KB or KiB?" in page, url
        assert "131.072" not in page and "abc1234" not in page and "still running" in page, url
    # reporting during the exam is fine, and says nothing back either
    assert client.post(f"/reports/new/question/{question.slug}/", {"text": "during"}).status_code == 302
    other = client_for(user_make("otto"))  # another learner's own view is not affected by lena's exam
    assert "131.072" not in other.get("/reports/").content.decode()  # (nor do they see lena's report)
    answer_save(attempt=attempt, part_id=question.parts.first().id, answer="131")
    attempt_submit(attempt=attempt)
    page = client.get(f"/questions/{question.slug}/").content.decode()
    assert "131.072" in page and "abc1234" in page


def test_a_card_report_is_withheld_while_its_mirror_is_in_a_running_exam(learner, teacher):
    deck = Deck.objects.create(slug="d", title="D")
    card = Card.objects.create(deck=deck, key="c1", guid="g1", front="7?", back="7",
                               answer={"kind": "numeric", "answer": 7})
    report = report_create(reporter=learner, where="card", card=card, text="Is it 7?")  # no mirror yet
    report_respond(report=report, actor=teacher, action="answer", answer="Yes, seven.")
    card_questions_sync()
    mirror = Question.objects.get(group="drills")
    attempt = attempt_start(user=learner, quiz=Quiz.objects.create(
        slug="card-exam", title="Card exam", question_slugs=[mirror.slug], time_limit_s=600))
    assert "Yes, seven." not in client_for(learner).get("/reports/").content.decode()
    attempt_submit(attempt=attempt)
    assert "Yes, seven." in client_for(learner).get("/reports/").content.decode()
