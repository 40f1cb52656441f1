"""The formula tree the parser builds, and its LaTeX and ASCII renderings.

The tree is the only thing learner text turns into: a handful of whitelisted operations over numbers,
declared names and a fixed list of functions. Everything downstream (sampling, sympy, rendering) walks it.
"""

from __future__ import annotations

# name -> (min args, max args); max None means any number >= min.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "sqrt": (1, 1),
    "exp": (1, 1),
    "log": (1, 1),
    "ln": (1, 1),
    "log2": (1, 1),
    "log10": (1, 1),
    "abs": (1, 1),
    "min": (2, None),
    "max": (2, None),
    "round": (1, 1),
    "floor": (1, 1),
    "ceil": (1, 1),
    "clamp": (3, 3),
}
UNARY_FUNCTIONS = frozenset(f for f, (lo, hi) in FUNCTIONS.items() if lo == hi == 1)

GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "omicron pi rho sigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split()
)

OPS = frozenset({"num", "sym", "const", "neg", "add", "sub", "mul", "div", "pow", "call", "fact"})


class Node:
    """One operation. ``value``: the literal text (num), the name (sym, const, call) or None."""

    __slots__ = ("op", "args", "pos", "value")

    def __init__(self, op: str, args: tuple = (), pos: int = 0, value: str | None = None):
        self.op = op
        self.args = args
        self.pos = pos
        self.value = value

    def __repr__(self) -> str:
        return f"Node({self.op!r}, {self.value!r}, {list(self.args)!r})"

    def walk(self):
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.args)

    def names(self) -> set[str]:
        return {n.value for n in self.walk() if n.op == "sym"}

    def size(self) -> int:
        return sum(1 for _ in self.walk())


def is_sum(node: Node) -> bool:
    return node.op in ("add", "sub")


# ---------------------------------------------------------------------------------------------- LaTeX

def symbol_latex(name: str) -> str:
    """A name as it is typed: ``w_q`` -> ``w_{q}``, ``Hinv_qq`` -> ``\\mathrm{Hinv}_{qq}``; a name made of words
    (``n_kv_heads``, ``q_min``) stays one upright word with its underscores, so the learner recognises it."""
    base, _, sub = name.partition("_")
    if "_" in sub or len(sub) > 2:
        return "\\mathrm{" + name.replace("_", "\\_") + "}"
    return _latex_word(base) + ("_{" + _latex_word(sub) + "}" if sub else "")


def _latex_word(word: str) -> str:
    if word in GREEK:
        return "\\" + word
    if len(word) == 1 or word.isdigit():
        return word
    return "\\mathrm{" + word + "}"


def _num_latex(text: str) -> str:
    low = text.lower()
    if "e" in low:
        mant, _, exp = low.partition("e")
        exp = exp.lstrip("+")
        return f"{mant} \\times 10^{{{exp}}}"
    return text


_PREC = {"add": 1, "sub": 1, "mul": 2, "neg": 2, "div": 3, "pow": 4, "fact": 5}


def _prec(node: Node) -> int:
    if node.op == "num":
        if node.value.startswith("-"):
            return 2
        return 2 if "e" in node.value.lower() else 6
    return _PREC.get(node.op, 6)


def to_latex(node: Node, symbols: dict[str, str] | None = None) -> str:
    """Render the tree as LaTeX, with explicit ``\\cdot`` so the learner sees how we read the input."""
    symbols = symbols or {}

    def paren(s: str) -> str:
        return "\\left(" + s + "\\right)"

    def r(n: Node) -> str:
        op, a = n.op, n.args
        if op == "num":
            return _num_latex(n.value)
        if op == "sym":
            tex = symbols.get(n.value)
            return "{" + tex + "}" if tex else symbol_latex(n.value)
        if op == "const":
            return "\\pi" if n.value == "pi" else "e"
        if op == "neg":
            inner = r(a[0])
            return "-" + (paren(inner) if _prec(a[0]) <= 2 else inner)
        if op == "add":
            right = r(a[1])
            return r(a[0]) + " + " + (paren(right) if a[1].op == "neg" or right.startswith("-") else right)
        if op == "sub":
            right = r(a[1])
            wrap = _prec(a[1]) <= 1 or a[1].op == "neg" or right.startswith("-")
            return r(a[0]) + " - " + (paren(right) if wrap else right)
        if op == "mul":
            left = r(a[0])
            right = r(a[1])
            if _prec(a[0]) < 2:
                left = paren(left)
            if _prec(a[1]) <= 2:
                right = paren(right)
            return left + " \\cdot " + right
        if op == "div":
            return "\\frac{" + r(a[0]) + "}{" + r(a[1]) + "}"
        if op == "pow":
            base = r(a[0])
            if _prec(a[0]) < 6 or a[0].op == "call" and a[0].value not in ("abs", "floor", "ceil"):
                base = paren(base)
            return base + "^{" + r(a[1]) + "}"
        if op == "fact":
            inner = r(a[0])
            return (paren(inner) if _prec(a[0]) < 6 else inner) + "!"
        if op == "call":
            f = n.value
            args = ", ".join(r(x) for x in a)
            if f == "sqrt":
                return "\\sqrt{" + args + "}"
            if f == "abs":
                return "\\left|" + args + "\\right|"
            if f == "floor":
                return "\\left\\lfloor " + args + " \\right\\rfloor"
            if f == "ceil":
                return "\\left\\lceil " + args + " \\right\\rceil"
            head = {
                "exp": "\\exp",
                "log": "\\ln",
                "ln": "\\ln",
                "log2": "\\log_{2}",
                "log10": "\\log_{10}",
                "min": "\\min",
                "max": "\\max",
            }.get(f, "\\operatorname{" + f + "}")
            return head + paren(args)
        raise ValueError(f"unknown node {op}")

    return r(node)


# ---------------------------------------------------------------------------------------------- ASCII

def to_ascii(node: Node) -> str:
    """Render the tree in our own ASCII grammar (fully parenthesised where it matters); re-parses to itself."""

    def r(n: Node) -> str:
        op, a = n.op, n.args
        if op == "num":
            return "(" + n.value + ")" if n.value.startswith("-") else n.value
        if op in ("sym", "const"):
            return n.value
        if op == "neg":
            return "(-" + wrap(a[0], 5) + ")"
        if op in ("add", "sub"):
            sign = " + " if op == "add" else " - "
            return r(a[0]) + sign + wrap(a[1], 2 if op == "sub" else 1)
        if op == "mul":
            return wrap(a[0], 2) + "*" + wrap(a[1], 3)
        if op == "div":
            return wrap(a[0], 2) + "/" + wrap(a[1], 3)
        if op == "pow":
            return wrap(a[0], 5) + "^" + wrap(a[1], 5)
        if op == "fact":
            return wrap(a[0], 5) + "!"
        if op == "call":
            return n.value + "(" + ", ".join(r(x) for x in a) + ")"
        raise ValueError(f"unknown node {op}")

    def level(n: Node) -> int:
        return {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 5, "pow": 4, "fact": 5}.get(n.op, 6)

    def wrap(n: Node, need: int) -> str:
        s = r(n)
        return "(" + s + ")" if level(n) < need else s

    return r(node)
