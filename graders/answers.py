"""The one entry point for grading a learner's answer to a part: quiz pages, drill cards and the CLI.

``check_answer(text, spec)`` handles every part kind of ``docs/answer-spec.md``. Learner text only ever
goes through ``graders.math.parser`` (a whitelisting parser that builds our own tree); no ``eval``,
``exec``, ``sympify`` or ``parse_expr`` touches it. Answer keys are prepared once per (spec, params) and
cached, so a check costs a parse plus ~30 bounded evaluations of the answer.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import random
import re
from dataclasses import dataclass

from .math import equivalence as eq
from .math.evaluate import Undefined, compile_tree, evaluate
from .math.nodes import FUNCTIONS, to_ascii, to_latex
from .math.parser import Env, ParseError, parse


@dataclass(frozen=True)
class AnswerResult:
    correct: bool
    score: float  # fraction of the part's points in [0, 1]
    feedback: str  # shown to the learner
    parsed: str | None  # the answer as the grader read it, as LaTeX; None when it did not parse
    error: str | None  # validation message pointing at the position: not graded, costs nothing
    undecided: bool = False  # the check could not decide (timeout): not a wrong verdict
    misconception: str | None = None  # id of the misconception rule matched, if any
    text: str | None = None  # a symbolic answer as read, in plain text (the page's switch from the math editor)

    def as_json(self) -> dict:
        """Exactly the five fields of the JSON contract (the CLI's --json, the pages' API)."""
        return {
            "correct": self.correct,
            "score": self.score,
            "feedback": self.feedback,
            "parsed": self.parsed,
            "error": self.error,
        }


def invalid(message: str) -> AnswerResult:
    """Input we could not read: a validation message, never a wrong answer."""
    return AnswerResult(correct=False, score=0.0, feedback="", parsed=None, error=message)


from . import choice, numeric  # noqa: E402  (they build AnswerResult, defined above)

__all__ = ["AnswerResult", "check_answer", "preview_answer", "validate_spec", "sample_params", "KINDS"]

log = logging.getLogger("graders")

KINDS = ("symbolic", "numeric", "single_choice", "multiple_choice", "ordering", "free")
TESTS = ("equivalent", "same_form")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
MAX_PARAM_COMBOS = 300
# Content is validated where no learner waits (load_content, manage.py check_answer): with a learner's time
# budget, a busy machine once failed a load ("cannot decide" under the test suite's load, 2026-12-06).
VALIDATION_PATIENCE = 20.0

UNDECIDED_FEEDBACK = ("We could not decide whether this is equivalent to the expected answer in time. "
                      "It has not been marked wrong; your instructor will look at it.")
CRASH_FEEDBACK = ("The grader could not check this answer. It has not been marked wrong, "
                  "and the problem has been reported.")


# ----------------------------------------------------------------------------- spec helpers


def normalize_symbols(symbols) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> domain, name -> display LaTeX) from a dict, a list of names or a space-separated string."""
    if symbols is None:
        return {}, {}
    if isinstance(symbols, str):
        symbols = symbols.split()
    if isinstance(symbols, list | tuple):
        return {str(n): "real" for n in symbols}, {}
    if not isinstance(symbols, dict):
        raise ValueError("symbols must be a mapping, a list or a string of names")
    domains, latex = {}, {}
    for name, info in symbols.items():
        info = info if isinstance(info, dict) else {"domain": info} if isinstance(info, str) else {}
        domains[str(name)] = str(info.get("domain", "real"))
        if info.get("latex"):
            latex[str(name)] = str(info["latex"])
    return domains, latex


def _param_values(p: dict) -> list:
    if "choices" in p:
        values = list(p["choices"])
        if not values:
            raise ValueError("choices is empty")
        return values
    lo, hi = p["min"], p["max"]
    step = p.get("step", 1 if isinstance(lo, int) and isinstance(hi, int) else None)
    if step is None or step <= 0 or hi < lo:
        raise ValueError("needs min <= max and a positive step")
    n = int(math.floor((hi - lo) / step + 1e-9))
    if n > 100_000:
        raise ValueError("range has too many values")
    values = [lo + k * step for k in range(n + 1)]
    if all(isinstance(x, int) for x in (lo, hi, step)):
        return values
    return [round(v, 12) for v in values]


def sample_params(spec: dict, seed: int) -> dict:
    """One variant's parameter values, deterministic per seed (and independent of PYTHONHASHSEED)."""
    out = {}
    for name in sorted(spec.get("params") or {}):
        rng = random.Random(f"quantprep-params:{seed}:{name}")
        out[name] = rng.choice(_param_values(spec["params"][name]))
    return out


def _all_param_sets(spec: dict) -> list[dict]:
    params = spec.get("params") or {}
    if not params:
        return [{}]
    names = sorted(params)
    lists = [_param_values(params[n]) for n in names]
    total = math.prod(len(v) for v in lists)
    if total <= MAX_PARAM_COMBOS:
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]
    return [sample_params(spec, seed) for seed in range(MAX_PARAM_COMBOS)]


def _constants(params: dict) -> dict[str, str]:
    out = {}
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"parameter {k} must be a number, not {v!r}")
        out[k] = repr(v) if isinstance(v, int) or not float(v).is_integer() else str(int(v))
    return out


def key_number(text_or_number, params: dict) -> float:
    """A key value: a number, or a constant expression in our grammar using the parameters."""
    if isinstance(text_or_number, bool):
        raise ValueError("a number is needed")
    if isinstance(text_or_number, int | float):
        return float(text_or_number)
    return _key_value(str(text_or_number), tuple(sorted(_constants(params).items())))


@functools.lru_cache(maxsize=1 << 16)
def _key_value(text: str, constants: tuple) -> float:
    """A key's value for one parameter set, kept: checking content evaluates every key for each of its
    parameter sets (tens of thousands of parses for the bank), and grading evaluates the same ones again."""
    tree = parse(text, Env(constants=dict(constants)))
    return float(eq.AR50.real(evaluate(compile_tree(tree, eq.AR50), {})))


# ----------------------------------------------------------------------------- symbolic parts


class _Part:
    """A symbolic part's key and misconceptions, parsed and sampled once."""

    def __init__(self, spec: dict, params: dict):
        self.domains, self.latex = normalize_symbols(spec.get("symbols"))
        self.space = eq.Space(self.domains, spec.get("where") or (), constants=_constants(params))
        self.answer_env = Env(symbols=self.space.domains, latex=self.latex)
        self.rtol = float(spec.get("rtol", eq.DEFAULT_RTOL))
        self.key = eq.Prepared(parse(str(spec["expected"]), self.space.env), self.space)
        self.test = spec.get("test", "equivalent")
        self.form = spec.get("form")
        self.misconceptions = []
        for m in spec.get("misconceptions") or []:
            tree = parse(str(m["expr"]), self.space.env)
            self.misconceptions.append(
                (str(m.get("id", "misconception")), eq.Prepared(tree, self.space), str(m.get("feedback", "")),
                 float(m.get("score", 0)))
            )


@functools.lru_cache(maxsize=256)
def _prepared(spec_json: str, params_json: str) -> _Part:
    return _Part(json.loads(spec_json), json.loads(params_json))


def _part(spec: dict, params: dict) -> _Part:
    return _prepared(json.dumps(spec, sort_keys=True, default=str), json.dumps(params, sort_keys=True))


def _check_symbolic(text: str, spec: dict, params: dict) -> AnswerResult:
    part = _part(spec, params)
    try:
        tree = parse(text, part.answer_env)
    except ParseError as exc:
        return invalid(str(exc))
    parsed = to_latex(tree)  # the learner's own names, not the part's display notation
    answer = eq.Prepared(tree, part.space)
    cmp = eq.decide(part.key, answer, part.rtol)
    if cmp.verdict == eq.EQUAL:
        if part.test == "same_form" and part.form and not eq.has_form(tree, part.form):
            feedback = spec.get("form_feedback") or {
                "expanded": "Equivalent, but not in expanded form: multiply out every product of sums.",
                "factored": "Equivalent, but not in factored form: write it as a product.",
                "number": "Equivalent, but give a single number rather than an expression.",
            }.get(part.form, f"Equivalent, but not in {part.form} form.")
            return AnswerResult(False, float(spec.get("form_score", 0)), feedback, parsed, None,
                                misconception="wrong-form")
        return AnswerResult(True, 1.0, "Correct.", parsed, None)
    if cmp.verdict == eq.UNDECIDED:
        return AnswerResult(False, 0.0, UNDECIDED_FEEDBACK, parsed, None, undecided=True)
    if len(cmp.triples) >= eq.N_MIN:
        for mid, prepared, feedback, score in part.misconceptions:
            if eq.matches(prepared, cmp, part.rtol):
                return AnswerResult(False, score, feedback or "This is a known wrong form.", parsed, None,
                                    misconception=mid)
        slip = eq.generic_slip(cmp)
        if slip:
            return AnswerResult(False, 0.0, slip[1], parsed, None, misconception=slip[0])
    if cmp.reason == "defined on a different domain":
        return AnswerResult(False, 0.0, "Your answer is undefined (for example a division by zero) where the "
                            "expected one has a value.", parsed, None)
    if cmp.reason == "close but not exactly equal":
        return AnswerResult(False, 0.0, "Very close, but not exactly equal: keep constants exact "
                            "(write 1/3, not 0.333).", parsed, None)
    return AnswerResult(False, 0.0, "Not equivalent to the expected answer.", parsed, None)


# ----------------------------------------------------------------------------- numeric parts


def _check_numeric(text: str, spec: dict, params: dict) -> AnswerResult:
    unit = numeric.canonical_unit(spec.get("unit"))
    expected = key_number(spec["formula"] if "formula" in spec else spec["answer"], params)
    mis = []
    for m in spec.get("misconceptions") or []:
        value = key_number(m["formula"] if "formula" in m else m["value"], params)
        mis.append((str(m.get("id", "misconception")), value, str(m.get("feedback", "")), float(m.get("score", 0))))
    return numeric.grade(text, expected, unit=unit, rtol=float(spec.get("rtol", 0.01)),
                         atol=float(spec.get("atol", 0)), misconceptions=mis)


# ----------------------------------------------------------------------------- entry points


def check_answer(text: str, spec: dict, *, params: dict | None = None) -> AnswerResult:
    """Grade ``text`` against a part's answer spec. Never raises: a broken spec or an internal failure is
    reported (and logged) as undecided, never as a wrong answer."""
    if not isinstance(text, str):
        return invalid("The answer must be text.")
    kind = spec.get("kind", "symbolic") if isinstance(spec, dict) else None
    if kind == "free":
        return AnswerResult(False, 0.0, "self-assessed", None, None)
    if params is None and isinstance(spec, dict) and spec.get("params"):
        params = sample_params(spec, 0)
    params = params or {}
    try:
        if kind == "symbolic":
            return _check_symbolic(text, spec, params)
        if kind == "numeric":
            return _check_numeric(text, spec, params)
        if kind in ("single_choice", "multiple_choice"):
            return choice.grade_choice(text, spec)
        if kind == "ordering":
            return choice.grade_ordering(text, spec)
        raise ValueError(f"unknown part kind {kind!r}")
    except Exception:
        log.exception("grader failure: kind=%r text=%r", kind, text[:200])
        return AnswerResult(False, 0.0, CRASH_FEEDBACK, None, None, undecided=True)


def preview_answer(text: str, spec: dict) -> AnswerResult:
    """Parse only, for the live "we read your answer as ..." preview: no grading, no child process."""
    kind = spec.get("kind", "symbolic")
    if not isinstance(text, str):
        return invalid("The answer must be text.")
    try:
        if kind == "symbolic":
            domains, latex = normalize_symbols(spec.get("symbols"))
            env = _preview_env(json.dumps([domains, latex], sort_keys=True))
            try:
                tree = parse(text, env)
            except ParseError as exc:
                return invalid(str(exc))
            return AnswerResult(False, 0.0, "", to_latex(tree), None, text=to_ascii(tree))
        if kind == "numeric":
            try:
                tree, _, unit, _ = numeric.parse_quantity(text)
            except ParseError as exc:
                return invalid(str(exc))
            return AnswerResult(False, 0.0, "", numeric.quantity_latex(tree, unit), None)
        if kind in ("single_choice", "multiple_choice", "ordering"):
            ids, error = choice._ids(text, spec.get("options") or [])
            return invalid(error) if error else AnswerResult(False, 0.0, "", choice._parsed(ids), None)
        return AnswerResult(False, 0.0, "", None, None)
    except Exception:
        log.exception("preview failure: kind=%r text=%r", kind, text[:200])
        return AnswerResult(False, 0.0, "", None, None)


def expected_answer(spec: dict, *, params: dict | None = None) -> str | None:
    """The key as LaTeX, for the review page (choice keys are shown by marking the options instead)."""
    kind = spec.get("kind", "symbolic")
    params = params or {}
    try:
        if kind == "symbolic":
            return to_latex(_part(spec, params).key.tree, normalize_symbols(spec.get("symbols"))[1])
        if kind == "numeric":
            value = key_number(spec["formula"] if "formula" in spec else spec["answer"], params)
            unit = numeric.canonical_unit(spec.get("unit"))
            return numeric.quantity_latex(parse(numeric._fmt(value), Env()), unit)
        if kind == "ordering":
            return choice._parsed([str(x) for x in spec.get("order") or []])
    except Exception:
        log.exception("could not show the key of a %s part", kind)
    return None


@functools.lru_cache(maxsize=256)
def _preview_env(key: str) -> Env:
    domains, latex = json.loads(key)
    return Env(symbols=domains, latex=latex)


# ----------------------------------------------------------------------------- validation


_SPECS_FOUND_FINE: set[str] = set()  # validate_spec's memory, as canonical JSON


def validate_spec(spec: dict) -> list[str]:
    """Problems in an answer spec, as sentences for content authors; empty when the spec is fine.

    A spec found fine is remembered: checking it evaluates its key and misconceptions for every parameter
    set (a fifth of a second for the bank's 246 specs), and each load of the content checks every spec
    again. One with problems is checked again each time ("cannot decide" can be a busy machine's)."""
    try:
        spec_json = json.dumps(spec, sort_keys=True)
    except (TypeError, ValueError):  # not JSON (a YAML date, say): its problem is found below
        spec_json = None
    if spec_json in _SPECS_FOUND_FINE:
        return []
    problems = _validate_spec(spec)
    if spec_json is not None and not problems:
        if len(_SPECS_FOUND_FINE) >= 10_000:
            _SPECS_FOUND_FINE.clear()
        _SPECS_FOUND_FINE.add(spec_json)
    return problems


def _validate_spec(spec: dict) -> list[str]:
    if not isinstance(spec, dict):
        return ["the spec must be a mapping"]
    kind = spec.get("kind")
    if kind not in KINDS:
        return [f"kind must be one of {', '.join(KINDS)}, not {kind!r}"]
    problems: list[str] = []
    points = spec.get("points", 1)
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        problems.append(f"points must be a positive number, not {points!r}")
    try:
        param_sets = _all_param_sets(spec)
    except (ValueError, KeyError, TypeError) as exc:
        return problems + [f"params: {exc}"]
    for name in spec.get("params") or {}:
        if not _NAME.fullmatch(str(name)):
            problems.append(f"parameter name {name!r} is not a valid name")
    try:
        if kind == "symbolic":
            problems += _validate_symbolic(spec, param_sets)
        elif kind == "numeric":
            problems += _validate_numeric(spec, param_sets)
        elif kind in ("single_choice", "multiple_choice", "ordering"):
            problems += _validate_options(spec)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    return problems


def _validate_symbolic(spec: dict, param_sets: list[dict]) -> list[str]:
    problems = []
    if not isinstance(spec.get("expected"), str) or not spec["expected"].strip():
        return ["a symbolic part needs `expected`, a formula string"]
    try:
        domains, _ = normalize_symbols(spec.get("symbols"))
    except ValueError as exc:
        return [str(exc)]
    for name, dom in domains.items():
        if not _NAME.fullmatch(name):
            problems.append(f"symbol name {name!r} is not a valid name (letters, digits, _subscripts)")
        if name in FUNCTIONS:
            problems.append(f"symbol {name!r} hides the function of the same name")
        if dom not in eq.DOMAINS:
            problems.append(f"symbol {name!r}: domain must be one of {', '.join(eq.DOMAINS)}, not {dom!r}")
    clash = set(domains) & set(spec.get("params") or {})
    if clash:
        problems.append(f"names used both as symbols and parameters: {', '.join(sorted(clash))}")
    test = spec.get("test", "equivalent")
    if test not in TESTS:
        problems.append(f"test must be one of {', '.join(TESTS)}, not {test!r}")
    if test == "same_form" and spec.get("form") not in eq.FORMS:
        problems.append(f"test same_form needs form: one of {', '.join(eq.FORMS)}")
    ids = [m.get("id") for m in spec.get("misconceptions") or [] if isinstance(m, dict)]
    if len(ids) != len(set(ids)):
        problems.append("misconception ids must be unique")
    if problems:
        return problems
    for m in spec.get("misconceptions") or []:
        if not isinstance(m, dict) or "expr" not in m:
            problems.append(f"misconception {m!r} needs `expr`")
        elif not 0 <= float(m.get("score", 0)) <= 1:
            problems.append(f"misconception {m.get('id')!r}: score must be in [0, 1]")
    if problems:
        return problems
    for params in param_sets[:5]:
        try:
            part = _Part(spec, params)
        except ParseError as exc:
            return [f"a formula does not parse with the declared symbols: {exc}"]
        defined = sum(1 for i in range(len(part.space.raw)) if part.key.value(i) not in (None, eq.OVERFLOW))
        if defined < eq.N_MIN:
            problems.append(f"the key is defined at only {defined} sample points: check the symbol domains")
            break
        for k, (mid, prepared, _, _) in enumerate(part.misconceptions):
            verdict = eq.decide(part.key, prepared, part.rtol, patience=VALIDATION_PATIENCE).verdict
            if verdict == eq.EQUAL:
                problems.append(f"misconception {mid!r} is equivalent to the key")
            elif verdict == eq.UNDECIDED:
                problems.append(f"misconception {mid!r}: cannot decide whether it differs from the key")
            for earlier, other, _, _ in part.misconceptions[:k]:
                if eq.decide(other, prepared, part.rtol, child=False, patience=VALIDATION_PATIENCE).verdict == eq.EQUAL:
                    problems.append(f"misconception {mid!r} is equivalent to {earlier!r}, so it can never match")
        if problems:
            break
    return problems


def _validate_numeric(spec: dict, param_sets: list[dict]) -> list[str]:
    problems = []
    if ("answer" in spec) == ("formula" in spec):
        return ["a numeric part needs exactly one of `answer` and `formula`"]
    try:
        numeric.canonical_unit(spec.get("unit"))
    except ValueError as exc:
        problems.append(str(exc))
    for key in ("rtol", "atol"):
        v = spec.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            problems.append(f"{key} must be a non-negative number")
    if problems:
        return problems
    rtol, atol = float(spec.get("rtol", 0.01)), float(spec.get("atol", 0))
    for params in param_sets:
        try:
            expected = key_number(spec.get("formula", spec.get("answer")), params)
        except (ParseError, Undefined) as exc:
            return [f"the key does not evaluate with params {params}: {exc}"]
        if not math.isfinite(expected):
            return [f"the key is not finite with params {params}"]
        for m in spec.get("misconceptions") or []:
            if "value" not in m and "formula" not in m:
                return [f"misconception {m.get('id')!r} needs `value` or `formula`"]
            try:
                value = key_number(m.get("formula", m.get("value")), params)
            except (ParseError, Undefined) as exc:
                return [f"misconception {m.get('id')!r} does not evaluate with params {params}: {exc}"]
            if abs(value - expected) <= atol + rtol * abs(expected):
                return [f"misconception {m.get('id')!r} equals the key within tolerance (params {params})"]
    return problems


def _validate_options(spec: dict) -> list[str]:
    options = spec.get("options")
    if not isinstance(options, list) or not options or not all(isinstance(o, dict) and "id" in o for o in options):
        return ["options must be a non-empty list of {id, text, ...}"]
    ids = [str(o["id"]) for o in options]
    problems = []
    if len(set(i.lower() for i in ids)) != len(ids):
        problems.append("option ids must be unique")
    if any(not re.fullmatch(r"[^\s,;]+", i) for i in ids):
        problems.append("option ids must not contain spaces, commas or semicolons")
    kind = spec["kind"]
    n_correct = sum(1 for o in options if o.get("correct"))
    if kind == "single_choice" and n_correct != 1:
        problems.append(f"a single_choice part needs exactly one correct option, not {n_correct}")
    if kind == "multiple_choice" and n_correct < 1:
        problems.append("a multiple_choice part needs at least one correct option")
    if kind == "ordering":
        order = [str(x) for x in spec.get("order") or []]
        if sorted(order) != sorted(ids):
            problems.append("order must list every option id exactly once")
    return problems
