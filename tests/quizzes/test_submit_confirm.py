"""The attempt page's confirmation before submitting with parts unanswered (issue #18, "nothing lost") is the
page's alone: each part carries the label the dialog names it by, as the page shows it; the server still
submits an attempt posted with every part empty, as before (and the deadline sweep still submits)."""

from __future__ import annotations

import pytest
from django.test import Client

from quizzes.models import Attempt, Quiz
from quizzes.services.attempts import attempt_start
from tests.factories import question_make, user_make

pytestmark = pytest.mark.django_db


def test_each_part_is_labelled_as_shown_and_an_empty_submission_is_still_submitted():
    question = question_make()
    quiz = Quiz.objects.create(slug="q", title="Q", question_slugs=[question.slug], time_limit_s=600)
    user = user_make("sam")
    client = Client()
    client.force_login(user)
    attempt = attempt_start(user=user, quiz=quiz)
    page = client.get(f"/attempts/{attempt.id}/").content.decode()
    assert 'data-label="Question 1 (KV cache of a 7B model), part 1"' in page
    assert 'data-label="Question 1 (KV cache of a 7B model), part 2"' in page
    assert '<dialog id="submit-confirm"' in page and "Keep working" in page and "Submit anyway" in page
    parts = {f"part-{p.id}": "" for p in question.parts.all()}
    assert client.post(f"/attempts/{attempt.id}/submit/", parts).status_code == 302
    attempt.refresh_from_db()
    assert (attempt.status, attempt.closed_by) == (Attempt.Status.GRADED, Attempt.ClosedBy.LEARNER)
