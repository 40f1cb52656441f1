"""Single choice, multiple choice and ordering parts: the learner answers option ids ("a", "a,c", "c,a,b")."""

from __future__ import annotations

import re

from .answers import AnswerResult, invalid

_ID = re.compile(r"[^\s,;]+")


def _ids(text: str, options: list[dict]) -> tuple[list[str], str | None]:
    """The chosen ids in order, or a validation message naming the position of an unknown id."""
    if len(text) > 1000:
        return [], "Your answer is too long: type the option letters, like a,c."
    known = {str(o["id"]).lower(): str(o["id"]) for o in options}
    chosen: list[str] = []
    for m in _ID.finditer(text):
        token = m.group().strip("()[]{}.'\"").lower()
        if token not in known:
            return [], (f"Unknown option `{m.group()[:20]}` at position {m.start() + 1}. "
                        f"Options: {', '.join(known.values())}.")
        if known[token] not in chosen:
            chosen.append(known[token])
    if not chosen:
        return [], "Choose an option first."
    return chosen, None


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _parsed(ids: list[str]) -> str:
    return "\\text{" + ", ".join(ids) + "}"


def grade_choice(text: str, spec: dict) -> AnswerResult:
    options = spec.get("options") or []
    chosen, error = _ids(text, options)
    if error:
        return invalid(error)
    single = spec.get("kind") == "single_choice"
    if single and len(chosen) > 1:
        return invalid(f"Choose one option only (you chose {', '.join(chosen)}).")
    by_id = {str(o["id"]): o for o in options}
    correct_ids = {str(o["id"]) for o in options if o.get("correct")}
    right = sum(1 for c in chosen if c in correct_ids)
    wrong = len(chosen) - right
    exact = set(chosen) == correct_ids
    if single or spec.get("partial", True) is False:
        score = 1.0 if exact else 0.0
    else:
        score = max(0.0, (right - wrong) / max(1, len(correct_ids)))
    notes = [_sentence(str(by_id[c]["feedback"])) for c in chosen if by_id[c].get("feedback")]
    if not exact and not single:
        missed = len(correct_ids) - right
        notes.append(f"You chose {right} of {len(correct_ids)} correct options"
                     + (f" and {wrong} wrong one{'s' if wrong != 1 else ''}" if wrong else "")
                     + (f"; {missed} correct option{'s are' if missed != 1 else ' is'} missing." if missed else "."))
    feedback = " ".join(notes) or ("Correct." if exact else "Not the right option.")
    return AnswerResult(exact, round(score, 6), feedback, _parsed(chosen), None)


def kendall_score(answer: list[str], order: list[str]) -> float:
    """max(0, Kendall tau) between the learner's order and the key: 1 exact, 0 for reversed or random."""
    rank = {x: i for i, x in enumerate(answer)}
    n = len(order)
    if n < 2:
        return 1.0
    concordant = discordant = 0
    for i in range(n):
        for j in range(i + 1, n):
            if rank[order[i]] < rank[order[j]]:
                concordant += 1
            else:
                discordant += 1
    return max(0.0, (concordant - discordant) / (n * (n - 1) / 2))


def grade_ordering(text: str, spec: dict) -> AnswerResult:
    options = spec.get("options") or []
    order = [str(x) for x in spec.get("order") or []]
    chosen, error = _ids(text, options)
    if error:
        return invalid(error)
    if sorted(chosen) != sorted(order):
        missing = [x for x in order if x not in chosen]
        return invalid(f"Put every option in order exactly once: {', '.join(order and sorted(order))}"
                       + (f" (missing {', '.join(missing)})." if missing else "."))
    exact = chosen == order
    score = 1.0 if exact else (kendall_score(chosen, order) if spec.get("partial", False) else 0.0)
    if exact:
        feedback = "Correct."
    else:
        first = next(i for i, (a, b) in enumerate(zip(chosen, order, strict=True)) if a != b)
        feedback = f"Not the right order: the first {first} step{'s are' if first != 1 else ' is'} right."
        if first == 0:
            feedback = "Not the right order: the first step is already different."
    return AnswerResult(exact, round(score, 6), feedback, _parsed(chosen), None)
