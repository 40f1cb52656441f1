"""Layout and a home (issue #18 item 5), in a real browser: a visitor lands on a page that says what QuantPrep is
and registers from it; a learner's home shows where they left off (the running attempt, the lab draft, the last
question), their drill cards to review, the quizzes open to them and their recent lab verdicts, none of another
learner's; the question bank is searched and filtered by tier and tag through a plain GET form; a choice's input
sits on its label's line. On every page, at widths from 1280 down to 360 px: nothing wider than the screen, and
the header's links (Drills and Log out among them) all on the screen. No CSP violation, no error response, no native dialog.
Screenshots at 1280 and 390 px go to tests/artifacts/home-*-1280.png and -390.png."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from drills.models import Card, Deck, ReviewState, State
from labs.models import Lab, LabDraft, Submission
from quizzes.models import Quiz, Response
from quizzes.services.attempts import attempt_start
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.e2e.test_quiz_browser import choice_question_make
from tests.factories import PASSWORD, instructor_make, question_make, user_make

SHOT_WIDTHS = (1280, 390)
CHECKED_WIDTHS = (1280, 1024, 700, 390, 360)  # 700: too narrow for an instructor's header on one line
HEADER_CONTROLS = """() => [...document.querySelectorAll('header a, header button')].map(e => {
  const r = e.getBoundingClientRect(); return {text: e.textContent.trim(), left: r.left, right: r.right,
  visible: r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'}; })"""


def look(page, name: str) -> None:
    """Screenshots at 1280 and 390 px; at every width down to 360 px nothing is wider than the screen and every
    link and button of the header is visible and on the screen."""
    for width in CHECKED_WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        if width in SHOT_WIDTHS:
            page.screenshot(path=str(ARTIFACTS / f"home-{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, (name, width)
        for control in page.evaluate(HEADER_CONTROLS):
            assert control["visible"] and control["left"] >= 0 and control["right"] <= width, (name, width, control)
    page.set_viewport_size({"width": SHOT_WIDTHS[0], "height": 900})


def header_texts(page) -> list[str]:
    return [c["text"] for c in page.evaluate(HEADER_CONTROLS)]


def learner_work(user, tag: str) -> dict:
    """A learner's work in progress, titled with ``tag``: a running timed attempt, a lab draft, a checked answer,
    a wrong and an accepted submission, and two drill cards due."""
    question = question_make(f"kv-{tag}")
    question.title = f"KV cache question {tag}"
    question.save()
    running = Quiz.objects.create(slug=f"running-{tag}", title=f"Running quiz {tag}", time_limit_s=1800,
                                  question_slugs=[question.slug])
    attempt = attempt_start(user=user, quiz=running, practice=False)
    draft_lab = Lab.objects.create(slug=f"draft-lab-{tag}", title=f"Draft lab {tag}", statement="Quantize.",
                                   starter="def f(x):\n    pass\n")
    LabDraft.objects.create(user=user, lab=draft_lab, code="# half done")
    Response.objects.create(user=user, part=question.parts.get(key="a"), answer="500", correct=False)
    graded_lab = Lab.objects.create(slug=f"graded-lab-{tag}", title=f"Graded lab {tag}", statement="Encode.",
                                    starter="def f(x):\n    pass\n")
    for verdict, score in ((Submission.Verdict.WRONG_ANSWER, 0.0), (Submission.Verdict.ACCEPTED, 87.5)):
        Submission.objects.create(user=user, lab=graded_lab, code="x = 1", status=Submission.Status.DONE,
                                  verdict=verdict, score=score)
    deck = Deck.objects.create(slug=f"facts-{tag}", title=f"Facts {tag}")
    for i in range(2):
        card = Card.objects.create(deck=deck, key=f"{tag}-{i}", guid=f"{tag}-{i}", order=i, front="Q", back="A")
        due = timezone.now() - timedelta(hours=1)
        ReviewState.objects.create(user=user, card=card, state=State.REVIEW, due=due, stability=3.0, difficulty=5.0,
                                   last_review=due - timedelta(days=3))
    return {"attempt": attempt, "question": question, "draft_lab": draft_lab}


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_a_visitor_reads_the_landing_page_registers_and_signs_in(web_server):
    with chromium_page() as (page, errors):
        page.goto(web_server + "/")
        assert page.inner_text("h1") == "Get ready for LLM quantization interviews"
        features = page.inner_text(".landing-features")
        for words in ("Timed quizzes", "Drill cards", "spaced repetition", "Anki", "Coding labs", "sandbox"):
            assert words in features
        assert header_texts(page) == ["QuantPrep", "Log in", "Create an account"]
        look(page, "landing")

        page.click("#landing-register")
        page.wait_for_url(web_server + "/register/")
        look(page, "register")
        page.fill("#id_username", "newcomer")
        page.fill("#id_password1", PASSWORD)
        page.fill("#id_password2", PASSWORD)
        page.click("main button:has-text('Create account')")
        page.wait_for_url(web_server + "/")
        assert page.inner_text("h1") == "Welcome, newcomer"
        assert "Nothing in progress yet" in page.inner_text("#continue")
        assert "No lab submitted yet" in page.inner_text("#recent-verdicts")
        look(page, "new-learner")

        page.click("header button:has-text('Log out')")
        page.wait_for_url(re.compile(r".*/login/$"))
        page.goto(web_server + "/")
        page.click("header a:has-text('Log in')")
        page.wait_for_url(re.compile(r".*/login/$"))
        look(page, "login")
        assert page.get_attribute("main a:has-text('what QuantPrep offers')", "href") == "/"  # the landing page
        page.fill("#id_username", "newcomer")
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(web_server + "/")
        assert page.inner_text("h1") == "Welcome, newcomer"
        assert errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_home_the_bank_filter_and_choices_on_their_labels_line(web_server):
    ada = user_make("ada")
    mine = learner_work(ada, "ada")
    theirs = learner_work(user_make("bob"), "bob")
    choice_question_make()
    now = timezone.now()
    Quiz.objects.create(slug="closes-soon", title="Closes soon", question_slugs=["e4m3-range"],
                        closes_at=now + timedelta(days=1), time_limit_s=600, max_attempts=2)
    Quiz.objects.create(slug="closed", title="Already closed", question_slugs=["e4m3-range"],
                        closes_at=now - timedelta(days=1))
    instructor_make("instructor-with-a-long-user-name")

    with chromium_page() as (page, errors):
        log_in(page, web_server, "ada")
        continuing = page.inner_text("#continue")
        assert "Resume “Running quiz ada”" in continuing
        assert "Lab: Draft lab ada" in continuing and "Question: KV cache question ada" in continuing
        # her two cards due, and bob's deck's two cards, new to her
        assert page.inner_text("#drills-total") == "4"
        assert "2 due, 0 in learning, 2 new for today" in page.inner_text("#drills-due")
        quizzes = page.inner_text("#open-quizzes")
        assert "Closes soon" in quizzes and "2 attempts left" in quizzes and "Already closed" not in quizzes
        verdicts = page.inner_text("#recent-verdicts")
        assert "Wrong Answer" in verdicts and "Accepted" in verdicts and "Graded lab ada" in verdicts
        assert "bob" not in continuing  # bob's quiz is open to everyone: it may be offered, his attempt not
        main = page.inner_text("main")
        for other in ("Draft lab bob", "KV cache question bob", "Graded lab bob"):
            assert other not in main
        assert {"Drills", "Log out"} <= set(header_texts(page))
        look(page, "learner")

        page.click("#continue a:has-text('Resume')")
        page.wait_for_url(f"{web_server}/attempts/{mine['attempt'].id}/")
        page.goto(web_server + "/")
        page.click("#drills-review-link")
        page.wait_for_url(web_server + "/drills/")

        # the bank: a plain GET form, read on the server
        page.goto(web_server + "/questions/")
        assert page.locator("form.bank-filter").get_attribute("method") == "get"
        page.fill("#id_q", "kv cache")
        page.select_option("#id_tier", "L1")
        page.select_option("#id_tag", "kv-cache")
        page.click("form.bank-filter button[type=submit]")
        page.wait_for_url(re.compile(r".*/questions/\?q=kv\+cache&tier=L1&tag=kv-cache$"))
        titles = page.locator("main table td:first-child a").all_inner_texts()
        assert sorted(titles) == ["KV cache question ada", "KV cache question bob"]
        assert page.inner_text("#bank-count") == "2 questions match."
        look(page, "bank-filtered")
        page.fill("#id_q", "E4M3")
        page.select_option("#id_tag", "")
        page.click("form.bank-filter button[type=submit]")
        page.wait_for_url(re.compile(r".*/questions/\?q=E4M3&tier=L1&tag=$"))
        assert page.locator("main table td:first-child a").all_inner_texts() == ["E4M3 range"]

        # the question page: each radio button on its option's line, left of the text
        page.click("main table a:has-text('E4M3 range')")
        page.wait_for_url(web_server + "/questions/e4m3-range/")
        for label in page.locator("fieldset > label").all():
            box, text = label.locator("input").bounding_box(), label.locator("p").bounding_box()
            assert box["x"] + box["width"] <= text["x"], label.inner_text()
            assert box["y"] < text["y"] + text["height"] and text["y"] < box["y"] + box["height"], label.inner_text()
        look(page, "question-choices")

        # an instructor's longer header (Cohorts, Reports, a long name) stays on a 360 px screen too
        page.click("header button:has-text('Log out')")
        log_in(page, web_server, "instructor-with-a-long-user-name")
        assert {"Drills", "Cohorts", "Reports", "Log out"} <= set(header_texts(page))
        look(page, "instructor")
        assert errors == []
    assert theirs["attempt"].id != mine["attempt"].id
