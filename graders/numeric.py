"""Numeric answers: a number (or constant expression) with an optional unit, within a tolerance.

Sizes, bits, times and ratios convert into the part's unit and the feedback says so, because GB vs GiB and
bits vs bytes are exactly the slips this course is about. The number itself goes through the same safe
parser as formulas (no symbols declared), so ``2^8*1.75`` is fine and nothing is ever evaluated as code.
"""

from __future__ import annotations

import re

from .answers import AnswerResult, invalid
from .math.equivalence import AR50
from .math.evaluate import Undefined, compile_tree, evaluate
from .math.nodes import to_latex
from .math.parser import MAX_LEN, Env, ParseError, parse

# unit -> (dimension, size of one unit in the dimension's base: bytes, seconds, fraction, dB)
UNITS: dict[str, tuple[str, float]] = {
    "B": ("size", 1.0), "KB": ("size", 1e3), "MB": ("size", 1e6), "GB": ("size", 1e9), "TB": ("size", 1e12),
    "PB": ("size", 1e15), "KiB": ("size", 2.0**10), "MiB": ("size", 2.0**20), "GiB": ("size", 2.0**30),
    "TiB": ("size", 2.0**40),
    "bit": ("size", 1 / 8), "bits": ("size", 1 / 8), "b": ("size", 1 / 8),
    "Kb": ("size", 1e3 / 8), "Mb": ("size", 1e6 / 8), "Gb": ("size", 1e9 / 8),
    "ns": ("time", 1e-9), "us": ("time", 1e-6), "\u00b5s": ("time", 1e-6), "\u03bcs": ("time", 1e-6),
    "ms": ("time", 1e-3), "s": ("time", 1.0),
    "%": ("ratio", 0.01), "x": ("ratio", 1.0),
    "dB": ("dB", 1.0),
}
ALIASES = {
    "byte": "B", "bytes": "B", "kB": "KB", "sec": "s", "secs": "s", "seconds": "s", "second": "s",
    "msec": "ms", "usec": "us", "\u00d7": "x", "X": "x", "percent": "%", "db": "dB",
}
SIBLING = {"KB": "KiB", "MB": "MiB", "GB": "GiB", "TB": "TiB", "KiB": "KB", "MiB": "MB", "GiB": "GB", "TiB": "TB"}
DIMENSION_WORDS = {"size": "a size", "time": "a time", "ratio": "a ratio", "dB": "a level in dB"}

_PER = re.compile(r"\s*(?:/|\bper\b)\s*(?:weight|param|parameter|element|elem|value|token|w)s?\s*$")
_UNIT_TAIL = re.compile(r"([A-Za-z\u00b5\u03bc\u00d7%]+)\s*$")
_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$")
_NO_NAMES = Env()


def unit_list() -> str:
    return ", ".join(u for u in UNITS if u not in ("\u00b5s", "\u03bcs"))


def canonical_unit(unit: str | None) -> str | None:
    if unit is None:
        return None
    unit = ALIASES.get(unit, unit)
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {unit_list()}")
    return unit


def convert(value: float, from_unit: str, to_unit: str) -> float:
    return value * UNITS[from_unit][1] / UNITS[to_unit][1]


def parse_quantity(text: str, env: Env = _NO_NAMES):
    """(tree, value: float, unit | None, unit position) or raise ParseError."""
    if len(text) > MAX_LEN:  # before any regex: the unit patterns are anchored at the end, and scan
        raise ParseError(f"Your answer is too long ({len(text)} characters; the limit is {MAX_LEN})", MAX_LEN)
    body = text
    per = _PER.search(body)
    if per:
        body = body[: per.start()]
    unit, unit_pos = None, None
    tail = _UNIT_TAIL.search(body)
    if tail:
        word = tail.group(1)
        known = ALIASES.get(word, word)
        if known in UNITS:
            unit, unit_pos = known, tail.start(1)
            body = body[: tail.start()]
        elif word not in ("pi", "e") and word not in env.symbols and not body[: tail.start()].rstrip().endswith(
            ("(", "^", "*", "/", "+", "-")
        ) and body[: tail.start()].strip():
            raise ParseError(f"Unknown unit `{word}`", tail.start(1), f"Units: {unit_list()}.")
    if not body.strip():
        if unit:
            raise ParseError("A number is missing before the unit", unit_pos)
        raise ParseError("Your answer is empty: type a number", None)
    if _THOUSANDS.match(body):
        body = body.replace(",", "")
    tree = parse(body, env)
    try:
        value = AR50.real(evaluate(compile_tree(tree, AR50), {}))
    except Undefined:
        raise ParseError("This is not a real number", 0) from None
    return tree, float(value), unit, unit_pos


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _within(v: float, target: float, rtol: float, atol: float) -> bool:
    return abs(v - target) <= atol + rtol * abs(target)


def quantity_latex(tree, unit: str | None) -> str:
    tex = to_latex(tree)
    if unit is None:
        return tex
    if unit == "%":
        return tex + "\\,\\%"
    if unit == "x":
        return tex + "\\times"
    return tex + "\\,\\mathrm{" + unit.replace("\u00b5", "\\mu ").replace("\u03bc", "\\mu ") + "}"


def grade(text: str, expected: float, *, unit: str | None, rtol: float, atol: float,
          misconceptions: list[tuple[str, float, str, float]] = ()) -> AnswerResult:
    """``misconceptions``: (id, value, feedback, score) with values already in the part's unit."""
    try:
        tree, v, vunit, upos = parse_quantity(text)
    except ParseError as exc:
        return invalid(str(exc))
    parsed = quantity_latex(tree, vunit)
    notes = []
    value = v
    if vunit and unit and vunit != unit:
        if UNITS[vunit][0] != UNITS[unit][0]:
            dim = UNITS[unit][0]
            return invalid(str(ParseError(
                f"`{vunit}` is {DIMENSION_WORDS[UNITS[vunit][0]]}, but this answer is {DIMENSION_WORDS[dim]} in {unit}",
                upos)))
        value = convert(v, vunit, unit)
        factor = UNITS[vunit][1] / UNITS[unit][1]
        notes.append(f"Converted {_fmt(v)} {vunit} to {_fmt(value)} {unit} (1 {vunit} = {factor:.10g} {unit}).")
    elif vunit and not unit:
        if vunit == "%":
            value = v / 100
            notes.append(f"Read {_fmt(v)}% as {_fmt(value)}.")
        elif vunit != "x":
            return invalid(str(ParseError(f"This answer is a plain number: remove the unit `{vunit}`", upos)))
    note = " ".join(notes)

    def result(correct: bool, score: float, feedback: str, mid: str | None = None) -> AnswerResult:
        fb = " ".join(x for x in (feedback, note) if x)
        return AnswerResult(correct, score, fb, parsed, None, misconception=mid)

    if _within(value, expected, rtol, atol):
        return result(True, 1.0, "Correct.")
    for mid, mval, feedback, score in misconceptions:
        if _within(value, mval, rtol, atol):
            return result(False, score, feedback, mid)
    slip = _slip(v, value, vunit, expected, unit, rtol, atol)
    if slip:
        return result(False, 0.0, slip[1], slip[0])
    tol = f"within {rtol:.2g} relative" + (f" or {atol:g} absolute" if atol else "")
    return result(False, 0.0, f"That is not the expected value ({tol}).")


def _slip(raw: float, value: float, vunit, expected: float, unit, rtol: float, atol: float):
    """Generic numeric slips this course keeps meeting."""
    shown = vunit or unit
    sib = SIBLING.get(shown or "")
    if sib and unit and _within(raw, convert(expected, unit, sib), rtol, atol):
        if vunit:
            return "gb-vs-gib", (f"Your number is the answer in {sib}, but you wrote {vunit}: "
                                 f"1 GiB = 2^30 bytes = 1.074 GB, so the two differ by about 7%.")
        return "gb-vs-gib", (f"Your number is the answer in {sib}; the question asks for {unit} "
                             "(1 GiB = 2^30 bytes = 1.074 GB).")
    if expected == 0:
        return None
    ratio = value / expected
    slips = [
        (-1, "sign", "The size is right but the sign is wrong."),
        (8, "bits-not-bytes", "Your answer is 8 times too large: bits where bytes are meant?"),
        (1 / 8, "bytes-not-bits", "Your answer is 8 times too small: bytes where bits are meant?"),
        (2, "factor-2", "Your answer is twice the expected value: a factor 2 too many "
                        "(K and V counted where one is meant, or 2 bytes per value)?"),
        (1 / 2, "factor-2", "Your answer is half the expected value: a factor 2 is missing "
                            "(both K and V, or 2 bytes per FP16 value)?"),
        (1000, "unit-prefix", "Off by a factor 1000: check the unit prefix (K, M, G)."),
        (1 / 1000, "unit-prefix", "Off by a factor 1000: check the unit prefix (K, M, G)."),
        (1024, "unit-prefix", "Off by a factor 1024: check the unit prefix (Ki, Mi, Gi)."),
        (1 / 1024, "unit-prefix", "Off by a factor 1024: check the unit prefix (Ki, Mi, Gi)."),
    ]
    if unit in (None, "%", "x"):
        slips += [(100, "percent", "Off by a factor 100: a percentage where a fraction is meant?"),
                  (1 / 100, "percent", "Off by a factor 100: a fraction where a percentage is meant?")]
    for r, mid, text in slips:
        if abs(ratio - r) <= rtol * abs(r) + (atol / abs(expected) if atol else 0):
            return mid, text
    return None
