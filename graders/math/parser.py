"""Tokenizer and recursive-descent parser for learner formulas: ASCII math and LaTeX as MathLive writes it.

Nothing here evaluates text. The parser builds a tree of whitelisted ``Node`` operations whose names are
all declared symbols (checked here), parameters (turned into numbers) or the fixed function list. Sizes,
nesting, numbers and exponents are bounded so that everything downstream stays cheap; every failure is a
``ParseError`` that names the position in the input.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .nodes import FUNCTIONS, GREEK, UNARY_FUNCTIONS, Node

MAX_LEN = 1000
MAX_DEPTH = 60
MAX_NODES = 600
MAX_NUMBER_CHARS = 60


class ParseError(ValueError):
    """Input that is not a formula we accept. ``pos`` is 0-based; the message says it 1-based."""

    def __init__(self, message: str, pos: int | None, hint: str = ""):
        self.message = message
        self.pos = pos
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.message}." if self.pos is None else f"{self.message} at position {self.pos + 1}."
        return f"{text} {self.hint}" if self.hint else text


@dataclass
class Env:
    """What names mean in one part: declared symbols (name -> domain), display LaTeX, parameter values."""

    symbols: dict[str, str] = field(default_factory=dict)
    latex: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)  # parameter name -> number literal text

    def __post_init__(self) -> None:
        self._by_first: dict[str, list[str]] = {}
        for name in sorted(self.symbols, key=len, reverse=True):
            self._by_first.setdefault(name[0], []).append(name)
        # Declared display LaTeX a learner may type as shown ("[H^{-1}]_{qq}"), longest first.
        self._forms: dict[str, list[tuple[str, str]]] = {}
        for name, tex in self.latex.items():
            compact = "".join(tex.split())
            if compact and name in self.symbols and any(c in compact for c in "\\[]()^|"):
                self._forms.setdefault(compact[0], []).append((compact, name))
        for forms in self._forms.values():
            forms.sort(key=lambda f: len(f[0]), reverse=True)

    def split(self, name: str) -> list[tuple[str, int]] | None:
        """Split run-together letters into declared names (``ab`` -> a, b), fewest pieces; None if impossible."""
        best: list[list[tuple[str, int]] | None] = [None] * (len(name) + 1)
        best[0] = []
        for i in range(len(name)):
            if best[i] is None:
                continue
            for sym in self._by_first.get(name[i], ()):
                if name.startswith(sym, i):
                    j = i + len(sym)
                    cand = best[i] + [(sym, i)]
                    if best[j] is None or len(cand) < len(best[j]):
                        best[j] = cand
        return best[len(name)]

    def match_form(self, text: str, i: int) -> tuple[str, int] | None:
        """A declared symbol's display LaTeX starting at ``i`` (whitespace ignored): (name, end) or None."""
        for compact, name in self._forms.get(text[i], ()):
            j, k = i, 0
            while k < len(compact) and j < len(text):
                if text[j].isspace():
                    j += 1
                    continue
                if text[j] != compact[k]:
                    break
                j += 1
                k += 1
            if k == len(compact):
                return name, j
        return None

    def unknown_name_hint(self, name: str) -> str:
        if not self.symbols:
            return "Only numbers are expected here." if name not in FUNCTIONS else ""
        names = sorted(self.symbols)
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
        hint = f"Did you mean {' or '.join('`' + c + '`' for c in close)}? " if close else ""
        return hint + "You can use: " + ", ".join(names) + "."


# ------------------------------------------------------------------------------------------ tokenizer

_WS = re.compile(r"\s+")
_NUM = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
# In LaTeX \_ is a literal underscore: the math editor writes the name n_kv_heads as n\_kv\_heads.
_NAME_TEX = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\\?_[A-Za-z0-9]+)*")
_CMD = re.compile(r"\\([A-Za-z]+|.)", re.S)
_TEXT_ARG = re.compile(r"\s*\*?\s*\{([^{}]*)\}")
_TEXT_CMDS = frozenset({"operatorname", "mathrm", "text", "mathit", "textrm", "mathsf", "textit", "mathbf"})
_SPACES = frozenset({",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits"})
_SIZES = frozenset({"left", "right", "mleft", "mright", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr"})
_CMD_TOKENS = {
    "cdot": ("op", "*"), "times": ("op", "*"), "ast": ("op", "*"), "div": ("op", "/"),
    "frac": ("frac", "frac"), "dfrac": ("frac", "frac"), "tfrac": ("frac", "frac"), "cfrac": ("frac", "frac"),
    "sqrt": ("sqrt", "sqrt"),
    "ln": ("func", "ln"), "log": ("func", "log"), "exp": ("func", "exp"), "min": ("func", "min"),
    "max": ("func", "max"), "lg": ("func", "log10"),
    "lfloor": ("op", "lfloor"), "rfloor": ("op", "rfloor"), "lceil": ("op", "lceil"), "rceil": ("op", "rceil"),
    "lbrack": ("op", "["), "rbrack": ("op", "]"), "{": ("op", "("), "}": ("op", ")"),
    "lbrace": ("op", "("), "rbrace": ("op", ")"), "lparen": ("op", "("), "rparen": ("op", ")"),
    "vert": ("op", "|"), "lvert": ("op", "|"), "rvert": ("op", "|"), "mid": ("op", "|"), "|": ("op", "|"),
    "_": ("op", "_"), "exponentialE": ("name", "e"),
}
_UNICODE = {
    "\u2212": [("op", "-")], "\u2013": [("op", "-")], "\u00b7": [("op", "*")], "\u22c5": [("op", "*")],
    "\u00d7": [("op", "*")], "\u2217": [("op", "*")], "\u00f7": [("op", "/")],
    "\u00b2": [("op", "^"), ("num", "2")], "\u00b3": [("op", "^"), ("num", "3")],
    "\u221a": [("func", "sqrt")], "\u03c0": [("name", "pi")],
    "\u230a": [("op", "lfloor")], "\u230b": [("op", "rfloor")], "\u2308": [("op", "lceil")], "\u2309": [("op", "rceil")],
}
_GREEK_CHARS = dict(zip(
    "αβγδεζηθικλμνξρστυφχψωΓΔΘΛΞΠΣΦΨΩ",
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau upsilon phi chi "
    "psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega".split(),
    strict=True,
))
_SINGLE = frozenset("+-*/^()[]{},|!_")


def _show(ch: str) -> str:
    return ch if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"


def tokenize(text: str, env: Env) -> list[tuple[str, str, int]]:
    """Tokens ``(kind, text, pos)``; kinds: num, name, op, func, frac, sqrt, bad (holds a ParseError), end."""
    toks: list = []
    try:
        _scan(text, env, toks)
    except ParseError as exc:
        # Reported only if the parser gets that far, so the leftmost problem is the one named.
        toks.append(("bad", exc, exc.pos))
    toks.append(("end", "", len(text)))
    return toks


def _scan(text: str, env: Env, toks: list) -> None:
    i, n = 0, len(text)
    forms = env._forms
    while i < n:
        ch = text[i]
        if ch.isspace() or ch == "~":
            i += 1
            continue
        if ch in forms:
            hit = env.match_form(text, i)
            if hit:
                toks.append(("name", hit[0], i))
                i = hit[1]
                continue
        if "0" <= ch <= "9" or (ch == "." and i + 1 < n and "0" <= text[i + 1] <= "9"):
            m = _NUM.match(text, i)
            if len(m.group()) > MAX_NUMBER_CHARS:
                raise ParseError("This number is too long", i)
            toks.append(("num", m.group(), i))
            i = m.end()
            continue
        if ch.isascii() and ch.isalpha():
            m = _NAME_TEX.match(text, i)
            toks.append(("name", m.group().replace("\\_", "_"), i))
            i = m.end()
            continue
        if ch == "\\":
            i = _command(text, i, toks)
            continue
        if ch == "*" and text.startswith("**", i):
            toks.append(("op", "^", i))
            i += 2
            continue
        if ch in _SINGLE:
            toks.append(("op", ch, i))
            i += 1
            continue
        if ch in _UNICODE:
            toks.extend((k, t, i) for k, t in _UNICODE[ch])
            i += 1
            continue
        if ch in _GREEK_CHARS:
            toks.append(("name", _GREEK_CHARS[ch], i))
            i += 1
            continue
        raise ParseError(f"Unexpected character `{_show(ch)}`", i)


def _command(text: str, i: int, toks: list) -> int:
    m = _CMD.match(text, i)
    if not m:
        raise ParseError("A backslash must start a command such as \\frac", i)
    cmd, end = m.group(1), m.end()
    if cmd in _SPACES:
        return end
    if cmd in _SIZES:
        # \left( ... \right): the size hint goes, the delimiter stays; "\left." is an invisible delimiter.
        j = end
        while j < len(text) and text[j].isspace():
            j += 1
        return j + 1 if text.startswith(".", j) else j
    if cmd in _TEXT_CMDS:
        arg = _TEXT_ARG.match(text, end)
        if not arg:
            raise ParseError(f"`\\{cmd}` needs a {{...}} argument", i)
        word = "".join(arg.group(1).replace("\\_", "_").split())
        if word:
            if not _NAME.fullmatch(word):
                raise ParseError(f"Cannot read `{word}` as a name", i)
            toks.append(("name", word, i))
        return arg.end()
    if cmd in GREEK:
        toks.append(("name", cmd, i))
        return end
    if cmd in _CMD_TOKENS:
        kind, tok = _CMD_TOKENS[cmd]
        toks.append((kind, tok, i))
        return end
    if cmd == "infty":
        raise ParseError("Infinity is not a value we can check", i)
    raise ParseError(f"Unknown command `\\{_show(cmd) if len(cmd) == 1 else cmd}`", i)


def candidate_names(text: str) -> list[str]:
    """Names an author's formula uses (for the CLI's default ``--symbols``), functions and constants left out."""
    names = []
    for kind, tok, _ in tokenize(text, Env()):
        if kind == "bad":
            raise tok
        if kind == "name" and tok not in FUNCTIONS and tok not in _FUNC_ALIASES and tok not in ("pi", "e"):
            if tok not in names:
                names.append(tok)
    return names


# ------------------------------------------------------------------------------------------ parser

_OPEN_CLOSE = {"(": ")", "[": "]", "{": "}"}
_FUNC_ALIASES = {"log_2": "log2", "log_10": "log10", "log_e": "log", "lg": "log10"}


def parse(text: str, env: Env) -> Node:
    """Parse learner (or author) text into a bounded tree of declared names; raise ParseError otherwise."""
    if len(text) > MAX_LEN:
        raise ParseError(f"Your answer is too long ({len(text)} characters; the limit is {MAX_LEN})", MAX_LEN)
    if not text.strip():
        raise ParseError("Your answer is empty: type a formula", None)
    tree = _Parser(tokenize(text, env), env, latex="\\" in text or "{" in text).parse()
    from .evaluate import check_constants  # late import: evaluate imports nodes only

    check_constants(tree)
    return tree


class _Parser:
    def __init__(self, toks: list, env: Env, latex: bool):
        self.toks = toks
        self.env = env
        self.latex = latex
        self.i = 0
        self.depth = 0
        self.count = 0
        self.abs_open = 0

    # -- helpers
    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def advance(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        k, t, _ = self.toks[self.i]
        return k == kind and (text is None or t == text)

    def node(self, op: str, args: tuple, pos: int, value: str | None = None) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise ParseError("This formula is too long to check", pos)
        return Node(op, args, pos, value)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("Too many nested brackets or operators", pos)

    def leave(self) -> None:
        self.depth -= 1

    def fail_here(self, what: str = "") -> ParseError:
        kind, text, pos = self.peek()
        if kind == "bad":
            return text
        if kind == "end":
            return ParseError(what or "The formula ends too early: something is missing", pos)
        shown = {"frac": "\\frac", "sqrt": "\\sqrt"}.get(kind, text)
        return ParseError(what or f"Unexpected `{shown}`", pos)

    def expect_op(self, text: str, opened_at: int) -> None:
        if not self.at("op", text):
            closer = {"rfloor": "\\rfloor", "rceil": "\\rceil"}.get(text, text)
            raise self.fail_here(f"Missing `{closer}` to close the bracket opened at position {opened_at + 1},")
        self.advance()

    def split_first(self) -> tuple[str, str, int]:
        """Take the first character of the current num/name token (TeX reads ``x^23`` as ``x^2 3``)."""
        kind, text, pos = self.toks[self.i]
        if len(text) > 1:
            rest: list = []
            _scan(text[1:], self.env, rest)  # "1e-3" after "^" is 1, then e - 3, as TeX reads it
            self.toks[self.i:self.i + 1] = [(k, t, p + pos + 1) for k, t, p in rest]
            return (kind, text[0], pos)
        return self.advance()

    # -- grammar
    def parse(self) -> Node:
        tree = self.expr()
        if not self.at("end"):
            raise self.fail_here()
        return tree

    def expr(self) -> Node:
        self.enter(self.peek()[2])
        left = self.term()
        while self.at("op", "+") or self.at("op", "-"):
            _, t, pos = self.advance()
            right = self.term()
            left = self.node("add" if t == "+" else "sub", (left, right), pos)
        self.leave()
        return left

    def starts_operand(self) -> bool:
        kind, text, _ = self.peek()
        if kind in ("num", "name", "func", "frac", "sqrt"):
            return True
        if kind == "op":
            if text == "|":
                return self.abs_open == 0
            return text in ("(", "[", "{", "lfloor", "lceil")
        return False

    def term(self) -> Node:
        left = self.unary()
        while True:
            if self.at("op", "*") or self.at("op", "/"):
                _, t, pos = self.advance()
                right = self.unary()
                left = self.node("mul" if t == "*" else "div", (left, right), pos)
            elif self.starts_operand():
                pos = self.peek()[2]
                right = self.power()
                left = self.node("mul", (left, right), pos, "implicit")
            else:
                return left

    def unary(self) -> Node:
        if self.at("op", "-") or self.at("op", "+"):
            _, t, pos = self.advance()
            self.enter(pos)
            arg = self.unary()
            self.leave()
            return self.node("neg", (arg,), pos) if t == "-" else arg
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.at("op", "^"):
            _, _, pos = self.advance()
            self.enter(pos)
            if self.latex and self.peek()[0] == "num":
                kind, text, tpos = self.split_first()
                exponent = self.number(text, tpos)
            else:
                exponent = self.unary()
            self.leave()
            base = self.node("pow", (base, exponent), pos)
            while self.at("op", "!"):
                base = self.node("fact", (base,), self.advance()[2])
        return base

    def postfix(self) -> Node:
        node = self.primary()
        while self.at("op", "!"):
            node = self.node("fact", (node,), self.advance()[2])
        return node

    def number(self, text: str, pos: int) -> Node:
        return self.node("num", (), pos, text)

    def primary(self) -> Node:
        kind, text, pos = self.peek()
        if kind == "num":
            self.advance()
            return self.number(text, pos)
        if kind == "name":
            return self.name()
        if kind == "func":
            self.advance()
            if text == "log" and self.at("op", "_"):
                self.advance()
                base = self.subscript()
                text = {"2": "log2", "10": "log10", "e": "log"}.get(base, "")
                if not text:
                    raise ParseError(f"Only logarithms to base 2, 10 and e are supported, not base `{base}`", pos)
            return self.call(text, pos)
        if kind == "frac":
            self.advance()
            self.enter(pos)
            num = self.tex_arg()
            den = self.tex_arg()
            self.leave()
            return self.node("div", (num, den), pos)
        if kind == "sqrt":
            self.advance()
            self.enter(pos)
            if self.at("op", "["):
                open_pos = self.advance()[2]
                index = self.expr()
                self.expect_op("]", open_pos)
                radicand = self.tex_arg()
                self.leave()
                one = self.node("num", (), pos, "1")
                return self.node("pow", (radicand, self.node("div", (one, index), pos)), pos)
            arg = self.tex_arg() if self.at("op", "{") or not self.at("op", "(") else self.group()
            self.leave()
            return self.node("call", (arg,), pos, "sqrt")
        if kind == "op":
            if text in _OPEN_CLOSE:
                return self.group()
            if text == "|":
                self.advance()
                self.enter(pos)
                self.abs_open += 1
                inner = self.expr()
                self.abs_open -= 1
                self.expect_op("|", pos)
                self.leave()
                return self.node("call", (inner,), pos, "abs")
            if text in ("lfloor", "lceil"):
                self.advance()
                self.enter(pos)
                inner = self.expr()
                self.expect_op("r" + text[1:], pos)
                self.leave()
                return self.node("call", (inner,), pos, text[1:])
        raise self.fail_here()

    def group(self) -> Node:
        _, text, pos = self.advance()
        saved, self.abs_open = self.abs_open, 0
        inner = self.expr()
        self.abs_open = saved
        self.expect_op(_OPEN_CLOSE[text], pos)
        return inner

    def tex_arg(self) -> Node:
        """One TeX argument: ``{...}``, or a single digit, letter or command (``\\frac12``)."""
        kind, text, pos = self.peek()
        if kind == "op" and text == "{":
            return self.group()
        if kind == "num":
            _, t, p = self.split_first()
            return self.number(t, p)
        if kind == "name" and text not in self.env.symbols and len(text) > 1 and "_" not in text:
            _, t, p = self.split_first()
            return self.resolve(t, p)
        if kind == "end":
            raise self.fail_here("This \\frac or \\sqrt is missing an argument")
        return self.primary()

    def subscript(self) -> str:
        kind, text, pos = self.peek()
        if kind == "op" and text == "{":
            self.advance()
            parts = []
            while not self.at("op", "}"):
                k, t, p = self.advance()
                if k == "bad":
                    raise t
                if k == "end":
                    raise ParseError(f"Missing `}}` to close the subscript opened at position {pos + 1},", p)
                if not (k == "name" or (k == "num" and t.isdigit()) or (k == "op" and t == "_")):
                    raise ParseError("A subscript may only hold letters and digits", p)
                parts.append(t)
            self.advance()
            sub = "".join(parts)
            if not sub:
                raise ParseError("Empty subscript", pos)
            return sub
        if kind == "name" or (kind == "num" and text.isdigit()):
            return (self.split_first() if self.latex else self.advance())[1]
        raise self.fail_here("Expected a subscript after `_`")

    def name(self) -> Node:
        _, name, pos = self.advance()
        while self.at("op", "_"):
            self.advance()
            name = name + "_" + self.subscript()
        return self.resolve(name, pos)

    def resolve(self, name: str, pos: int) -> Node:
        env = self.env
        if name in env.symbols:
            return self.node("sym", (), pos, name)
        if name in env.constants:
            return self.node("num", (), pos, env.constants[name])
        fname = _FUNC_ALIASES.get(name, name)
        if fname in FUNCTIONS:
            return self.call(fname, pos)
        if name in ("pi", "e"):
            return self.node("const", (), pos, name)
        pieces = env.split(name)
        if pieces:
            node = self.node("sym", (), pos, pieces[0][0])
            for sym, off in pieces[1:]:
                node = self.node("mul", (node, self.node("sym", (), pos + off, sym)), pos + off, "implicit")
            return node
        raise ParseError(f"Unknown name `{name}`", pos, env.unknown_name_hint(name))

    def call(self, fname: str, pos: int) -> Node:
        lo, hi = FUNCTIONS[fname]
        if self.peek()[0] == "op" and self.peek()[1] in _OPEN_CLOSE:
            _, opener, open_pos = self.advance()
            saved, self.abs_open = self.abs_open, 0
            args = [self.expr()]
            while self.at("op", ","):
                self.advance()
                args.append(self.expr())
            self.abs_open = saved
            self.expect_op(_OPEN_CLOSE[opener], open_pos)
        elif fname in UNARY_FUNCTIONS and self.starts_operand():
            self.enter(pos)
            args = [self.power()]
            self.leave()
        else:
            example = f"{fname}(a, b)" if lo > 1 else f"{fname}(x)"
            raise ParseError(f"`{fname}` needs its arguments in parentheses, like {example},", pos)
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = str(lo) if lo == hi else f"at least {lo}"
            raise ParseError(f"`{fname}` takes {want} argument{'s' if lo != 1 else ''}, not {len(args)},", pos)
        return self.node("call", tuple(args), pos, fname)
