"""The load test's database side (bench/load/run.py runs it as a subprocess, with the stack's environment):

    python bench/load/db.py seed  --learners N --submitters M --out users.json [--tag T] [--lab SLUG]
    python bench/load/db.py check --acks acks.jsonl [--json]

``seed`` makes, in the database that DATABASE_URL (and DJANGO_SETTINGS_MODULE) name, an instructor, a cohort
of N learners (one password, from DEMO_PASSWORD or random; and one more for run.py's warm-up), a timed quiz of that cohort (unlimited attempts,
an hour long, so no attempt of a run meets its deadline) and M lab submitters with an API token each, and
writes what the Locust users need to ``--out``. It needs the content: ``manage.py load_content`` first.

``check`` is the lost-answer check: every (attempt, part) the server acknowledged a save for (HTTP 2xx,
``saved: true``), as the Locust learners recorded it in the JSON-lines file, must have a row in the database
whose answer is the last value acknowledged for it (``lost_answers``). It prints the counts and exits 1
on any loss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = 6  # in the load-test quiz
TEXT_KINDS = ("numeric", "symbolic")  # the parts learners autosave to: every value they type is new
ASKED_KINDS = ("numeric", "symbolic", "single_choice", "multiple_choice", "ordering", "free")


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
    import django

    django.setup()


# ----------------------------------------------------------------------------- seeding


def seed(*, learners: int, submitters: int, tag: str, lab: str, questions: int = QUESTIONS) -> dict:
    """Users, cohort, quiz and tokens for one run (see the module's docstring); returns the users file's dict."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from cohorts.models import Enrolment
    from cohorts.roles import STUDENT
    from cohorts.services import cohort_create
    from cohorts.tokens import token_create
    from content.reader import CARD_GROUP
    from labs.models import Lab
    from quizzes.models import Question, Quiz

    if not Lab.objects.filter(slug=lab).exists():
        raise SystemExit(f"no lab {lab!r} in this database: run `manage.py load_content` first")
    bank = [q for q in Question.objects.exclude(group=CARD_GROUP).prefetch_related("parts").order_by("slug")
            if any(p.kind in TEXT_KINDS for p in q.parts.all()) and all(p.kind in ASKED_KINDS for p in q.parts.all())]
    if len(bank) < questions:
        raise SystemExit(f"the question bank has {len(bank)} usable questions: run `manage.py load_content` first")
    chosen = random.Random(tag).sample(bank, questions)
    password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
    prefix = f"load-{tag}"
    with transaction.atomic():
        instructor = User.objects.create_user(username=f"{prefix}-instructor", password=password)
        cohort = cohort_create(name=f"Load test {tag} ({learners} learners)", instructor=instructor)
        hashed = make_password(password)  # one hash for all: seeding 1,000 learners takes a second, not minutes
        width = max(4, len(str(learners)))
        names = [f"{prefix}-l{i:0{width}d}" for i in range(1, learners + 1)]
        warmup = f"{prefix}-warmup"  # a learner of its own for run.py's warm-up, not one Locust plays
        User.objects.bulk_create([User(username=n, password=hashed) for n in [*names, warmup]], batch_size=1000)
        users = list(User.objects.filter(username__in=[*names, warmup]))
        group, _ = Group.objects.get_or_create(name=STUDENT)
        User.groups.through.objects.bulk_create([User.groups.through(user_id=u.id, group_id=group.id) for u in users],
                                                batch_size=1000)
        Enrolment.objects.bulk_create([Enrolment(cohort=cohort, student=u) for u in users], batch_size=1000)
        quiz = Quiz.objects.create(
            slug=f"{prefix}-quiz", title=f"Load test quiz {tag}", cohort=cohort, created_by=instructor,
            description="Made by bench/load/db.py for the load test.", question_slugs=[q.slug for q in chosen],
            time_limit_s=3600, max_attempts=None, shuffle_options=True, feedback=Quiz.Feedback.AFTER_SUBMIT)
        lab_users = []
        for i in range(1, submitters + 1):
            user = User.objects.create_user(username=f"{prefix}-m{i:02d}", password=password)
            Group.objects.get(name=STUDENT).user_set.add(user)
            lab_users.append({"username": user.username, "token": token_create(user=user, days=2)[1]})
    return {"tag": tag, "quiz": quiz.slug, "password": password, "learners": names, "submitters": lab_users,
            "lab": lab, "warmup": warmup}


# ----------------------------------------------------------------------------- the lost-answer check


def read_acks(path: Path) -> list[dict]:
    """The JSON-lines file the Locust learners wrote: one object per save sent and per save acknowledged."""
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def lost_answers(records: Iterable[dict], *, examples: int = 5) -> dict:
    """Compare every acknowledged save with the database.

    A record is ``{"event": "sent" | "ack", "learner", "attempt", "part", "value", "seq"}``: a learner writes
    ``sent`` before each autosave and ``ack`` when the server answered 2xx with ``saved: true``; ``seq`` grows
    with each save, so the last ack of an (attempt, part) is the one with the highest ``seq``, and its value
    is what the row must hold. Every value is new, so a row holding an older one is a lost save.
    ``missing``: no row for an acknowledged (attempt, part); ``mismatched``: a row whose answer is not the last
    acknowledged value; ``wrong_owner``: the row is in another learner's attempt. ``superseded`` (not a
    loss): the row holds the value of a later save the client sent but never saw acknowledged (it timed
    out, or the run stopped while it was in flight) and the server did save."""
    from quizzes.models import AttemptAnswer

    records = list(records)
    acks = [r for r in records if r.get("event", "ack") == "ack"]
    last: dict[tuple[int, int], dict] = {}
    for ack in acks:
        key = (int(ack["attempt"]), int(ack["part"]))
        if key not in last or ack["seq"] >= last[key]["seq"]:
            last[key] = ack
    later: dict[tuple[int, int], set[str]] = {}
    for r in records:
        key = (int(r["attempt"]), int(r["part"]))
        if r.get("event") == "sent" and key in last and r["seq"] > last[key]["seq"]:
            later.setdefault(key, set()).add(r["value"])
    attempt_ids = sorted({a for a, _ in last})
    rows: dict[tuple[int, int], tuple[str, str]] = {}
    for start in range(0, len(attempt_ids), 1000):
        for attempt_id, part_id, answer, owner in AttemptAnswer.objects.filter(
                attempt_id__in=attempt_ids[start:start + 1000]).values_list(
                    "attempt_id", "part_id", "answer", "attempt__user__username"):
            rows[(attempt_id, part_id)] = (answer, owner)
    missing = [k for k in last if k not in rows]
    differ = [k for k in last if k in rows and rows[k][0] != last[k]["value"]]
    superseded = [k for k in differ if rows[k][0] in later.get(k, ())]
    mismatched = [k for k in differ if k not in superseded]
    wrong_owner = [k for k in last if k in rows and rows[k][1] != last[k]["learner"]]
    return {
        "saves_sent": sum(1 for r in records if r.get("event") == "sent"),
        "acknowledged_saves": len(acks),
        "learners": len({a["learner"] for a in acks}),
        "attempts": len(attempt_ids),
        "answers_checked": len(last),
        "found": len(last) - len(missing) - len(differ),
        "superseded": len(superseded),
        "missing": len(missing),
        "mismatched": len(mismatched),
        "wrong_owner": len(wrong_owner),
        "examples": [{"attempt": k[0], "part": k[1], "acknowledged": last[k]["value"],
                      "in_database": rows[k][0] if k in rows else None}
                     for k in (missing + mismatched + wrong_owner)[:examples]],
    }


def attempts_state(acks: Iterable[dict]) -> dict:
    """How the run's attempts ended: a count per status (open ones were cut off by the end of the run)."""
    from django.db.models import Count

    from quizzes.models import Attempt

    ids = {int(a["attempt"]) for a in acks}
    return dict(Attempt.objects.filter(id__in=ids).values_list("status").annotate(n=Count("id")).order_by("status"))


def check_report(report: dict) -> str:
    lost = report["missing"] + report["mismatched"] + report["wrong_owner"]
    return (f"lost-answer check: {report['saves_sent']} saves sent, {report['acknowledged_saves']} acknowledged, "
            f"by {report['learners']} learners in {report['attempts']} attempts; {report['answers_checked']} answers "
            f"checked (the last acknowledged value of each attempt and part): {report['found']} found, "
            f"{report['superseded']} replaced by a later save sent but not acknowledged, {report['missing']} missing, "
            f"{report['mismatched']} mismatched, {report['wrong_owner']} in another learner's attempt: "
            + ("PASS" if lost == 0 else "FAIL"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed", help="users, cohort, quiz and API tokens for a run")
    s.add_argument("--learners", type=int, required=True)
    s.add_argument("--submitters", type=int, default=0)
    s.add_argument("--tag", default=time.strftime("%m%d%H%M%S"), help="names are load-TAG-...")
    s.add_argument("--lab", default="int8-asym")
    s.add_argument("--out", type=Path, required=True, help="the users file for the locustfile (JSON)")
    c = sub.add_parser("check", help="the lost-answer check")
    c.add_argument("--acks", type=Path, required=True)
    c.add_argument("--json", action="store_true", help="print the report as one JSON line too")
    args = parser.parse_args()
    _setup()
    if args.command == "seed":
        started = time.monotonic()
        made = seed(learners=args.learners, submitters=args.submitters, tag=args.tag, lab=args.lab)
        args.out.write_text(json.dumps(made, indent=1))
        print(f"seeded {len(made['learners'])} learners, {len(made['submitters'])} lab submitters, quiz "
              f"{made['quiz']} in {time.monotonic() - started:.1f} s -> {args.out}")
        return 0
    records = read_acks(args.acks)
    report = lost_answers(records)
    report["attempt_status"] = attempts_state(records)
    print(check_report(report))
    for example in report["examples"]:
        print(f"  {example}")
    if args.json:
        print(json.dumps(report))
    return 0 if report["missing"] + report["mismatched"] + report["wrong_owner"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
