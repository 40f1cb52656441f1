"""Item analysis of a quiz in a cohort (Moodle's quiz statistics, on QuantPrep's parts): for every part,
over one graded timed attempt per student (their first, or their best), its facility, standard deviation,
discrimination and the misconceptions its answers matched. Computed from sums the database aggregates, so
the cost does not grow with what Python loads.

Definitions (the contract of ``item_stats --json``): a part's score is the fraction of its points earned
(0..1; an unanswered part scores 0, grading keeps a row for it). ``facility`` is the mean score; ``sd`` the
sample standard deviation (n − 1), None when n < 2; ``discrimination`` the Pearson correlation between the
part's score and the attempt's rest score (the points earned on its other parts), None when either has no
variance."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, FloatField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from cohorts.models import Cohort
from cohorts.selectors import cohort_graded_answers
from graders.answers import sample_params
from quizzes.models import Attempt, AttemptAnswer, Part, Quiz

HISTOGRAM_BINS = ((0.0, 0.25, "0–¼"), (0.25, 0.5, "¼–½"), (0.5, 0.75, "½–¾"), (0.75, 1.0, "¾–1"), (1.0, None, "1"))
FIRST, BEST = "first", "best"


@dataclass
class PartStats:
    part_id: int
    question: str
    part: str
    points: float
    n: int
    facility: float | None
    sd: float | None
    discrimination: float | None
    undecided: int
    histogram: list[int]
    misconceptions: dict[str, int] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    title: str = ""  # the question's, and the part's place in it (content.names.part_label), for the page
    order: int = 0

    def as_json(self) -> dict:
        return {"question": self.question, "part": self.part, "n": self.n, "facility": self.facility, "sd": self.sd,
                "discrimination": self.discrimination, "misconceptions": self.misconceptions}


def _analysed_attempts(*, cohort: Cohort, quiz: Quiz, which: str) -> QuerySet[Attempt]:
    """One graded timed attempt per enrolled student: the lowest-numbered, or the highest-scoring (the
    lower number on a tie)."""
    graded = Attempt.objects.filter(quiz=quiz, status=Attempt.Status.GRADED, practice=False,
                                    user__enrolments__cohort=cohort)
    order = ("number",) if which == FIRST else ("-score", "number")
    pick = graded.filter(user=OuterRef("user")).order_by(*order).values("id")[:1]
    return graded.filter(id=Subquery(pick))


def _pearson(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    vx, vy = n * sxx - sx * sx, n * syy - sy * sy
    if vx <= 1e-12 * max(1.0, n * sxx) or vy <= 1e-12 * max(1.0, n * syy):
        return None  # one of them does not vary: no correlation to speak of
    return max(-1.0, min(1.0, (n * sxy - sx * sy) / math.sqrt(vx * vy)))


def _flags(stats: PartStats) -> list[str]:
    flags = []
    if stats.discrimination is not None and stats.discrimination < 0:
        flags.append("negative discrimination")
    if stats.facility is not None and stats.facility < settings.ITEM_FACILITY_LOW:
        flags.append("very hard")
    if stats.facility is not None and stats.facility > settings.ITEM_FACILITY_HIGH:
        flags.append("very easy")
    if stats.n and stats.undecided / stats.n > settings.ITEM_UNDECIDED_SHARE:
        flags.append(f"{100 * stats.undecided / stats.n:.0f}% undecided")
    return flags


def item_stats(*, cohort: Cohort, quiz: Quiz, which: str = FIRST) -> tuple[int, list[PartStats]]:
    """(number of attempts analysed, the parts' statistics in the quiz's order). Three queries."""
    attempts = _analysed_attempts(cohort=cohort, quiz=quiz, which=which)
    n_attempts = attempts.count()
    rows = AttemptAnswer.objects.filter(attempt__in=attempts)
    x = Cast(F("score"), FloatField())
    rest = F("attempt__score") - F("score") * F("part__points")
    bins = {f"bin{i}": Count("id", filter=Q(score__gte=lo) & (Q(score__lt=hi) if hi is not None else Q()))
            for i, (lo, hi, _) in enumerate(HISTOGRAM_BINS)}
    sums = (rows.values("part_id").annotate(n=Count("id"), sx=Sum(x), sxx=Sum(x * x), sy=Sum(rest), syy=Sum(rest * rest),
                                            sxy=Sum(x * rest), undecided=Count("id", filter=Q(undecided=True)), **bins))
    misconceptions: dict[int, dict[str, int]] = {}
    for part_id, rule, count in (rows.exclude(misconception="").values("part_id", "misconception")
                                 .annotate(c=Count("id")).values_list("part_id", "misconception", "c")
                                 .order_by("part_id", "-c", "misconception")):
        misconceptions.setdefault(part_id, {})[rule] = count
    parts = Part.objects.select_related("question").in_bulk([s["part_id"] for s in sums])
    stats = []
    for s in sums:
        part, n = parts[s["part_id"]], s["n"]
        sd = math.sqrt(max(0.0, (s["sxx"] - s["sx"] ** 2 / n) / (n - 1))) if n >= 2 else None
        item = PartStats(part_id=part.id, question=part.question.slug, part=part.key, points=part.points, n=n,
                         facility=s["sx"] / n, sd=sd,
                         discrimination=_pearson(n, s["sx"], s["sy"], s["sxx"], s["syy"], s["sxy"]),
                         undecided=s["undecided"], histogram=[s[f"bin{i}"] for i in range(len(HISTOGRAM_BINS))],
                         misconceptions=misconceptions.get(part.id, {}), title=part.question.title, order=part.order)
        item.flags = _flags(item)
        stats.append(item)
    position = {slug: i for i, slug in enumerate(quiz.question_slugs or [])}
    stats.sort(key=lambda p: (position.get(p.question, len(position)), p.question, parts[p.part_id].order))
    return n_attempts, stats


def item_stats_json(*, cohort: Cohort, quiz: Quiz) -> dict:
    """The contract of ``item_stats --json``: first attempts."""
    n, stats = item_stats(cohort=cohort, quiz=quiz, which=FIRST)
    return {"quiz": quiz.slug, "cohort": cohort.id, "attempts": n, "parts": [p.as_json() for p in stats]}


# ----------------------------------------------------------------------------- what the answers to a part say

TOP_WRONG = 15
ANSWERS_SHOWN = 200
# An answer for a person to score: the grader could not decide it, or could not read it.
NEEDS_A_PERSON = Q(undecided=True) | (Q(parsed="") & ~Q(answer=""))


def part_answers(*, cohort: Cohort, part: Part) -> QuerySet[AttemptAnswer]:
    """The graded answers to a part by the cohort's students (cohort_graded_answers)."""
    return cohort_graded_answers(cohort=cohort).filter(part=part)


@dataclass
class PartReport:
    answers: int
    misconceptions: list[dict]  # id, feedback (as learners read it), count
    wrong: list[dict]  # parsed (what the grader read), count, example (one raw answer), misconception
    unparsed: int  # undecided, or answered and not read: for a person to score
    variants: list[dict]  # for a part with numbers per learner: params, answers, facility, top misconception


def part_report(*, cohort: Cohort, part: Part) -> PartReport:
    """STACK's response analysis for one part: how often each misconception rule fired, and the commonest
    wrong answers grouped by what the grader read them as (not by their raw text). Three or four queries."""
    rows = part_answers(cohort=cohort, part=part)
    misconceptions = [
        {"id": r["misconception"], "feedback": r["feedback"], "count": r["count"]}
        for r in rows.exclude(misconception="").values("misconception")
        .annotate(count=Count("id"), feedback=Max("feedback")).order_by("-count", "misconception")]
    wrong = [
        {"parsed": r["parsed"], "count": r["count"], "example": r["example"], "misconception": r["rule"]}
        for r in rows.filter(score__lt=1).exclude(parsed="").values("parsed")
        .annotate(count=Count("id"), example=Min("answer"), rule=Max("misconception"))
        .order_by("-count", "parsed")[:TOP_WRONG]]
    totals = rows.aggregate(answers=Count("id"), unparsed=Count("id", filter=NEEDS_A_PERSON))
    variants = []
    if part.spec.get("params"):
        by_params: dict[str, dict] = {}
        for seed, score, rule in rows.values_list("attempt__seed", "score", "misconception"):
            params = sample_params(part.spec, seed + part.id)
            key = ", ".join(f"{k} = {v:g}" for k, v in sorted(params.items()))
            v = by_params.setdefault(key, {"params": key, "answers": 0, "scores": 0.0, "rules": {}})
            v["answers"] += 1
            v["scores"] += score
            if rule:
                v["rules"][rule] = v["rules"].get(rule, 0) + 1
        for v in by_params.values():
            v["facility"] = v.pop("scores") / v["answers"]
            rules = v.pop("rules")
            v["top_misconception"] = max(rules, key=rules.get) if rules else ""
        variants = sorted(by_params.values(), key=lambda v: (-v["answers"], v["params"]))
    return PartReport(answers=totals["answers"], misconceptions=misconceptions, wrong=wrong,
                      unparsed=totals["unparsed"], variants=variants)


def part_answers_filtered(*, cohort: Cohort, part: Part, misconception: str = "", parsed: str = "",
                          unparsed: bool = False) -> tuple[int, list[AttemptAnswer]]:
    """The answers behind one entry of the report: (how many, the latest of them up to ANSWERS_SHOWN)."""
    rows = part_answers(cohort=cohort, part=part)
    if misconception:
        rows = rows.filter(misconception=misconception)
    if parsed:
        rows = rows.filter(parsed=parsed, score__lt=1)
    if unparsed:
        rows = rows.filter(NEEDS_A_PERSON)
    shown = list(rows.select_related("attempt__user", "attempt__quiz").order_by("-attempt__closed_at", "-id")
                 [:ANSWERS_SHOWN])
    return rows.count(), shown


def cohort_top_misconceptions(*, cohort: Cohort, days: int = 7, limit: int = 5) -> list[dict]:
    """The misconception rules the cohort's graded answers matched most in the last ``days`` days, each with
    its part and a quiz that asked it (for the link to the part's report). One query."""
    since = timezone.now() - dt.timedelta(days=days)
    rows = (cohort_graded_answers(cohort=cohort).filter(attempt__closed_at__gte=since).exclude(misconception="")
            .values("misconception", "part_id", "part__key", "part__order", "part__question__slug",
                    "part__question__title")
            .annotate(count=Count("id"), quiz=Max("attempt__quiz__slug"), feedback=Max("feedback"))
            .order_by("-count", "misconception")[:limit])
    return [{"id": r["misconception"], "part_id": r["part_id"], "part": f"{r['part__question__slug']}:{r['part__key']}",
             "title": r["part__question__title"], "order": r["part__order"],
             "quiz": r["quiz"], "count": r["count"], "feedback": r["feedback"]} for r in rows]


def part_by_cohort(*, part: Part, cohorts: QuerySet[Cohort]) -> list[dict]:
    """The part in each of the given cohorts (those the instructor teaches): answers, facility and the
    misconception counts, so that one cohort can be read against another. Two queries."""
    rows = AttemptAnswer.objects.filter(part=part, graded=True, attempt__status=Attempt.Status.GRADED,
                                        attempt__user__enrolments__cohort__in=cohorts).filter(
        Q(attempt__quiz__cohort=F("attempt__user__enrolments__cohort")) | Q(attempt__quiz__cohort__isnull=True))
    key = "attempt__user__enrolments__cohort"
    out = {r[key]: {"cohort": r[key], "answers": r["n"], "facility": r["s"] / r["n"], "misconceptions": {}}
           for r in rows.values(key).annotate(n=Count("id"), s=Sum("score"))}
    for r in rows.exclude(misconception="").values(key, "misconception").annotate(n=Count("id")).order_by("-n"):
        out[r[key]]["misconceptions"][r["misconception"]] = r["n"]
    names = dict(cohorts.values_list("id", "name"))
    return sorted(({**v, "name": names[c]} for c, v in out.items()), key=lambda v: v["name"])
