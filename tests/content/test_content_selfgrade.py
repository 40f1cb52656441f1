"""Every graded part and card answer in fixtures/, answered through the real grader with its own key (must be
correct) and with each of its misconceptions and wrong options (must be wrong, with that rule's feedback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graders.answers import check_answer, key_number, sample_params
from tests.bank import fixtures_content

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)  # parameterized parts: a few variants each


def _substitute(expr: str, params: dict) -> str:
    """A formula with the parameters written in as numbers (what a learner would type for that variant)."""
    for name in sorted(params, key=len, reverse=True):
        value = params[name]
        text = repr(value) if isinstance(value, int) or not float(value).is_integer() else str(int(value))
        expr = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", f"({text})", expr)
    return expr


def _number_text(value: float) -> str:
    return repr(float(value)) if value != int(value) or abs(value) > 1e15 else str(int(value))


def cases(spec: dict, params: dict):
    """(label, answer text, expect_correct, misconception id or None, feedback fragment)."""
    kind = spec["kind"]
    if kind == "symbolic":
        yield "key", _substitute(spec["expected"], params), True, None, None
        for m in spec.get("misconceptions") or []:
            yield m["id"], _substitute(m["expr"], params), False, m["id"], m["feedback"]
    elif kind == "numeric":
        key = key_number(spec["formula"] if "formula" in spec else spec["answer"], params)
        yield "key", _number_text(key), True, None, None
        for m in spec.get("misconceptions") or []:
            value = key_number(m["formula"] if "formula" in m else m["value"], params)
            yield m["id"], _number_text(value), False, m["id"], m["feedback"]
    elif kind in ("single_choice", "multiple_choice"):
        right = [o["id"] for o in spec["options"] if o.get("correct")]
        yield "key", ",".join(right), True, None, None
        for o in spec["options"]:
            if not o.get("correct"):
                fb = o.get("feedback")
                yield f"option {o['id']}", o["id"], False, None, fb.strip().rstrip(".") if fb else None
    elif kind == "ordering":
        yield "key", ",".join(spec["order"]), True, None, None
        yield "reversed", ",".join(reversed(spec["order"])), False, None, None


def _items():
    content = fixtures_content()
    for q in content.questions:
        for p in q.parts:
            if p.kind != "free":
                yield pytest.param(p.spec, id=f"{q.group}/{q.slug}:{p.key}")
    for c in content.cards:
        if c.answer:
            yield pytest.param(c.answer, id=f"drills/{c.deck}:{c.id}")


def selfgrade(spec: dict) -> list[str]:
    failures = []
    variants = [sample_params(spec, s) for s in SEEDS] if spec.get("params") else [{}]
    for params in variants:
        for label, text, want, mid, feedback in cases(spec, params):
            r = check_answer(text, spec, params=params or None)
            where = f"{label} {text!r} params={params}"
            if r.error:
                failures.append(f"{where}: validation error {r.error}")
            elif r.correct is not want:
                failures.append(f"{where}: correct={r.correct} ({r.feedback})")
            elif mid and r.misconception != mid:
                failures.append(f"{where}: matched {r.misconception!r}, not {mid!r} ({r.feedback})")
            elif feedback and feedback not in r.feedback:
                failures.append(f"{where}: feedback {r.feedback!r} lacks {feedback!r}")
    return failures


def test_the_fixtures_have_graded_parts():
    assert len(list(_items())) >= 60


@pytest.mark.parametrize("spec", list(_items()))
def test_every_key_and_misconception_through_the_grader(spec):
    assert selfgrade(spec) == []


def _parameterized():
    return [item for item in _items() if item.values[0].get("params")]


def test_at_least_40_parts_have_per_learner_numbers():
    assert len(_parameterized()) >= 40


@pytest.mark.parametrize("spec", _parameterized())
def test_a_key_copied_from_another_learner_is_graded_wrong(spec):
    """Learners get different numbers (the pages seed with user ids), and one learner's right answer, typed
    by another, is wrong for the other: for at least two thirds of the other learners (two variants may
    share a key, as 256 x 512 and 64 x 2048 tokens do)."""
    mine = sample_params(spec, 1)
    others = [p for seed in range(2, 62) if (p := sample_params(spec, seed)) != mine]
    assert others, "every learner gets the same numbers"
    passing = [theirs for theirs in others
               if check_answer(next(cases(spec, theirs))[1], spec, params=mine).correct]
    assert len(passing) < len(others) / 3, f"{len(passing)} of {len(others)} copied keys pass: {passing[:3]}"


if __name__ == "__main__":  # python tests/content/test_content_selfgrade.py: a quick author's check
    import sys

    sys.path.insert(0, str(ROOT))
    bad = 0
    for item in _items():
        problems = selfgrade(item.values[0])
        for p in problems:
            bad += 1
            print(f"{item.id}: {p}")
    print(f"{bad} failures")
