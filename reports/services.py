"""Writes: a learner's report, and the staff's answer to it (answered, fixed, declined)."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from quizzes.models import Attempt, Part, Question
from reports.models import ANSWER_MAX, FIXED_IN_MAX, TEXT_MAX, ProblemReport
from reports.roles import is_report_staff


class ReportRefused(Exception):
    """A report or an answer that cannot be saved; the message says why, for the page."""


# ----------------------------------------------------------------------------- what the learner saw


def question_snapshot(question: Question) -> str:
    """The question as text: title, body and each part's prompt (placeholders as written)."""
    lines = [question.title, "", question.body]
    for part in question.parts.all():
        lines += ["", f"Part {part.key}: {part.prompt}".rstrip(": ").rstrip()]
    return "\n".join(lines).strip()


def card_snapshot(card) -> str:
    return f"{card.front}\n\n---\n\n{card.back}".strip()


def _digest(snapshot: str, keys) -> str:
    return hashlib.sha256(json.dumps([snapshot, keys], sort_keys=True, default=str).encode()).hexdigest()


def question_fingerprint(question: Question) -> tuple[str, str]:
    """(snapshot, hash): the hash covers the answer keys too, so a corrected key counts as a change."""
    snapshot = question_snapshot(question)
    return snapshot, _digest(snapshot, [(p.key, p.spec) for p in question.parts.all()])


def card_fingerprint(card) -> tuple[str, str]:
    snapshot = card_snapshot(card)
    return snapshot, _digest(snapshot, card.answer)


# ----------------------------------------------------------------------------- fixed_in

COMMIT = re.compile(r"[0-9a-f]{7,40}")
ERRATA = re.compile(r"(?:docs/)?errata(?:\.md)?#([\w-]+)")
ERRATA_FILE = Path(settings.BASE_DIR) / "docs" / "errata.md"
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@lru_cache(maxsize=4)
def _errata_anchors(mtime: float) -> frozenset[str]:
    return frozenset(heading_anchor(h) for h in HEADING.findall(ERRATA_FILE.read_text(encoding="utf-8")))


def errata_anchors() -> frozenset[str] | None:
    """The headings' anchors of docs/errata.md, or None where the file is not deployed (then any well-formed
    anchor is taken)."""
    try:
        return _errata_anchors(ERRATA_FILE.stat().st_mtime)
    except OSError:
        return None


def fixed_in_clean(value: str) -> str:
    """A commit hash (7 to 40 hex digits), an anchor of docs/errata.md (written ``docs/errata.md#anchor``,
    ``errata.md#anchor`` or ``errata#anchor``) or an http(s) URL; returned in its canonical form."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Say where it was fixed: a commit, an errata entry or a URL.")
    if len(value) > FIXED_IN_MAX:
        raise ValidationError(f"At most {FIXED_IN_MAX} characters.")
    if COMMIT.fullmatch(value.lower()):
        return value.lower()
    if match := ERRATA.fullmatch(value):
        anchor = match.group(1).lower()
        known = errata_anchors()
        if known is not None and anchor not in known:
            raise ValidationError(f"docs/errata.md has no heading with the anchor #{anchor}.")
        return f"docs/errata.md#{anchor}"
    if value.lower().startswith(("http://", "https://")):
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationError("That is not a valid http(s) URL.") from None
        return value
    raise ValidationError("Give a commit hash (7 to 40 hex digits), an errata anchor (docs/errata.md#...) or an "
                          "http(s) URL.")


def fixed_in_kind(value: str) -> str:
    """commit, errata or url: how a page shows it."""
    if COMMIT.fullmatch(value):
        return "commit"
    return "errata" if value.startswith("docs/errata.md#") else "url"


# ----------------------------------------------------------------------------- writes


def _text_clean(text: str, *, limit: int, empty: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ReportRefused(empty)
    if len(text) > limit:
        raise ReportRefused(f"At most {limit} characters, please ({len(text)} written).")
    return text


def report_create(*, reporter: User, where: str, text: str, question: Question | None = None, card=None,
                  part: Part | None = None, attempt: Attempt | None = None) -> ProblemReport:
    """A learner's report on a question (from its page or a quiz review) or on a drill card. The views check
    that the learner may see what they report on; here the pieces must fit together."""
    text = _text_clean(text, limit=TEXT_MAX, empty="Say what is wrong.")
    if where not in ProblemReport.Where.values:
        raise ReportRefused("Unknown page.")
    if where == ProblemReport.Where.CARD:
        if card is None:
            raise ReportRefused("A card report needs its card.")
        snapshot, digest = card_fingerprint(card)
        subject = f"{card.deck.slug}/{card.key}"
    else:
        if question is None:
            raise ReportRefused("A report needs its question.")
        snapshot, digest = question_fingerprint(question)
        subject = question.slug
    if part is not None and (question is None or part.question_id != question.id):
        raise ReportRefused("That part is not one of this question's.")
    if where == ProblemReport.Where.REVIEW and attempt is None:
        raise ReportRefused("A review report needs its attempt.")
    return ProblemReport.objects.create(reporter=reporter, where=where, question=question, part=part, card=card,
                                        attempt=attempt, subject=subject, text=text, snapshot=snapshot,
                                        content_hash=digest)


ACTIONS = {"answer": ProblemReport.Status.ANSWERED, "fixed": ProblemReport.Status.FIXED,
           "declined": ProblemReport.Status.DECLINED}


def report_respond(*, report: ProblemReport, actor: User, action: str, answer: str = "",
                   fixed_in: str = "") -> ProblemReport:
    """The staff's answer: ``answer`` (needs a text), ``fixed`` (needs where: ``fixed_in``; the text is
    optional) or ``declined`` (needs a text: the learner is told why). A blank text keeps the one already
    sent. Records who and when."""
    if not is_report_staff(actor):
        raise PermissionDenied("Only instructors and content authors answer reports.")
    if action not in ACTIONS:
        raise ReportRefused("Choose: send the answer, mark it fixed, or decline.")
    answer = (answer or "").replace("\r\n", "\n").strip()
    if len(answer) > ANSWER_MAX:
        raise ReportRefused(f"An answer has at most {ANSWER_MAX} characters ({len(answer)} written).")
    answer = answer or report.answer
    if action in ("answer", "declined") and not answer:
        raise ReportRefused("Write the answer the learner will read." if action == "answer"
                            else "Say why it is declined: the learner reads it.")
    if action == "fixed":
        try:
            report.fixed_in = fixed_in_clean(fixed_in)
        except ValidationError as exc:
            raise ReportRefused(" ".join(exc.messages)) from None
    else:
        report.fixed_in = ""
    report.answer, report.status = answer, ACTIONS[action]
    report.answered_by, report.answered_at = actor, timezone.now()
    report.save(update_fields=["answer", "status", "fixed_in", "answered_by", "answered_at"])
    return report
