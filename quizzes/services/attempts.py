"""State changes of timed attempts. The server's clock is the only one that counts.

An attempt's deadline is fixed when it starts (start + limit, cut at the window's close, plus the learner's
extensions) and moved only by a new extension. An answer is saved only while the attempt is open and before
its deadline; at close, only answers saved at or before ``closed_at`` are graded. Closing is a conditional
update (open → closed), so two tabs, a double click or a retried request close it once; grading
(closed → graded) is idempotent and is retried by the periodic sweep, so a crash between the two loses
nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import secrets

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from graders.answers import AnswerResult, check_answer, preview_answer
from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz
from quizzes.selectors import attempt_params, attempts_allowed, attempts_used, blueprint_pool, deadline_for
from quizzes.services.answers import MAX_ANSWER_CHARS

log = logging.getLogger("quizzes")


class QuizUnavailable(Exception):
    """The learner may not start this quiz now; the message says why."""


class AttemptClosed(Exception):
    """A write to an attempt that is no longer open (or past its deadline); the message says what happened."""


# ----------------------------------------------------------------------------- building an attempt


def _draws(quiz: Quiz, rng: random.Random) -> list[Question]:
    if quiz.question_slugs:
        by_slug = Question.objects.in_bulk(quiz.question_slugs, field_name="slug")
        questions = [by_slug[s] for s in quiz.question_slugs if s in by_slug]
        if quiz.shuffle_questions:
            rng.shuffle(questions)
        return questions
    picked: list[Question] = []
    for draw in quiz.blueprint:
        pool = [q for q in blueprint_pool(draw) if q not in picked]
        chosen = rng.sample(pool, min(int(draw.get("count", 1)), len(pool)))
        picked += sorted(chosen, key=pool.index)  # the pool's order; shuffled below only if the quiz says so
    if quiz.shuffle_questions:
        rng.shuffle(picked)
    return picked


def attempt_layout(questions: list[Question], *, shuffle_options: bool, rng: random.Random) -> list[dict]:
    """What an attempt shows, in order: each question's asked (non-free) parts and its options' display order.
    Reads ``question.parts.all()``, so questions with their parts prefetched cost no query (cohorts/demo.py)."""
    layout = []
    for q in questions:
        parts = [p for p in q.parts.all() if p.kind != "free"]
        options = {}
        for part in parts:
            ids = [str(o["id"]) for o in part.spec.get("options") or []]
            if ids and (shuffle_options or part.kind == "ordering"):
                rng.shuffle(ids)  # an ordering part always starts shuffled: its key is the file's order
            if ids:
                options[str(part.id)] = ids
        if parts:
            layout.append({"question": q.id, "parts": [p.id for p in parts], "options": options})
    return layout


def attempt_start(*, user: User, quiz: Quiz, practice: bool = False, now: dt.datetime | None = None) -> Attempt:
    """Start an attempt, or return the open one (a second tab or a retried request resumes it)."""
    now = now or timezone.now()
    practice = practice or quiz.feedback == Quiz.Feedback.EACH_PART
    open_attempt = Attempt.objects.filter(quiz=quiz, user=user, status=Attempt.Status.OPEN).first()
    if open_attempt is not None:
        open_attempt = attempt_expire_if_due(attempt=open_attempt, now=now)
    if open_attempt is not None and open_attempt.status == Attempt.Status.OPEN and (
            open_attempt.practice == practice or not open_attempt.practice):
        return open_attempt  # a timed attempt in progress is resumed, never paused for practice
    if quiz.archived_at is not None:
        raise QuizUnavailable("This quiz has been archived.")
    if practice and not (quiz.allow_practice or quiz.feedback == Quiz.Feedback.EACH_PART):
        raise QuizUnavailable("This quiz cannot be taken as practice.")
    if quiz.opens_at and now < quiz.opens_at:
        raise QuizUnavailable(f"This quiz opens at {timezone.localtime(quiz.opens_at):%Y-%m-%d %H:%M}.")
    if quiz.closes_at and now >= quiz.closes_at and not practice:
        raise QuizUnavailable(f"This quiz closed at {timezone.localtime(quiz.closes_at):%Y-%m-%d %H:%M}.")
    allowed = attempts_allowed(quiz=quiz, user=user)
    if not practice and allowed is not None and attempts_used(quiz=quiz, user=user) >= allowed:
        raise QuizUnavailable(f"You have used all {allowed} attempt{'s' if allowed != 1 else ''} of this quiz.")
    if open_attempt is not None and open_attempt.status == Attempt.Status.OPEN:
        attempt_submit(attempt=open_attempt, now=now)  # starting the timed attempt ends the practice run
    seed = secrets.randbelow(2**62)
    rng = random.Random(seed)
    layout = attempt_layout(_draws(quiz, rng), shuffle_options=quiz.shuffle_options, rng=rng)
    if not layout:
        raise QuizUnavailable("This quiz has no questions yet.")
    deadline = None if practice else deadline_for(quiz=quiz, user=user, started_at=now)
    try:
        with transaction.atomic():
            number = (Attempt.objects.filter(quiz=quiz, user=user).order_by("-number")
                      .values_list("number", flat=True).first() or 0) + 1
            return Attempt.objects.create(quiz=quiz, user=user, number=number, practice=practice, seed=seed,
                                          layout=layout, started_at=now, deadline=deadline)
    except IntegrityError:  # another request started it first: resume that one
        existing = Attempt.objects.filter(quiz=quiz, user=user, status=Attempt.Status.OPEN).first()
        if existing is None:
            raise
        return existing


# ----------------------------------------------------------------------------- answering


def _refusal(attempt: Attempt, now: dt.datetime) -> str | None:
    """Why a write to this attempt is refused now, or None when it may be saved."""
    if attempt.status == Attempt.Status.OPEN and not (attempt.deadline and now > attempt.deadline):
        return None
    if attempt.closed_by == Attempt.ClosedBy.LEARNER:
        return "This attempt has been submitted: the answer was not saved."
    return (f"Time is up: the deadline was {timezone.localtime(attempt.deadline):%H:%M:%S}. "
            "Answers saved before then count; this one was not saved.")


def _part_of(attempt: Attempt, part_id: int) -> Part:
    """The part, if this attempt asks it; Part.DoesNotExist otherwise (the pages answer 404)."""
    if not any(part_id in item["parts"] for item in attempt.layout):
        raise Part.DoesNotExist(f"part {part_id} is not in attempt {attempt.id}")
    return Part.objects.get(pk=part_id)


def answer_save(*, attempt: Attempt, part_id: int, answer: str,
                now: dt.datetime | None = None) -> tuple[AttemptAnswer, AnswerResult]:
    """Autosave one part's answer; returns the saved row and the parse preview ("we read your answer as")."""
    now = now or timezone.now()
    answer = answer[:MAX_ANSWER_CHARS]
    part = _part_of(attempt, part_id)
    with transaction.atomic():
        refusal = _refusal(Attempt.objects.select_for_update().get(pk=attempt.pk), now)
        if refusal is None:
            row, _ = AttemptAnswer.objects.update_or_create(attempt=attempt, part=part,
                                                            defaults={"answer": answer, "saved_at": now})
    if refusal is not None:
        attempt_expire_if_due(attempt=attempt, now=now)
        raise AttemptClosed(refusal)
    preview = preview_answer(answer, part.spec) if answer.strip() else AnswerResult(False, 0.0, "", None, None)
    return row, preview


def answer_check(*, attempt: Attempt, part_id: int, answer: str,
                 now: dt.datetime | None = None) -> tuple[AttemptAnswer, AnswerResult]:
    """Practice mode: save and grade one part now (unlimited tries)."""
    if not attempt.practice:
        raise AttemptClosed("Answers are checked after submission in this quiz.")
    row, preview = answer_save(attempt=attempt, part_id=part_id, answer=answer, now=now)
    if preview.error:
        return row, preview
    result = answer_grade(part=row.part, answer=row.answer, params=attempt_params(attempt=attempt, part=row.part))
    _store_grade(row, result)
    AttemptAnswer.objects.filter(pk=row.pk).update(tries=F("tries") + 1)
    row.refresh_from_db(fields=["tries"])
    return row, result


# ----------------------------------------------------------------------------- closing and grading


def _close_if_due(attempt_id: int, now: dt.datetime, by: str = Attempt.ClosedBy.DEADLINE) -> bool:
    """open → closed at the deadline, once, if the deadline (as stored now: an extension may have moved it)
    has passed. True for the caller that closed it."""
    return bool(Attempt.objects.filter(pk=attempt_id, status=Attempt.Status.OPEN, deadline__lt=now).update(
        status=Attempt.Status.CLOSED, closed_by=by, closed_at=F("deadline")))


def attempt_submit(*, attempt: Attempt, now: dt.datetime | None = None) -> Attempt:
    """The learner submits. Past the deadline, it is the deadline that closed it."""
    now = now or timezone.now()
    if not _close_if_due(attempt.id, now):
        Attempt.objects.filter(Q(deadline__isnull=True) | Q(deadline__gte=now), pk=attempt.id,
                               status=Attempt.Status.OPEN).update(
            status=Attempt.Status.CLOSED, closed_by=Attempt.ClosedBy.LEARNER, closed_at=now)
    return attempt_grade(attempt_id=attempt.id)


def attempt_expire_if_due(*, attempt: Attempt, now: dt.datetime | None = None) -> Attempt:
    """The check on each request: an attempt past its deadline is submitted and graded now."""
    now = now or timezone.now()
    _close_if_due(attempt.id, now)
    return attempt_grade(attempt_id=attempt.id)  # grades it if closed; the fresh row either way


def answer_grade(*, part: Part, answer: str, params: dict) -> AnswerResult:
    """One answer of an attempt graded with the attempt's numbers; an empty or ungradeable one scores 0."""
    if not answer.strip():
        return AnswerResult(False, 0.0, "No answer.", None, None)
    result = check_answer(answer, part.spec, params=params)
    if result.error:
        return AnswerResult(False, 0.0, f"Not graded: {result.error}", None, None)
    return result


def _store_grade(row: AttemptAnswer, result: AnswerResult) -> None:
    row.graded, row.correct, row.score = True, result.correct, result.score
    row.feedback, row.parsed, row.undecided = result.feedback, result.parsed or "", result.undecided
    row.misconception = result.misconception or ""
    AttemptAnswer.objects.filter(pk=row.pk).update(graded=True, correct=row.correct, score=row.score,
                                                   feedback=row.feedback, parsed=row.parsed,
                                                   undecided=row.undecided, misconception=row.misconception)


def attempt_grade(*, attempt_id: int) -> Attempt:
    """Grade a closed attempt (idempotent: a second grader computes the same rows and changes nothing).
    Returns the attempt as it is now, whatever its status."""
    attempt = Attempt.objects.get(pk=attempt_id)
    if attempt.status != Attempt.Status.CLOSED:
        return attempt
    saved = {a.part_id: a for a in attempt.answers.select_related("part")}
    parts = Part.objects.in_bulk([pid for item in attempt.layout for pid in item["parts"]])
    earned = total = 0.0
    for pid, part in parts.items():
        row = saved.get(pid)
        if row is None:
            row = AttemptAnswer.objects.get_or_create(attempt=attempt, part=part,
                                                      defaults={"answer": "", "saved_at": attempt.closed_at})[0]
        if row.saved_at <= attempt.closed_at:
            result = answer_grade(part=part, answer=row.answer,
                                  params=attempt_params(attempt=attempt, part=part))
        else:
            result = AnswerResult(False, 0.0, "Saved after the attempt closed: not counted.", None, None)
        _store_grade(row, result)
        earned += part.points * result.score
        total += part.points
    now = timezone.now()
    Attempt.objects.filter(pk=attempt.pk, status=Attempt.Status.CLOSED).update(
        status=Attempt.Status.GRADED, graded_at=now, score=round(earned, 6), max_score=total)
    attempt.refresh_from_db()
    return attempt


def attempts_close_overdue(*, now: dt.datetime | None = None) -> int:
    """The periodic sweep: close every open attempt past its deadline, and grade every closed one that is not
    graded yet (a worker that died between the two). Returns how many attempts it graded."""
    now = now or timezone.now()
    for attempt_id in Attempt.objects.filter(status=Attempt.Status.OPEN, deadline__lt=now).values_list("id", flat=True):
        _close_if_due(attempt_id, now, by=Attempt.ClosedBy.SWEEP)
    graded = 0
    for attempt_id in Attempt.objects.filter(status=Attempt.Status.CLOSED).values_list("id", flat=True):
        try:
            graded += attempt_grade(attempt_id=attempt_id).status == Attempt.Status.GRADED
        except Exception:  # noqa: BLE001 - one attempt failing must not keep the others ungraded
            log.exception("grading attempt %s failed; the next sweep retries it", attempt_id)
    return graded
