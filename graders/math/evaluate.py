"""Bounded high-precision evaluation of formula trees with mpmath (no Python evaluation of text).

Values are mpmath numbers in a private context (50 digits by default), complex where a real formula
leaves the reals (``sqrt`` or ``log`` of a negative): comparing complex values is what tells
``log(x y)`` from ``log x + log y`` at negative points. Every operation is bounded: magnitudes beyond
2^MAX_BITS, huge exponents and factorials raise ``Overflow``, which the caller skips (never a verdict).
"""

from __future__ import annotations

import math

import mpmath

from .nodes import Node

MAX_BITS = 100_000            # |value| < 2^100000 while sampling
CONST_MAX_BITS = 997          # constant sub-expressions typed by the learner: |value| <= ~1e300
MAX_CONST_EXPONENT = 1000
MAX_FACTORIAL_ARG = 170       # for constants typed by the learner
MAX_SAMPLED_FACTORIAL = 1000  # while sampling (1000! ~ 4e2567: fine for mpmath, and fast)


class Undefined(Exception):
    """No value at this point: division by zero, log 0, a complex number fed to floor or max, ..."""


class Overflow(Undefined):
    """Beyond our magnitude bounds: the point is skipped, it never decides a verdict."""


class Arith:
    """Bounded arithmetic in one mpmath context (precision fixed per instance, so thread-safe to share)."""

    def __init__(self, dps: int = 50, max_bits: int = MAX_BITS):
        ctx = mpmath.MPContext()
        ctx.dps = dps
        self.ctx = ctx
        self.max_bits = max_bits
        self.zero = ctx.mpf(0)
        self.pi = ctx.pi + 0
        self.e = ctx.e + 0
        self.ln2 = ctx.ln(2)
        self.ln10 = ctx.ln(10)
        self.imag_tol = ctx.mpf(10) ** (-(dps * 6 // 10))
        self.binary = {"add": self.add, "sub": self.sub, "mul": self.mul, "div": self.div, "pow": self.pow}
        self.funcs = {
            "sqrt": ctx.sqrt,
            "exp": self.exp,
            "log": self.ln,
            "ln": self.ln,
            "log2": lambda x: self.ln(x) / self.ln2,
            "log10": lambda x: self.ln(x) / self.ln10,
            "abs": abs,
            "min": lambda *a: min(self.real(x) for x in a),
            "max": lambda *a: max(self.real(x) for x in a),
            "round": lambda x: ctx.nint(self.real(x)),
            "floor": lambda x: ctx.floor(self.real(x)),
            "ceil": lambda x: ctx.ceil(self.real(x)),
            "clamp": lambda x, lo, hi: min(max(self.real(x), self.real(lo)), self.real(hi)),
        }

    def num(self, text: str):
        # mpmath reads ".5" but not ".0"; the parser only lets plain decimal literals through.
        return self.ctx.mpf("0" + text if text.startswith(".") else text)

    def chk(self, v):
        if self.ctx.mag(v) > self.max_bits:
            raise Overflow("too large")
        return v

    def real(self, v):
        if isinstance(v, self.ctx.mpc):
            if abs(v.imag) > self.imag_tol * max(1, abs(v.real)):
                raise Undefined("a real function got a complex value")
            return v.real
        return v

    def add(self, a, b):
        return self.chk(a + b)

    def sub(self, a, b):
        return self.chk(a - b)

    def mul(self, a, b):
        return self.chk(a * b)

    def div(self, a, b):
        if b == 0:
            raise Undefined("division by zero")
        return self.chk(a / b)

    def log2abs(self, a) -> float:
        m = self.ctx.mag(a)
        if -1000 < m < 1000:
            return math.log2(float(abs(a)))
        return float(m)

    def pow(self, a, b):
        if a == 0:
            if self.real(b) > 0:
                return self.zero
            raise Undefined("0 to a power that is not positive")
        if isinstance(b, self.ctx.mpc):
            if float(abs(b)) * (abs(self.log2abs(a)) + 5) > self.max_bits:
                raise Overflow("power too large")
        else:  # log2 |a^b| = b log2|a|: tiny results are fine (mpmath exponents are unbounded), huge ones are not
            est = float(b) * self.log2abs(a)
            if est > self.max_bits or est < -8 * self.max_bits:
                raise Overflow("power too large")
        return self.chk(self.ctx.power(a, b))

    def exp(self, x):
        if self.real(x.real if isinstance(x, self.ctx.mpc) else x) > self.max_bits * 0.69:
            raise Overflow("exp too large")
        return self.chk(self.ctx.exp(x))

    def ln(self, x):
        if x == 0:
            raise Undefined("log of 0")
        return self.ctx.ln(x)

    def fact(self, x):
        x = self.real(x)
        if x > MAX_SAMPLED_FACTORIAL:
            raise Overflow("factorial too large")
        if x < 0 and x == self.ctx.floor(x):
            raise Undefined("factorial of a negative integer")
        return self.chk(self.ctx.factorial(x))

    def apply(self, node: Node, vals: list):
        op = node.op
        if op == "num":
            return self.chk(self.num(node.value))
        if op == "const":
            return self.pi if node.value == "pi" else self.e
        if op == "neg":
            return -vals[0]
        if op == "fact":
            return self.fact(vals[0])
        if op == "call":
            return self.chk(self.funcs[node.value](*vals))
        return self.binary[op](*vals)


def compile_tree(node: Node, ar: Arith):
    """A closure ``env -> value`` for the tree; raises Undefined (or an mpmath error) where it has none."""
    op, args = node.op, node.args
    if op == "num":
        c = ar.num(node.value)
        return lambda env: c
    if op == "sym":
        name = node.value
        return lambda env: env[name]
    if op == "const":
        c = ar.pi if node.value == "pi" else ar.e
        return lambda env: c
    fs = [compile_tree(a, ar) for a in args]
    if op == "neg":
        f0 = fs[0]
        return lambda env: -f0(env)
    if op in ("add", "sub", "mul", "div", "pow"):
        f0, f1 = fs
        g = ar.binary[op]
        return lambda env: g(f0(env), f1(env))
    if op == "fact":
        f0 = fs[0]
        return lambda env: ar.fact(f0(env))
    if op == "call":
        g = ar.funcs[node.value]
        chk = ar.chk
        if len(fs) == 1:
            f0 = fs[0]
            return lambda env: chk(g(f0(env)))
        return lambda env: chk(g(*[f(env) for f in fs]))
    raise ValueError(f"unknown node {op}")


def evaluate(fn, env: dict):
    """Call a compiled tree; every arithmetic failure becomes Undefined."""
    try:
        return fn(env)
    except Undefined:
        raise
    except (ZeroDivisionError, ValueError, ArithmeticError, TypeError) as exc:
        raise Undefined(str(exc)) from None


_CONST = Arith(dps=20, max_bits=CONST_MAX_BITS)
_NOT_CONST = object()


def check_constants(tree: Node) -> None:
    """Reject, at parse time, constants the grader should never have to build (1e999, 9^9^9, 200!)."""
    from .parser import ParseError

    def visit(n: Node):
        vals = [visit(a) for a in n.args]
        if n.op == "sym":
            return _NOT_CONST
        if n.op == "pow" and vals[1] is not _NOT_CONST and vals[1] is not None:
            if abs(vals[1]) > MAX_CONST_EXPONENT:
                raise ParseError(f"This exponent is too large (at most {MAX_CONST_EXPONENT} in size)", n.pos)
        if n.op == "fact" and vals[0] is not _NOT_CONST and vals[0] is not None:
            v = vals[0]
            if isinstance(v, _CONST.ctx.mpc) or v != int(v) or not 0 <= v <= MAX_FACTORIAL_ARG:
                raise ParseError(f"Factorials are only for whole numbers from 0 to {MAX_FACTORIAL_ARG}", n.pos)
        if any(v is _NOT_CONST for v in vals):
            return _NOT_CONST
        if any(v is None for v in vals):
            return None
        try:
            return _CONST.apply(n, vals)
        except Overflow:
            raise ParseError("This number is too large (the limit is about 1e300)", n.pos) from None
        except (Undefined, ZeroDivisionError, ValueError, ArithmeticError) as exc:
            if "division by zero" in str(exc) or isinstance(exc, ZeroDivisionError):
                raise ParseError("Division by zero", n.pos) from None
            return None  # undefined but harmless (log(-1) is complex, floor(i) ...): sampling reports it

    visit(tree)
