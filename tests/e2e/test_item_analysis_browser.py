"""What the answers say, in a real browser: an instructor reads the item analysis on a demo cohort's
gradebook, opens a part's misconception report and the answers behind one rule, then scores by hand an
answer the grader could not read, from the grading queue; the learner reads the score and the comment on
their review. Screenshots go to tests/artifacts/analysis-*.png."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count

from cohorts.demo import demo_cohort_make
from cohorts.models import Enrolment
from quizzes.models import AttemptAnswer, GradeChange, Part, Quiz
from quizzes.services.attempts import answer_save, attempt_start, attempt_submit
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"analysis-{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.slow
def test_item_analysis_misconception_report_and_a_score_by_hand_the_learner_reads(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    monkeypatch.setenv("DEMO_PASSWORD", PASSWORD)
    call_command("load_content", "--path", str(ROOT / "fixtures"), stdout=StringIO())
    made = demo_cohort_make(students=12, quizzes=1, seed=8)
    cohort_id, slug = made["cohort_id"], made["quizzes"][0]
    quiz = Quiz.objects.get(slug=slug)
    # a learner whose answer to a numeric or symbolic part the grader cannot read
    lena = User.objects.create_user("lena", password=PASSWORD)
    Enrolment.objects.create(cohort_id=cohort_id, student=lena)
    attempt = attempt_start(user=lena, quiz=quiz)
    typed_part = next(Part.objects.get(pk=pid) for item in attempt.layout for pid in item["parts"]
                      if Part.objects.get(pk=pid).kind in ("numeric", "symbolic"))
    answer_save(attempt=attempt, part_id=typed_part.id, answer="((3")
    attempt = attempt_submit(attempt=attempt)
    unread = AttemptAnswer.objects.get(attempt=attempt, part=typed_part)
    assert unread.parsed == "" and unread.feedback.startswith("Not graded")
    busiest = (AttemptAnswer.objects.filter(attempt__quiz=quiz).exclude(misconception="")
               .values("part_id", "misconception").annotate(n=Count("id")).order_by("-n", "part_id").first())
    rule_part = Part.objects.select_related("question").get(pk=busiest["part_id"])

    with chromium_page() as (page, errors):
        page.set_viewport_size({"width": 1280, "height": 800})
        log_in(page, web_server, made["instructor"])
        page.goto(web_server + f"/cohorts/{cohort_id}/quizzes/{slug}/")
        rows = page.locator("#items tbody tr")
        parts = {pid for a in quiz.attempts.all() for item in a.layout for pid in item["parts"]}
        assert rows.count() == len(parts)
        first = page.inner_text("section[aria-labelledby=item-analysis] p.muted")
        assert "first graded timed attempt (13)" in first  # twelve demo students and lena
        page.wait_for_function("() => window.Chart && Chart.getChart('chart-items')")  # the chart drew
        shot(page, "gradebook")

        # --- the busiest part's report, and the answers behind its commonest rule
        page.click(f"#items a:has-text('{rule_part.question.slug}:{rule_part.key}')")
        page.wait_for_url(re.compile(rf".*/parts/{rule_part.id}/$"))
        rule_row = page.locator(f"#misconception-report tr[data-rule='{busiest['misconception']}']")
        assert rule_row.locator("td a").inner_text() == str(busiest["n"])
        shot(page, "part-report")
        rule_row.locator("td a").click()
        page.wait_for_url(re.compile(r".*/answers/\?misconception="))
        assert page.locator("#answers tbody tr").count() == busiest["n"]
        assert f"{busiest['n']} answer" in page.inner_text("main")

        # --- the grading queue: lena's unread answer, scored by hand
        page.goto(web_server + f"/cohorts/{cohort_id}/quizzes/{slug}/")
        page.click("a:has-text('grading by hand')")
        page.wait_for_url(re.compile(r".*/grading/$"))
        row = page.locator(f"#queue tr[data-answer='{unread.id}']")
        assert "((3" in row.inner_text() and "lena" in row.inner_text()
        row.locator("a:has-text('Score')").click()
        page.wait_for_url(re.compile(rf".*/answers/{unread.id}/$"))
        page.fill("#id_score", "0.5")
        page.fill("#id_comment", "An unclosed bracket, but the 3 shows the idea: half marks.")
        page.click("#override button:has-text('Save this score')")
        page.wait_for_selector("main p.message")
        assert "lena's answer now scores 0.5" in page.inner_text("main p.message")
        assert page.inner_text("#answer-score") == "0.50"
        shot(page, "score-by-hand")
        page.goto(web_server + f"/cohorts/{cohort_id}/quizzes/{slug}/grading/")
        assert page.locator(f"#queue tr[data-answer='{unread.id}']").count() == 0
        assert "half marks" in page.inner_text("#overrides")
        page.click("header button:has-text('Log out')")
        page.wait_for_url(re.compile(r".*/login/$"))

        # --- lena reads it on her review
        log_in(page, web_server, "lena")
        page.goto(web_server + f"/attempts/{attempt.id}/")
        part_box = page.locator(f"#review-part-{typed_part.id}")
        assert "Scored by your instructor: 0.5" in part_box.inner_text()
        assert "half marks" in part_box.inner_text()
        shot(page, "learner-review")
        assert errors == []

    change = GradeChange.objects.get(answer=unread)
    assert (change.old_score, change.new_score, change.actor.username) == (0.0, 0.5, made["instructor"])
