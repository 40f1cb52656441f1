"""Reads for the quiz pages and the services. Every attempt is looked up through its owner, so an id alone
reveals nothing."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cohorts.models import Enrolment
from cohorts.roles import is_instructor
from content.names import option_letter
from content.reader import PLACEHOLDER
from graders.answers import expected_answer, preview_answer, sample_params
from quizzes.models import Attempt, AttemptAnswer, AttemptGrant, Extension, Part, Question, Quiz


def part_params(*, part: Part, user: User) -> dict:
    """A learner's own numbers for a parameterized part (stable per learner until attempts fix them)."""
    return sample_params(part.spec, user.id) if part.spec.get("params") else {}


def prompt_fill(prompt: str, params: dict) -> str:
    """``{{name}}`` in a prompt becomes the learner's value (the loader checks every name is a parameter)."""
    return PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), prompt)


def _natural(text: str) -> list:
    """"Q2" before "Q10"."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def blueprint_pool(draw: dict) -> list[Question]:
    """The questions one blueprint draw chooses from, in the order of their source (Q1, Q2, ... Q10)."""
    questions = Question.objects.filter(parts__isnull=False).distinct().order_by("slug")
    if draw.get("group"):
        questions = questions.filter(group=draw["group"])
    if draw.get("tier"):
        questions = questions.filter(tier=draw["tier"])
    wanted = set(draw.get("tags") or [])
    seed = draw.get("seed")
    pool = [q for q in questions if (not wanted or wanted & set(q.tags))
            and (not seed or seed in (q.source or ""))]
    return sorted(pool, key=lambda q: (_natural(q.source or ""), q.slug))


def time_multiplier(*, quiz: Quiz, user: User) -> float:
    """The learner's accommodation in the quiz's cohort (1.0 elsewhere, and for platform-wide quizzes)."""
    if quiz.cohort_id is None:
        return 1.0
    found = Enrolment.objects.filter(cohort_id=quiz.cohort_id, student=user).values_list("time_multiplier", flat=True)
    return next(iter(found), 1.0)


def deadline_for(*, quiz: Quiz, user: User, started_at: dt.datetime) -> dt.datetime | None:
    """start + limit × the learner's time multiplier, cut at the window's close, plus every extension granted
    to this learner."""
    limit = quiz.time_limit_s and quiz.time_limit_s * time_multiplier(quiz=quiz, user=user)
    ends = [t for t in (limit and started_at + dt.timedelta(seconds=limit), quiz.closes_at) if t]
    if not ends:
        return None
    extra = Extension.objects.filter(quiz=quiz, user=user).aggregate(s=Sum("extra_s"))["s"] or 0
    return min(ends) + dt.timedelta(seconds=extra)


def attempts_used(*, quiz: Quiz, user: User) -> int:
    return Attempt.objects.filter(quiz=quiz, user=user, practice=False).count()


def attempts_allowed(*, quiz: Quiz, user: User) -> int | None:
    """The quiz's max_attempts plus those an instructor added for this learner; None: unlimited."""
    if quiz.max_attempts is None:
        return None
    return quiz.max_attempts + (AttemptGrant.objects.filter(quiz=quiz, user=user).aggregate(n=Sum("extra"))["n"] or 0)


def attempt_params(*, attempt: Attempt, part: Part) -> dict:
    """This attempt's numbers for a parameterized part: fixed for the attempt, new for the next one."""
    return sample_params(part.spec, attempt.seed + part.id) if part.spec.get("params") else {}


def quizzes_visible(*, user: User) -> QuerySet[Quiz]:
    """Quizzes for everyone, and those of the cohorts the user learns or teaches in."""
    return Quiz.objects.filter(Q(cohort__isnull=True) | Q(cohort__enrolments__student=user)
                               | Q(cohort__instructors=user)).distinct()


def quiz_get(*, user: User, slug: str) -> Quiz:
    return get_object_or_404(quizzes_visible(user=user), slug=slug)


def quizzes_managed(*, user: User) -> QuerySet[Quiz]:
    """The quizzes an instructor edits, archives and deletes: those of the cohorts they teach. A superuser
    manages every quiz (platform-wide ones are theirs alone); a built-in quiz follows the content files."""
    if user.is_superuser:
        return Quiz.objects.filter(builtin=False)
    if not is_instructor(user):
        return Quiz.objects.none()
    return Quiz.objects.filter(builtin=False, cohort__instructors=user).distinct()


def quiz_managed(*, user: User, slug: str) -> Quiz:
    """A quiz this user manages, or 404 (for another instructor's quiz too: no hint that it exists)."""
    return get_object_or_404(quizzes_managed(user=user), slug=slug)


def attempt_get(*, user: User, attempt_id: int) -> Attempt:
    """The user's own attempt, or 404 (also for another learner's id: no hint that it exists)."""
    return get_object_or_404(Attempt.objects.select_related("quiz"), pk=attempt_id, user=user)


def quiz_summary(*, quiz: Quiz, user: User) -> dict:
    used, allowed = attempts_used(quiz=quiz, user=user), attempts_allowed(quiz=quiz, user=user)
    return {"quiz": quiz, "used": used, "allowed": allowed,
            "left": None if allowed is None else max(0, allowed - used),
            "open": Attempt.objects.filter(quiz=quiz, user=user, status=Attempt.Status.OPEN).first()}


def feedback_visible(*, attempt: Attempt) -> bool:
    """Practice: always. Otherwise after grading, and for "after the window closes" once it has closed."""
    if attempt.practice:
        return True
    if attempt.status != Attempt.Status.GRADED:
        return False
    if attempt.quiz.feedback == Quiz.Feedback.AFTER_CLOSE and attempt.quiz.closes_at:
        return timezone.now() >= attempt.quiz.closes_at
    return True


def attempt_items(*, attempt: Attempt, with_keys: bool = False) -> list[dict]:
    """What the attempt asks, in its order, with the learner's saved answers (and the keys, for review)."""
    question_ids = [item["question"] for item in attempt.layout]
    questions = Question.objects.in_bulk(question_ids)
    parts = Part.objects.in_bulk([pid for item in attempt.layout for pid in item["parts"]])
    saved = {a.part_id: a for a in attempt.answers.all()}
    items = []
    for number, item in enumerate(attempt.layout, start=1):
        question = questions.get(item["question"])
        if question is None:
            continue
        rows = []
        for pid in item["parts"]:
            part = parts.get(pid)
            if part is None:
                continue
            params = attempt_params(attempt=attempt, part=part)
            answer = saved.get(pid)
            options = options_seen(part, item.get("options", {}).get(str(pid), []), answer.answer if answer else "")
            rows.append({"part": part, "params": params, "prompt": prompt_fill(part.prompt, params),
                         "options": options, "chosen_letters": ", ".join(o["letter"] for o in options if o["chosen"]),
                         "saved": answer,
                         "preview": preview_answer(answer.answer, part.spec) if answer and answer.answer.strip()
                         and part.kind not in ("single_choice", "multiple_choice") else None,
                         "key": expected_answer(part.spec, params=params) if with_keys else None})
        items.append({"number": number, "question": question, "parts": rows})
    return items


def options_seen(part: Part, shown: list[str], answer: str) -> list[dict]:
    """A part's options in the order a learner was shown them (``shown``: option ids), each marked ``chosen`` in
    their answer and with its ``letter`` as they saw it: its place in their order (an ordering part shows ids)."""
    by_id = {str(o["id"]): o for o in part.spec.get("options") or []}
    chosen = set(answer.replace(";", ",").split(","))
    return [{**by_id[i], "chosen": i in chosen, "letter": i if part.kind == "ordering" else option_letter(place)}
            for place, i in enumerate([i for i in shown if i in by_id], start=1)]


def attempt_part_options(*, attempt: Attempt, part: Part, answer: str) -> list[dict]:
    """``options_seen`` for one part of an attempt (none for a part without options)."""
    shown = next((item.get("options", {}).get(str(part.id), []) for item in attempt.layout
                  if part.id in item["parts"]), [])
    return options_seen(part, shown, answer)


def attempt_time_used(*, attempt: Attempt) -> str | None:
    """From start to close, as m:ss."""
    if attempt.closed_at is None:
        return None
    seconds = max(0, round((attempt.closed_at - attempt.started_at).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def history_for(*, user: User) -> dict:
    """The learner's graded attempts over time, and their weakest topics (question tags by mean score).
    Attempts whose scores are not shown yet (feedback after the window closes) are left out."""
    attempts = [a for a in Attempt.objects.filter(user=user, status=Attempt.Status.GRADED)
                .select_related("quiz").order_by("started_at") if feedback_visible(attempt=a)]
    scores: dict[str, list[float]] = defaultdict(list)
    answers = AttemptAnswer.objects.filter(attempt__in=[a.id for a in attempts], graded=True)
    for answer in answers.select_related("part__question"):
        for tag in answer.part.question.tags:
            if not tag.startswith("deck:"):
                scores[tag].append(answer.score)
    topics = sorted(({"tag": tag, "mean": sum(v) / len(v), "n": len(v)} for tag, v in scores.items()),
                    key=lambda t: (t["mean"], -t["n"], t["tag"]))
    return {"attempts": attempts, "weakest": [t for t in topics if t["mean"] < 1][:8],
            "chart": [{"x": timezone.localtime(a.started_at).strftime("%Y-%m-%d %H:%M"),
                       "y": round(a.percent, 1) if a.percent is not None else None, "quiz": a.quiz.title,
                       "practice": a.practice} for a in attempts]}


# ----------------------------------------------------------------------------- exam mode


def exam_in_progress(*, user: User, question_ids) -> Attempt | None:
    """The learner's timed attempt, still running, that asks one of these questions: while it runs, the
    question bank and the drill cards do not check those questions' answers (no oracle beside the exam)."""
    wanted, now = set(question_ids), timezone.now()
    for attempt in Attempt.objects.filter(user=user, status=Attempt.Status.OPEN, practice=False).select_related("quiz"):
        if attempt.deadline is not None and attempt.deadline <= now:
            continue  # over: the next request or the sweep closes it
        if any(item["question"] in wanted for item in attempt.layout):
            return attempt
    return None


def exam_refusal_text(attempt: Attempt) -> str:
    until = f", until {timezone.localtime(attempt.deadline):%H:%M} (server time)" if attempt.deadline else ""
    return (f"This question is in your exam “{attempt.quiz.title}”, which is running{until}. It is checked here "
            "again once the exam is submitted.")


def bank_hidden_slugs(*, user: User) -> set[str]:
    """Questions of quizzes kept private until they close: hidden from learners' bank until then."""
    if user.is_superuser or is_instructor(user):
        return set()
    now = timezone.now()
    private = Quiz.objects.filter(private_until_close=True).filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
    return {slug for slugs in private.values_list("question_slugs", flat=True) for slug in slugs or []}
