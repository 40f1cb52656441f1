"""The hostile quiz description of tests/web/test_rich_text_and_csp.py in Chromium, under the
Content-Security-Policy: no dialog fires, nothing is blocked that the page needs, and its math is still
rendered by KaTeX. (MathLive typing under the policy: tests/e2e/test_quiz_browser.py, whose pages now fail
on any policy violation, like every browser test.)"""

import pytest

from cohorts.models import Enrolment
from cohorts.services import cohort_create
from quizzes.models import Question, Quiz
from tests.e2e.browser import chromium_page, log_in, shot
from tests.factories import instructor_make, user_make
from tests.web.test_rich_text_and_csp import HOSTILE


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_a_hostile_description_runs_nothing_in_the_browser_and_its_math_renders(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    teacher, student = instructor_make("mallory"), user_make("lea")
    cohort = cohort_create(name="C", instructor=teacher)
    Enrolment.objects.create(cohort=cohort, student=student)
    Question.objects.create(slug="q1", title="Q", body="b")
    Quiz.objects.create(slug="hostile", title="Hostile", description=HOSTILE, question_slugs=["q1"], cohort=cohort,
                        created_by=teacher)
    with chromium_page() as (page, errors):
        log_in(page, web_server, "lea")
        page.goto(web_server + "/quizzes/hostile/")
        page.wait_for_selector("main .katex")  # $x_1 < y$, typeset
        page.click("text=click")  # the javascript: link lost its href: clicking it does nothing
        page.wait_for_timeout(300)
        assert page.locator("main iframe, main svg[onload], main img, main object, main embed").count() == 0
        assert page.evaluate("document.querySelectorAll('[onload],[onerror],[onclick]').length") == 0
        shot(page, "csp-hostile-description")
        assert errors == []  # no dialog, no policy violation, no page error


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
def test_a_script_injected_past_the_sanitizer_would_still_not_run(web_server):
    """The policy itself, in Chromium: an inline script put into the page does not run (no dialog), and the
    violation is what the browser tests listen for."""
    with chromium_page() as (page, errors):
        page.goto(web_server + "/login/")
        page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'alert(1)';"
                      " document.body.appendChild(s); }")
        page.wait_for_timeout(300)
        assert len(errors) == 1 and "violates the following Content Security Policy directive" in errors[0]
        assert "script-src 'self'" in errors[0]
