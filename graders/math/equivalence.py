"""Equivalence of two formulas as functions on the declared domains, decided by sampling.

Both sides are evaluated at the same random points (30 wanted, at least 20) drawn to respect each symbol's
domain and to cover every sign pattern of the first five signed symbols, with 50-digit complex arithmetic.
A disagreement beyond rounding is a certificate of inequivalence (re-checked at 100 digits when close).
Agreement is confirmed exactly with sympy when that is cheap (small rational functions). When too few
points are usable the verdict is *undecided*, and ``decide`` asks sympy's ``simplify`` in a killable child.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from fractions import Fraction

from . import symbolic
from .evaluate import Arith, Overflow, Undefined, compile_tree, evaluate
from .nodes import Node, to_ascii
from .parser import Env, ParseError, parse

log = logging.getLogger("graders.math")

DOMAINS = ("real", "positive", "nonnegative", "integer", "positive_integer")
N_TARGET = 30
N_MIN = 20
N_CANDIDATES = 120
DEFAULT_RTOL = 1e-12
ABS_FLOOR = 1e-30
# The sampling's budget is the checking thread's CPU time, not the wall clock: it bounds what one answer may
# cost, and a busy machine (other requests, a test suite at a load of 5) must slow a check down, not leave a
# plain answer undecided. The child's limit is wall time (run_limited); on an idle machine a check, child
# included, stays under a second.
TIME_BUDGET_S = 0.35         # in-process sampling of one answer, CPU seconds of the thread
CHILD_TIMEOUT_S = 0.6        # sympy simplify when sampling could not decide
TOTAL_BUDGET_S = 0.85        # a whole check: the sampling's CPU time plus the child's wall time

AR50 = Arith(dps=50)
AR100 = Arith(dps=100)

EQUAL, NOT_EQUAL, UNDECIDED = "equal", "not_equal", "undecided"


def _close(a, b, rtol: float) -> bool:
    diff = abs(a - b)
    return diff <= rtol * max(abs(a), abs(b)) or diff <= ABS_FLOOR


class Space:
    """The declared symbols with their domains, optional ``where`` constraints, and the candidate points."""

    def __init__(self, domains: dict[str, str], where: list[str] | tuple = (), seed: int = 0, constants=None):
        bad = {n: d for n, d in domains.items() if d not in DOMAINS}
        if bad:
            raise ValueError(f"unknown domain(s) {bad}; use one of {', '.join(DOMAINS)}")
        self.domains = dict(sorted(domains.items()))
        self.env = Env(symbols=self.domains, constants=dict(constants or {}))
        self.raw = _raw_points(tuple(self.domains.items()), seed)
        if where:
            keep = _constraint_filter(where, self.env)
            self.raw = [p for p in self.raw if keep(p)]
        self._envs: dict[int, list[dict]] = {}

    def envs(self, ar: Arith) -> list[dict]:
        got = self._envs.get(id(ar))
        if got is None:
            mpf = ar.ctx.mpf
            got = [{k: mpf(v) for k, v in p.items()} for p in self.raw]
            self._envs[id(ar)] = got
        return got


def _raw_points(domains: tuple[tuple[str, str], ...], seed: int) -> list[dict]:
    """Deterministic points; signed symbols (real, integer) get every sign pattern of the first five."""
    rng = random.Random(f"quantprep:{seed}:" + ",".join(f"{n}={d}" for n, d in domains))
    points = []
    for i in range(N_CANDIDATES):
        point: dict = {}
        k = 0
        for name, dom in domains:
            if dom in ("real", "integer"):
                neg = bool((i >> (k % 5)) & 1)
                if k >= 5 or i >= 32:
                    neg ^= rng.random() < 0.5
                k += 1
            else:
                neg = False
            if dom in ("integer", "positive_integer"):
                v = rng.randint(1, 9 if dom == "integer" else 16)
            else:
                v = 10 ** rng.uniform(-1, 1)
            point[name] = -v if neg else v
        points.append(point)
    return points


_RELATIONS = ("<=", ">=", "<", ">")


def _constraint_filter(where, env: Env):
    """``where: ["q_min < q_max", "x >= 0"]``: candidate points that break one are dropped."""
    checks = []
    for text in where:
        for rel in _RELATIONS:
            if rel in text:
                left, right = text.split(rel, 1)
                checks.append((compile_tree(parse(left, env), AR50), rel, compile_tree(parse(right, env), AR50)))
                break
        else:
            raise ValueError(f"constraint {text!r} needs one of {', '.join(_RELATIONS)}")

    def keep(point: dict) -> bool:
        envp = {k: AR50.ctx.mpf(v) for k, v in point.items()}
        for f, rel, g in checks:
            try:
                a, b = AR50.real(evaluate(f, envp)), AR50.real(evaluate(g, envp))
            except Undefined:
                return False
            if not {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[rel]:
                return False
        return True

    return keep


class Prepared:
    """A formula compiled for a space, with its values at the candidate points computed on demand."""

    _MISSING = object()

    def __init__(self, tree: Node, space: Space):
        self.tree = tree
        self.space = space
        self.fn = compile_tree(tree, AR50)
        self._values: list = [self._MISSING] * len(space.raw)
        self._envs = space.envs(AR50)

    def value(self, i: int):
        """The value at point i; None where undefined, Overflow marker where beyond our bounds."""
        v = self._values[i]
        if v is self._MISSING:
            try:
                v = evaluate(self.fn, self._envs[i])
            except Overflow:
                v = OVERFLOW
            except Undefined:
                v = None
            self._values[i] = v
        return v


OVERFLOW = object()


@dataclass
class Comparison:
    verdict: str
    triples: list = field(default_factory=list)   # (point index, key value, answer value) where both defined
    reason: str = ""
    confirmed: bool = False


def compare(key: Prepared, answer: Prepared, rtol: float = DEFAULT_RTOL, *, patience: float = 1.0) -> Comparison:
    """Sample both at the same points. Symmetric in key and answer. ``patience`` multiplies the time
    budget: a learner's answer gets the plain one, content validation (which nobody waits for) more."""
    triples = []
    mismatch = None
    one_sided = 0
    timed_out = False
    deadline = time.thread_time() + TIME_BUDGET_S * patience
    for i in range(len(key.space.raw)):
        if len(triples) >= N_TARGET:
            break
        if i % 8 == 7 and time.thread_time() > deadline:
            timed_out = True  # what the points so far prove still counts: one disagreement is a certificate
            break
        kv = key.value(i)
        if kv is OVERFLOW:
            continue
        av = answer.value(i)
        if av is OVERFLOW:
            continue
        if kv is None or av is None:
            one_sided += (kv is None) != (av is None)
            continue
        triples.append((i, kv, av))
        if mismatch is None and not _close(kv, av, rtol):
            near = abs(kv - av) <= 1e-6 * max(abs(kv), abs(av))
            if not (near and _close_at_100(key.tree, answer.tree, key.space, i, rtol)):
                mismatch = i
    if mismatch is not None:
        return Comparison(NOT_EQUAL, triples, "differs at a sample point")
    if len(triples) >= N_MIN:
        return Comparison(EQUAL, triples)
    if one_sided >= N_MIN:
        return Comparison(NOT_EQUAL, triples, "defined on a different domain")
    if timed_out:
        return Comparison(UNDECIDED, triples, "timeout")
    return Comparison(UNDECIDED, triples, "too few points where both sides are defined")


def _close_at_100(a: Node, b: Node, space: Space, i: int, rtol: float) -> bool:
    """Re-check a near miss at 100 digits: cancellation at 50 digits must not make a wrong verdict."""
    env = space.envs(AR100)[i]
    try:
        va = evaluate(compile_tree(a, AR100), env)
        vb = evaluate(compile_tree(b, AR100), env)
    except Undefined:
        return False
    diff = abs(va - vb)
    scale = max(abs(va), abs(vb))
    if diff > 1e-6 * scale:
        return False
    return diff <= rtol * scale or diff <= ABS_FLOOR


def matches(other: Prepared, cmp: Comparison, rtol: float = DEFAULT_RTOL) -> bool:
    """Does the answer (sampled in ``cmp``) equal ``other`` (a misconception) at the same points?"""
    agree = 0
    for i, _, av in cmp.triples:
        ov = other.value(i)
        if ov is None or ov is OVERFLOW:
            continue
        if not _close(ov, av, rtol):
            return False
        agree += 1
    return agree >= min(N_MIN, len(cmp.triples)) and agree > 0


def decide(key: Prepared, answer: Prepared, rtol: float = DEFAULT_RTOL, *, child: bool = True,
           patience: float = 1.0) -> Comparison:
    """``compare``, then exact confirmation where cheap, then ``simplify`` in a child when undecided; every
    time budget multiplied by ``patience`` (``compare``)."""
    start = time.thread_time()
    cmp = compare(key, answer, rtol, patience=patience)
    domains = key.space.domains
    if cmp.verdict == EQUAL and rtol <= DEFAULT_RTOL:
        exact = symbolic.confirm(key.tree, answer.tree, domains)
        if exact is False:
            return Comparison(NOT_EQUAL, cmp.triples, "close but not exactly equal")
        cmp.confirmed = bool(exact)
    elif cmp.verdict == UNDECIDED:
        timeout = min(CHILD_TIMEOUT_S * patience, TOTAL_BUDGET_S * patience - (time.thread_time() - start))
        status, value = "skipped", None
        if child and timeout > 0.1 and cmp.reason != "timeout":
            import sympy  # noqa: F401  (imported here, in the parent, so the forked child does not pay for it)

            from .limits import run_limited

            status, value = run_limited(
                symbolic.simplify_equal, (to_ascii(key.tree), to_ascii(answer.tree), domains), timeout=timeout
            )
        if status == "ok" and value is True:
            return Comparison(EQUAL, cmp.triples, "simplify", confirmed=True)
        log.warning(
            "undecided equivalence (%s; sympy: %s): key %r answer %r",
            cmp.reason, status, to_ascii(key.tree), to_ascii(answer.tree),
        )
    return cmp


# ------------------------------------------------------------------------- generic slips


def _constant(values, tol=1e-9):
    """The common value when all agree (relative test only: tiny values must not look constant)."""
    first = values[0]
    for v in values[1:]:
        if abs(v - first) > tol * max(abs(v), abs(first)):
            return None
    return first


def _nice(v) -> str:
    if isinstance(v, AR50.ctx.mpc):
        return "a complex number"
    f = float(v)
    if not math.isfinite(f) or abs(f) > 1e15:
        return AR50.ctx.nstr(v, 6)
    frac = Fraction(f).limit_denominator(64)
    if abs(float(frac) - f) <= 1e-9 * max(1.0, abs(f)) and frac.denominator > 1:
        return f"{frac.numerator}/{frac.denominator}"
    return f"{f:.6g}"


def generic_slip(cmp: Comparison) -> tuple[str, str] | None:
    """Name a slip the samples prove: a flipped sign, a constant factor, a constant offset, the reciprocal."""
    if len(cmp.triples) < N_MIN:
        return None
    keys = [k for _, k, _ in cmp.triples]
    answers = [a for _, _, a in cmp.triples]
    if all(k != 0 for k in keys):
        ratio = _constant([a / k for k, a in zip(keys, answers, strict=True)])
        if ratio is not None and ratio != 0 and not isinstance(ratio, AR50.ctx.mpc):
            r = float(ratio)
            if abs(r + 1) < 1e-9:
                return "sign-flip", "Your answer has the opposite sign of the expected one: check the sign of each term."
            if abs(r - 2) < 1e-9:
                return "factor-2", ("Your answer is exactly twice the expected one. Did you count a factor 2 "
                                    "that does not belong (for example K and V where only one is meant)?")
            if abs(r - 0.5) < 1e-9:
                return "factor-2", ("Your answer is exactly half the expected one: a factor 2 is missing "
                                    "(for example K and V, or 2 bytes per FP16 value).")
            if abs(r - 8) < 1e-9:
                return "factor-8", "Your answer is 8 times too large: bits where bytes are meant?"
            if abs(r - 0.125) < 1e-9:
                return "factor-8", "Your answer is 8 times too small: bytes where bits are meant?"
            if 1e-3 <= abs(r) <= 1e3 and abs(r - 1) > 1e-6:
                return "constant-factor", (f"Your answer is the expected one times {_nice(ratio)}: "
                                           "the structure is right, check the constant factors.")
        product = _constant([a * k for k, a in zip(keys, answers, strict=True)])
        if product is not None and not isinstance(product, AR50.ctx.mpc) and abs(float(product) - 1) < 1e-9:
            return "reciprocal", ("Your answer is the reciprocal of the expected one: "
                                  "check what goes in the numerator and what in the denominator.")
    offset = _constant([a - k for k, a in zip(keys, answers, strict=True)])
    scale = max(abs(k) for k in keys)
    # only an offset on the scale of the key: next to a huge one, 50 digits cannot see the key vary
    if offset is not None and not isinstance(offset, AR50.ctx.mpc) and 1e-9 < abs(offset) <= 1e6 * scale:
        return "constant-offset", f"Your answer differs from the expected one by a constant ({_nice(offset)})."
    return None


# ------------------------------------------------------------------------- form checks

FORMS = ("expanded", "factored", "number")


def _unneg(n: Node) -> Node:
    while n.op == "neg":
        n = n.args[0]
    return n


def has_form(tree: Node, form: str) -> bool:
    """Structural form of the answer as typed (not after simplification)."""
    if form == "number":
        return _unneg(tree).op == "num"
    if form == "factored":
        return _unneg(tree).op not in ("add", "sub")
    if form == "expanded":
        for n in tree.walk():
            if n.op == "call":
                continue
            if n.op in ("mul",) and any(_unneg(a).op in ("add", "sub") for a in n.args):
                return False
            if n.op == "div" and _unneg(n.args[0]).op in ("add", "sub"):
                return False
            if n.op == "neg" and n.args[0].op in ("add", "sub"):
                return False
            if n.op == "pow" and _unneg(n.args[0]).op in ("add", "sub"):
                k = symbolic._int_exponent(n.args[1])
                if k is not None and k >= 2:
                    return False
        return True
    raise ValueError(f"unknown form {form!r}; use one of {', '.join(FORMS)}")


# ------------------------------------------------------------------------- convenience


def equivalent(a: str, b: str, domains: dict[str, str], *, rtol: float = DEFAULT_RTOL, child: bool = True) -> str:
    """Symmetric check of two texts: EQUAL, NOT_EQUAL or UNDECIDED. Raises ParseError on bad input."""
    space = Space(domains)
    pa = Prepared(parse(a, space.env), space)
    pb = Prepared(parse(b, space.env), space)
    return decide(pa, pb, rtol, child=child).verdict


__all__ = [
    "EQUAL", "NOT_EQUAL", "UNDECIDED", "Space", "Prepared", "Comparison", "compare", "decide", "matches",
    "generic_slip", "has_form", "equivalent", "ParseError", "FORMS", "DOMAINS",
]
