"""Nothing lost (issue #18, item 2), in a real browser: the lab editor's draft autosaves and comes back on reload,
and "Reset to starter" asks first (a modal dialog: keeping the code keeps it; resetting brings the starter back,
saved as the draft); a timed quiz submitted with parts unanswered asks first and names them as the page does
("Keep working" stays, "Submit anyway" submits; with everything answered it submits at once); the question page
shows the last checked answer, its verdict and feedback after a reload. No CSP violation, no error response,
no native dialog. Screenshots at 1280 and 390 px go to tests/artifacts/nothing-lost-*-1280.png and -390.png."""

import re

import pytest

from labs.models import Lab, LabDraft
from quizzes.models import Attempt, Quiz
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.e2e.test_quiz_browser import choice_question_make, part_of, start
from tests.factories import question_make, user_make

WIDTHS = {"wide": 1280, "narrow": 390}
STARTER = "def quantize(x):\n    raise NotImplementedError\n"


def shots(page, name: str) -> None:
    """The page at both widths, then back to the wide one; nothing wider than a 390 px screen."""
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"nothing-lost-{name}-{width}.png"), full_page=True)
        if label == "narrow":
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, name
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})


def editor_text(page) -> str:
    return page.evaluate("window.codeEditor.state.doc.toString()")


def draft_saved(page) -> None:
    page.wait_for_function("() => /^Draft saved \\d\\d:\\d\\d$/.test(document.getElementById('draft-status')"
                           ".textContent)")


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_lab_draft_comes_back_and_reset_asks_first(web_server):
    user = user_make("dina")
    lab = Lab.objects.create(slug="draft-lab", title="Draft lab", statement="Quantize $x$ to FP8.", starter=STARTER)
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
        log_in(page, web_server, "dina")
        page.goto(web_server + "/labs/draft-lab/")
        page.wait_for_selector(".cm-content")
        assert editor_text(page) == STARTER
        page.click(".cm-content")
        page.keyboard.press("Control+End")
        page.keyboard.type("# my work in progress")
        page.wait_for_function("() => document.getElementById('draft-status').textContent === 'Unsaved changes'")
        draft_saved(page)  # about 1.5 s after the typing stops
        shots(page, "lab-draft-saved")

        page.reload()
        page.wait_for_selector(".cm-content")
        assert editor_text(page).endswith("# my work in progress")
        assert page.inner_text("#draft-status").startswith("Draft saved ")

        page.click("#reset-starter")  # asks first
        page.wait_for_selector("#reset-confirm[open]")
        assert page.evaluate("document.activeElement.id") == "reset-no"  # the safe choice has the focus
        shots(page, "lab-reset-asks")
        page.click("#reset-no")
        assert not page.is_visible("#reset-confirm")
        assert editor_text(page).endswith("# my work in progress")  # kept
        page.click("#reset-starter")
        page.wait_for_selector("#reset-confirm[open]")
        page.keyboard.press("Escape")  # the keyboard way out keeps the code too
        assert not page.is_visible("#reset-confirm")
        assert page.evaluate("document.activeElement.id") == "reset-starter"
        assert editor_text(page).endswith("# my work in progress")

        page.click("#reset-starter")
        page.click("#reset-yes")
        assert editor_text(page) == STARTER
        page.wait_for_function("() => /^Draft saved/.test(document.getElementById('draft-status').textContent)")
        page.reload()
        page.wait_for_selector(".cm-content")
        assert editor_text(page) == STARTER  # the starter was saved as the draft

        # past the submission size cap: refused (413), and the page says so
        page.evaluate("n => codeEditor.dispatch({changes: {from: 0, insert: '#'.repeat(n) + '\\n'}})", 300 * 1024)
        page.wait_for_function("() => document.getElementById('draft-status').classList.contains('error')")
        assert page.inner_text("#draft-status") == ("Not saved: the code is larger than 256 KB, the most a "
                                                    "submission may be.")
        assert errors == [f"413 {web_server}/labs/draft-lab/draft/"]  # that refusal, and nothing else
    assert LabDraft.objects.get(user=user, lab=lab).code == STARTER


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_submitting_a_quiz_with_parts_unanswered_asks_first_and_names_them(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # a look at the database while the browser runs
    user = user_make("quinn")
    choice, kv = choice_question_make(), question_make()
    quiz = Quiz.objects.create(slug="confirm-quiz", title="Confirm quiz", question_slugs=[choice.slug, kv.slug],
                               time_limit_s=900)
    Quiz.objects.create(slug="one-part-quiz", title="One part", question_slugs=[choice.slug], time_limit_s=900)
    single = part_of(choice, "max")
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
        log_in(page, web_server, "quinn")
        page.goto(web_server + "/quizzes/confirm-quiz/")
        start(page, "Start the timed attempt")
        url = page.url
        page.check(f"#part-{single.id} input[value=a]")
        page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'")

        page.focus("#submit-attempt")  # keyboard: Enter on the button asks first
        page.keyboard.press("Enter")
        page.wait_for_selector("#submit-confirm[open]")
        assert page.inner_text("#submit-confirm-count") == "2 parts have"
        assert page.inner_text("#submit-confirm-list").split("\n") == [
            "Question 2 (KV cache of a 7B model), part 1", "Question 2 (KV cache of a 7B model), part 2"]
        assert page.evaluate("document.activeElement.id") == "keep-working"
        shots(page, "quiz-confirm")
        page.keyboard.press("Enter")  # "Keep working"
        assert not page.is_visible("#submit-confirm")
        assert page.url == url and Attempt.objects.get(user=user, quiz=quiz).status == "open"

        page.click("#submit-attempt")
        page.wait_for_selector("#submit-confirm[open]")
        page.click("#submit-anyway")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        shots(page, "quiz-submitted-anyway")

        page.goto(web_server + "/quizzes/one-part-quiz/")  # everything answered: no question asked
        start(page, "Start the timed attempt")
        page.check(f"#part-{single.id} input[value=a]")
        page.click("#submit-attempt")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        assert errors == []
    attempt = Attempt.objects.get(user=user, quiz=quiz)
    assert (attempt.status, attempt.closed_by) == ("graded", "learner")
    assert attempt.answers.get(part=single).answer == "a"


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_question_page_shows_the_last_verdict_after_a_reload(web_server):
    user_make("vera")
    question_make()
    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": WIDTHS["wide"], "height": 900})
        log_in(page, web_server, "vera")
        page.goto(web_server + "/questions/kv-cache-7b/")
        page.fill("#answer-a", "262.144 KB")
        page.click("#part-a button[type=submit]")
        page.wait_for_selector("#verdict-a .verdict.wrong")
        page.reload()
        page.wait_for_selector("#verdict-a .verdict.wrong")
        text = page.inner_text("#verdict-a")
        assert "Your last check" in text and "262.144 KB" in text
        assert "Not correct" in text and "Both K and V are cached" in text
        assert page.input_value("#answer-a") == "262.144 KB"
        shots(page, "question-last-verdict")
        assert errors == []
