"""A demo cohort at any size, deterministic in a seed: an instructor, N students, Q timed quizzes of the
cohort, one graded attempt of each quiz per student (a second one for some), lab submissions and drill
reviews. For trying the instructor's workspace and for measuring it (bench/bench_instructors.py,
tests/cohorts/test_scale.py). ``python manage.py demo_cohort`` is the shell's way in.

Every write is a bulk insert, and every distinct (part, answer, numbers) is graded once: 500 students × 10
quizzes take seconds, not the minutes that ``attempt_start`` + ``attempt_grade`` per attempt would.

The attempts are built as ``quizzes.services.attempts.attempt_start`` builds them (the same ``layout``
shape: every non-free part of each question, the options' display order; a seed that fixes the learner's
numbers through ``attempt_params``) and graded as ``attempt_grade`` grades them (``check_answer`` with that
attempt's numbers; an empty answer is "No answer."; a row for every part), without their per-attempt queries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import secrets
import time

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from cohorts.models import AuditEntry, Cohort, Enrolment
from cohorts.roles import INSTRUCTOR, STUDENT
from cohorts.services import cohort_create
from content.labs import labs_root
from content.load import labs_sync
from content.reader import CARD_GROUP
from drills.models import Card, ReviewLog, ReviewState, State
from graders.answers import AnswerResult, expected_answer, key_number
from labs.models import Lab, Submission
from quizzes.models import Attempt, AttemptAnswer, Part, Question, Quiz
from quizzes.selectors import attempt_params
from quizzes.services.attempts import answer_grade, attempt_layout

GRADEABLE = ("numeric", "symbolic", "single_choice", "multiple_choice")
QUESTIONS_PER_QUIZ = (4, 6)
TIME_LIMIT_S = 20 * 60
MAX_ATTEMPTS = 2
RETAKE_SHARE = 0.2  # of (student, quiz) pairs with a second graded attempt: the best and the latest differ
BATCH = 1000


class DemoError(ValueError):
    """The demo cannot be made (no questions loaded, bad sizes); the message says what to do."""


# ----------------------------------------------------------------------------- the answers a student gives


def _number_text(value: float, unit: str | None) -> str:
    """A value as a learner types it, in the part's unit."""
    text = f"{value:.8g}"
    if not unit:
        return text
    return text + unit if unit in ("%", "x") else f"{text} {unit}"


def _with_params(expr: str, params: dict) -> str:
    """A formula of the spec (which may name the part's parameters) with this attempt's numbers in it: what a
    learner, who sees numbers, would type."""
    for name, value in params.items():
        expr = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", f"({value})", expr)
    return expr


def _answers(part: Part, params: dict) -> dict[str, list[str]]:
    """The answers a student may give to one part: the key, each known misconception, a wrong one."""
    spec, kind = part.spec, part.kind
    if kind == "numeric":
        unit = spec.get("unit")
        value = key_number(spec["formula"] if "formula" in spec else spec["answer"], params)
        return {"key": [_number_text(value, unit)],
                "misconception": [_number_text(key_number(m["formula"] if "formula" in m else m["value"], params), unit)
                                  for m in spec.get("misconceptions") or []],
                "wrong": [_number_text(value * 3.7 + 1.3, unit)]}
    if kind == "symbolic":
        key = _with_params(str(spec["expected"]), params)
        return {"key": [expected_answer(spec, params=params) or key],
                "misconception": [_with_params(str(m["expr"]), params) for m in spec.get("misconceptions") or []],
                "wrong": [f"({key}) + 1", f"2*({key})"]}
    options = [str(o["id"]) for o in spec.get("options") or []]
    right = [str(o["id"]) for o in spec.get("options") or [] if o.get("correct")]
    wrong = [i for i in options if i not in right]
    # A choice part has no misconception ids: its distractors (those with feedback first) play that role.
    distractors = sorted(wrong, key=lambda i: not next(o for o in spec["options"] if str(o["id"]) == i).get("feedback"))
    if kind == "single_choice":
        return {"key": [right[0]], "misconception": distractors[:2], "wrong": wrong[-1:] or right[:1]}
    return {"key": [",".join(right)], "misconception": [",".join(right[:-1] + distractors[:1])] if distractors else [],
            "wrong": [",".join(distractors[:1] or right[:1])]}


def _pick(rng: random.Random, ability: float, choices: dict[str, list[str]]) -> str:
    """The key with probability ``ability``; otherwise a misconception, a wrong answer or nothing."""
    if rng.random() < ability:
        return rng.choice(choices["key"])
    r = rng.random()
    if choices["misconception"] and r < 0.5:
        return rng.choice(choices["misconception"])
    if r < 0.8:
        return rng.choice(choices["wrong"])
    return ""


class _Grader:
    """``answer_grade`` (what ``attempt_grade`` calls) once per distinct (part, answer, numbers)."""

    def __init__(self):
        self.cache: dict[tuple, AnswerResult] = {}
        self.answers: dict[tuple, dict[str, list[str]]] = {}

    def choices(self, part: Part, params: dict, params_key: str) -> dict[str, list[str]]:
        key = (part.id, params_key)
        if key not in self.answers:
            self.answers[key] = _answers(part, params)
        return self.answers[key]

    def grade(self, part: Part, answer: str, params: dict, params_key: str) -> AnswerResult:
        key = (part.id, answer, params_key)
        if key not in self.cache:
            self.cache[key] = answer_grade(part=part, answer=answer, params=params)
        return self.cache[key]


# ----------------------------------------------------------------------------- the attempts


def _eligible_questions() -> list[Question]:
    """Bank questions (not the drill cards' mirrors), their parts prefetched, whose asked parts are all
    auto-graded numeric, symbolic or choice parts, in slug order."""
    questions = Question.objects.exclude(group=CARD_GROUP).prefetch_related("parts").order_by("slug")
    return [q for q in questions if any(p.kind in GRADEABLE for p in q.parts.all())
            and all(p.kind in GRADEABLE or p.kind == "free" for p in q.parts.all())]


def _prefix(seed: int) -> str:
    """``demo-<seed>``, or ``demo-<seed>-r<n>`` when that seed was already used in this database."""
    for n in range(1, 1000):
        prefix = f"demo-{seed}" if n == 1 else f"demo-{seed}-r{n}"
        if not (User.objects.filter(username=f"{prefix}-instructor").exists()
                or Quiz.objects.filter(slug__startswith=f"{prefix}-quiz-").exists()):
            return prefix
    raise DemoError(f"seed {seed} has been used 999 times in this database")


def demo_cohort_make(*, students: int, quizzes: int, seed: int) -> dict:
    """Make the demo cohort (see the module's docstring). Needs the question bank (``load_content``); drill
    reviews are skipped when no drill cards are loaded. Returns ``cohort_id``, ``instructor`` (username),
    ``quizzes`` (slugs), ``password`` and counts of what was written."""
    if students < 1 or quizzes < 1:
        raise DemoError("--students and --quizzes must be at least 1")
    started = time.monotonic()
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
    eligible = _eligible_questions()
    if len(eligible) < QUESTIONS_PER_QUIZ[1]:
        raise DemoError(f"the question bank has {len(eligible)} gradeable questions: run "
                        "`python manage.py load_content` first")
    labs_sync(root=labs_root())
    labs = list(Lab.objects.order_by("slug"))
    cards = list(Card.objects.order_by("id").values_list("id", flat=True))
    parts_by_id = {p.id: p for q in eligible for p in q.parts.all()}
    counts: dict[str, int] = {}

    with transaction.atomic():
        prefix = _prefix(seed)
        instructor = User.objects.create_user(username=f"{prefix}-instructor", password=password,
                                              first_name="Demo", last_name=f"Instructor {seed}")
        cohort = cohort_create(name=f"Demo cohort {prefix[5:]} ({students} students)", instructor=instructor)
        start = now - dt.timedelta(days=30)
        Cohort.objects.filter(pk=cohort.pk).update(created_at=start)

        # -- students: one password hash for all of them
        hashed = make_password(password)
        width = max(4, len(str(students)))
        User.objects.bulk_create([User(username=f"{prefix}-s{i:0{width}d}", password=hashed, is_active=True,
                                       date_joined=start) for i in range(1, students + 1)], batch_size=BATCH)
        users = list(User.objects.filter(username__startswith=f"{prefix}-s").order_by("username"))
        student_group, _ = Group.objects.get_or_create(name=STUDENT)
        Group.objects.get_or_create(name=INSTRUCTOR)
        User.groups.through.objects.bulk_create([User.groups.through(user_id=u.id, group_id=student_group.id)
                                                 for u in users], batch_size=BATCH)
        multipliers = {u.id: (1.5 if rng.random() < 0.05 else 1.0) for u in users}
        Enrolment.objects.bulk_create([Enrolment(cohort=cohort, student=u, time_multiplier=multipliers[u.id])
                                       for u in users], batch_size=BATCH)
        Enrolment.objects.filter(cohort=cohort).update(joined_at=start)
        # ability: the chance of giving the key to a part; spread from about 0.1 to 0.95
        ability = {u.id: 0.1 + 0.85 * rng.random() for u in users}

        # -- quizzes: a fixed list of questions each, opening every couple of days over the last four weeks
        quiz_rows = []
        for k in range(1, quizzes + 1):
            chosen = rng.sample(eligible, rng.randint(*QUESTIONS_PER_QUIZ))
            quiz_rows.append(Quiz(
                slug=f"{prefix}-quiz-{k}", title=f"Demo quiz {k}", cohort=cohort, created_by=instructor,
                description=f"Demo data (seed {seed}): {len(chosen)} questions from the bank.",
                question_slugs=[q.slug for q in chosen], time_limit_s=TIME_LIMIT_S, max_attempts=MAX_ATTEMPTS,
                shuffle_options=True, feedback=Quiz.Feedback.AFTER_SUBMIT,
                opens_at=start + dt.timedelta(days=2 + 19 * (k - 1) / max(1, quizzes - 1))))
        Quiz.objects.bulk_create(quiz_rows, batch_size=BATCH)
        quiz_list = list(Quiz.objects.filter(cohort=cohort).order_by("opens_at", "slug"))
        by_slug = {q.slug: q for q in eligible}
        AuditEntry.objects.bulk_create(
            [AuditEntry(actor=instructor, action=AuditEntry.Action.STUDENTS_ENROLLED, cohort=cohort,
                        detail={"usernames": [u.username for u in users[:50]], "count": len(users)})]
            + [AuditEntry(actor=instructor, action=AuditEntry.Action.QUIZ_CREATED, cohort=cohort, quiz=q,
                          detail={"slug": q.slug}) for q in quiz_list])

        # -- attempts, graded: one per student and quiz, a second one for some (a little better on average,
        #    sometimes worse: the best and the latest attempt differ)
        grader = _Grader()
        attempts: list[Attempt] = []
        answers: list[list[AttemptAnswer]] = []
        for quiz in quiz_list:
            questions = [by_slug[s] for s in quiz.question_slugs]
            for user in users:
                first = quiz.opens_at + dt.timedelta(seconds=rng.uniform(0, 2 * 86400))
                tries = [(first, ability[user.id])]
                if rng.random() < RETAKE_SHARE:
                    tries.append((first + dt.timedelta(hours=rng.uniform(2, 48)), min(0.97, ability[user.id] + 0.15)))
                for number, (began, skill) in enumerate(tries, start=1):
                    attempt, rows = _attempt(quiz=quiz, user=user, number=number, began=began, skill=skill,
                                             multiplier=multipliers[user.id], questions=questions,
                                             parts_by_id=parts_by_id, grader=grader, rng=rng)
                    attempts.append(attempt)
                    answers.append(rows)
        Attempt.objects.bulk_create(attempts, batch_size=BATCH)
        if any(a.pk is None for a in attempts):  # a backend that returns no ids from a bulk insert
            ids = dict(((a.quiz_id, a.user_id, a.number), a.id) for a in
                       Attempt.objects.filter(quiz__in=quiz_list).only("id", "quiz_id", "user_id", "number"))
            for a in attempts:
                a.id = ids[(a.quiz_id, a.user_id, a.number)]
        flat = []
        for attempt, rows in zip(attempts, answers, strict=True):
            for row in rows:
                row.attempt_id = attempt.id
                flat.append(row)
        AttemptAnswer.objects.bulk_create(flat, batch_size=BATCH)
        counts.update(attempts=len(attempts), answers=len(flat), distinct_grades=len(grader.cache))

        # -- labs: a few finished submissions per student, each with a result of the grader's shape
        submissions = []
        verdicts = [Submission.Verdict.WRONG_ANSWER, Submission.Verdict.TIME_LIMIT, Submission.Verdict.RUNTIME_ERROR]
        mistakes: dict[str, list[dict]] = {}
        for user in users:
            tried = rng.sample(labs, min(2, len(labs)))  # a student works on a lab or two, so tries repeat
            for _ in range(rng.randint(0, 4) if labs else 0):
                lab = rng.choice(tried)
                accepted = rng.random() < ability[user.id]
                at = now - dt.timedelta(seconds=rng.uniform(3600, 12 * 86400))
                verdict = Submission.Verdict.ACCEPTED if accepted else rng.choice(verdicts)
                report = _lab_report(lab=lab, verdict=verdict, rng=rng, mistakes=mistakes)
                submissions.append(Submission(
                    user=user, lab=lab, code=lab.starter, status=Submission.Status.DONE, verdict=verdict,
                    score=report.score, backend="local", attempts=1, result=report.as_json(),
                    speed_review=Submission.SpeedReview.NEEDED if report.needs_review else Submission.SpeedReview.NONE,
                    started_at=at + dt.timedelta(seconds=2),
                    finished_at=at + dt.timedelta(seconds=rng.uniform(5, 40)), created_at=at))
        created_at = [s.created_at for s in submissions]
        Submission.objects.bulk_create(submissions, batch_size=BATCH)
        for s, at in zip(submissions, created_at, strict=True):  # created_at is auto_now_add: put the times back
            s.created_at = s.updated_at = at
        if submissions:
            Submission.objects.bulk_update(submissions, ["created_at", "updated_at"], batch_size=BATCH)
        counts["submissions"] = len(submissions)

        # -- drills: reviews in the last week for the active ones, a backlog of overdue cards for the lapsed
        states, logs = _drills(users=users, cards=cards, ability=ability, now=now, rng=rng)
        ReviewState.objects.bulk_create(states, batch_size=BATCH)
        ReviewLog.objects.bulk_create(logs, batch_size=BATCH)
        counts.update(review_states=len(states), review_logs=len(logs))

    return {"cohort_id": cohort.id, "instructor": instructor.username, "quizzes": [q.slug for q in quiz_list],
            "password": password, "students": len(users), "drills_skipped": not cards, "counts": counts,
            "seconds": round(time.monotonic() - started, 2)}


def _attempt(*, quiz: Quiz, user: User, number: int, began: dt.datetime, skill: float, multiplier: float,
             questions: list[Question], parts_by_id: dict, grader: _Grader,
             rng: random.Random) -> tuple[Attempt, list[AttemptAnswer]]:
    seed = rng.randrange(2**62)
    layout_rng = random.Random(seed)  # as attempt_start: the attempt's own seed orders what it shows
    order = list(questions)
    if quiz.shuffle_questions:
        layout_rng.shuffle(order)
    layout = attempt_layout(order, shuffle_options=quiz.shuffle_options, rng=layout_rng)
    deadline = began + dt.timedelta(seconds=quiz.time_limit_s * multiplier)
    if rng.random() < 0.15:
        closed_at, closed_by = deadline, Attempt.ClosedBy.DEADLINE
    else:
        closed_at = began + dt.timedelta(seconds=rng.uniform(0.2, 0.97) * quiz.time_limit_s * multiplier)
        closed_by = Attempt.ClosedBy.LEARNER
    attempt = Attempt(quiz=quiz, user=user, number=number, practice=False, seed=seed, layout=layout,
                      status=Attempt.Status.GRADED, started_at=began, deadline=deadline, closed_at=closed_at,
                      closed_by=closed_by, graded_at=closed_at + dt.timedelta(seconds=rng.uniform(0.2, 3)))
    rows, earned, total = [], 0.0, 0.0
    span = (closed_at - began).total_seconds()
    for pid in (pid for item in layout for pid in item["parts"]):
        part = parts_by_id[pid]
        params = attempt_params(attempt=attempt, part=part)
        params_key = json.dumps(params, sort_keys=True) if params else ""
        answer = _pick(rng, skill, grader.choices(part, params, params_key))
        result = grader.grade(part, answer, params, params_key)
        rows.append(AttemptAnswer(
            part_id=pid, answer=answer, graded=True, correct=result.correct, score=result.score,
            feedback=result.feedback, parsed=result.parsed or "", undecided=result.undecided,
            misconception=result.misconception or "",
            saved_at=began + dt.timedelta(seconds=rng.uniform(0.1, 1.0) * span) if answer else closed_at))
        earned += part.points * result.score
        total += part.points
    attempt.score, attempt.max_score = round(earned, 6), total
    return attempt, rows


def _lab_report(*, lab: Lab, verdict: str, rng: random.Random, mistakes: dict[str, list[dict]]):
    """A GradeReport as labs.grading.judge writes one, so the lab pages read demo rows as real ones: every
    test case of the lab by name, the first failure with its class for a wrong answer (the lab's own known
    mistakes, ``# feedback:`` of its wrong solutions; a ``- class:`` line where the lab's check writes one),
    a speedup for most accepted ones, some above the plausible ceiling (speed review needed)."""
    from content.labs import solution_header
    from graders.labs.score import lab_score
    from labs.grading.report import GradeReport, Verdict
    from labs.grading.rules import RunLimits

    names = [str(case["name"]) for case in lab.cases.get("tests", [])] or ["case-1"]
    meta, where = lab.config, rng.randrange(len(names))
    if verdict == Verdict.TIME_LIMIT:
        return GradeReport(verdict, diagnostics=f"Time limit of {meta['limits']['time_s']:g} s for the import and "
                           f"the test cases exceeded on case {names[where]}. (demo data)")
    if verdict == Verdict.RUNTIME_ERROR:
        return GradeReport(verdict, diagnostics=f"On case {names[where]}:\nTraceback (most recent call last):\n"
                           "  File \"submission.py\", line 12, in quantize\nIndexError: index out of range (demo data)")
    if verdict == Verdict.WRONG_ANSWER:
        if lab.slug not in mistakes:
            folder = labs_root() / lab.slug / "solutions" / "wrong"
            mistakes[lab.slug] = [h for h in (solution_header(p) for p in sorted(folder.glob("*.py")))
                                  if h.get("expect") == Verdict.WRONG_ANSWER and h.get("feedback")]
        known = rng.choice(mistakes[lab.slug] or [{"feedback": "wrong values", "mistake": "the outputs differ"}])
        classified = lab.slug in ("fp8-e4m3", "int8-asym", "nvfp4")  # their checks list "- <class>: ..." lines
        message = (f"outputs differ from the reference's (demo data):\n- {known['feedback']}: {rng.randint(1, 400)} "
                   f"wrong. {known['mistake']}." if classified else f"{known['feedback']}: {known['mistake']} (demo data)")
        cases = [{"name": name, "passed": i < where or (i > where and rng.random() < 0.7),
                  "message": message, "metrics": {}} for i, name in enumerate(names)]
        for case in cases:
            if case["passed"]:
                case["message"] = "matches the reference (demo data)"
        failed = [c for c in cases if not c["passed"]]
        return GradeReport(verdict, cases=cases, diagnostics=f"{len(failed)} of {len(cases)} cases failed. First: "
                           f"{failed[0]['name']}: {failed[0]['message']}")
    ceiling = RunLimits.of(meta).plausible_speedup
    draw = rng.random()
    speedup = (None if draw < 0.1 else round(rng.uniform(1.2, 4) * ceiling, 4) if draw < 0.16
               else round(rng.lognormvariate(0.6, 0.8), 4))
    needs_review = speedup is not None and speedup > ceiling
    score = lab_score(all_passed=True, points=meta["points"], speed_points=meta["speed_points"],
                      speed_cap=meta["speed_cap"], speedup=None if needs_review else speedup)
    timing = "no usable timing" if speedup is None else f"speedup over the reference {speedup:.2f}x"
    return GradeReport(verdict, score=score, correct=True, speedup=speedup, needs_review=needs_review,
                       cases=[{"name": name, "passed": True, "message": "matches the reference (demo data)",
                               "metrics": {}} for name in names],
                       diagnostics=f"All {len(names)} cases passed; {timing}. (demo data)")


def _drills(*, users: list[User], cards: list[int], ability: dict, now: dt.datetime,
            rng: random.Random) -> tuple[list[ReviewState], list[ReviewLog]]:
    states, logs = [], []
    if not cards:
        return states, logs
    for user in users:
        habit = rng.random()
        if habit < 0.3:
            continue  # never drilled
        lapsed = habit < 0.5  # drilled a while ago, then stopped: the backlog grows
        for card in rng.sample(cards, rng.randint(5, len(cards))):
            last = now - dt.timedelta(days=rng.uniform(8, 25) if lapsed else rng.uniform(0, 7))
            stability = rng.uniform(0.5, 20) * (0.5 + ability[user.id])
            due = last + dt.timedelta(days=stability)
            state = State.REVIEW if stability > 1 else State.LEARNING
            good = rng.random() < 0.4 + 0.5 * ability[user.id]
            states.append(ReviewState(user=user, card_id=card, state=state, step=None if state == State.REVIEW else 0,
                                      stability=round(stability, 4), difficulty=round(rng.uniform(2, 9), 4),
                                      due=due, last_review=last))
            logs.append(ReviewLog(user=user, card_id=card, rating=3 if good else 1, reviewed_at=last,
                                  state_before=State.NEW if rng.random() < 0.3 else State.REVIEW,
                                  state_after=state, elapsed_days=round(rng.uniform(0, 10), 3), due_after=due))
    return states, logs
