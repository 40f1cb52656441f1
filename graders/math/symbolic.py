"""Our tree to sympy, built node by node (never from text), and the symbolic checks that use it.

``confirm`` runs in-process only when the check is provably cheap (small rational functions);
``simplify_equal`` can run for minutes on innocent input and is only ever called through ``limits``.
"""

from __future__ import annotations

from fractions import Fraction

from .nodes import Node

_ASSUMPTIONS = {
    "real": {"real": True},
    "positive": {"positive": True},
    "nonnegative": {"nonnegative": True},
    "integer": {"integer": True},
    "positive_integer": {"positive": True, "integer": True},
}


def to_sympy(tree: Node, domains: dict[str, str]):
    """Build the sympy expression. Names come from the tree, and the parser only lets declared names in."""
    import sympy

    symbols = {name: sympy.Symbol(name, **_ASSUMPTIONS.get(dom, {"real": True})) for name, dom in domains.items()}
    round_ = sympy.Function("round")

    def conv(n: Node):
        op, a = n.op, n.args
        if op == "num":
            f = Fraction(n.value)
            return sympy.Rational(f.numerator, f.denominator)
        if op == "sym":
            return symbols[n.value]
        if op == "const":
            return sympy.pi if n.value == "pi" else sympy.E
        args = [conv(x) for x in a]
        if op == "neg":
            return -args[0]
        if op == "add":
            return args[0] + args[1]
        if op == "sub":
            return args[0] - args[1]
        if op == "mul":
            return args[0] * args[1]
        if op == "div":
            return args[0] / args[1]
        if op == "pow":
            return args[0] ** args[1]
        if op == "fact":
            return sympy.factorial(args[0])
        f = n.value
        if f == "sqrt":
            return sympy.sqrt(args[0])
        if f == "exp":
            return sympy.exp(args[0])
        if f in ("log", "ln"):
            return sympy.log(args[0])
        if f == "log2":
            return sympy.log(args[0]) / sympy.log(2)
        if f == "log10":
            return sympy.log(args[0]) / sympy.log(10)
        if f == "abs":
            return sympy.Abs(args[0])
        if f == "min":
            return sympy.Min(*args)
        if f == "max":
            return sympy.Max(*args)
        if f == "floor":
            return sympy.floor(args[0])
        if f == "ceil":
            return sympy.ceiling(args[0])
        if f == "round":
            return round_(args[0])
        if f == "clamp":
            return sympy.Min(sympy.Max(args[0], args[1]), args[2])
        raise ValueError(f"unknown function {f}")

    return conv(tree)


_RATIONAL_OPS = frozenset({"num", "sym", "neg", "add", "sub", "mul", "div", "pow"})
MAX_CHEAP_TERMS = 400


def _int_exponent(n: Node) -> int | None:
    if n.op == "neg":
        v = _int_exponent(n.args[0])
        return None if v is None else -v
    if n.op == "num" and n.value.isdigit():
        return int(n.value)
    return None


def _terms(n: Node) -> int | None:
    """Upper bound on the terms of the expanded numerator; None when not a rational function."""
    if n.op not in _RATIONAL_OPS:
        return None
    if n.op in ("num", "sym"):
        return 1
    if n.op == "neg":
        return _terms(n.args[0])
    if n.op == "pow":
        k = _int_exponent(n.args[1])
        t = _terms(n.args[0])
        if k is None or t is None or abs(k) > 8:
            return None
        return t ** abs(k) if t ** abs(k) <= MAX_CHEAP_TERMS else None
    a, b = (_terms(x) for x in n.args)
    if a is None or b is None:
        return None
    total = a + b if n.op in ("add", "sub") else a * b
    return total if total <= MAX_CHEAP_TERMS else None


def is_cheap(a: Node, b: Node) -> bool:
    """Both sides small rational functions, so ``cancel`` of the difference is bounded."""
    ta, tb = _terms(a), _terms(b)
    return ta is not None and tb is not None and ta * tb <= MAX_CHEAP_TERMS and a.size() + b.size() <= 120


def confirm(a: Node, b: Node, domains: dict[str, str]) -> bool | None:
    """Exact check for small rational functions: True/False; None when not cheap enough to try."""
    if not is_cheap(a, b):
        return None
    import sympy

    return sympy.cancel(to_sympy(a, domains) - to_sympy(b, domains)) == 0


def simplify_equal(a_text: str, b_text: str, domains: dict[str, str]) -> bool | None:
    """Child-process only: re-parse our own ASCII rendering, then ``simplify`` the difference."""
    import sympy

    from .parser import Env, parse

    env = Env(symbols=dict(domains))
    diff = to_sympy(parse(a_text, env), domains) - to_sympy(parse(b_text, env), domains)
    if sympy.simplify(diff) == 0:
        return True
    return None
