"""Fuzz: 100,000 generated and mutated inputs; no exception escapes, nothing takes a second, and canaries show
that no input was ever run as code (eval/exec/compile are watched, and inputs try to touch a file)."""

import builtins
import os
import random
import sys
import time
from pathlib import Path

import pytest
import yaml

from graders.answers import CRASH_FEEDBACK, AnswerResult, check_answer, preview_answer

N_INPUTS = 100_000
FULL_CHECK_EVERY = 100  # this share, and 1 in 17 of those that parse, also go through the full check_answer
TABLE = yaml.safe_load(Path(__file__).with_name("equivalence_table.yaml").read_text())
GPTQ = next(e for e in TABLE if e["id"] == "gptq-obs-update")
SPEC = {**GPTQ["spec"], "symbols": {**GPTQ["spec"]["symbols"], "x": {"domain": "real"}, "s": {"domain": "positive"},
                                    "z": {"domain": "integer"}, "alpha": {"domain": "real"}, "n_layers": {"domain": "positive_integer"}}}
NUMERIC = {"kind": "numeric", "answer": 14, "unit": "GB"}
CHOICE = {"kind": "multiple_choice", "options": [{"id": "a", "correct": True}, {"id": "b"}]}

TOKENS = (
    ["w_j", "w_q", "qw_q", "Hinv_qq", "Hinv_jq", "x", "s", "z", "alpha", "n_layers", "Hinv", "y", "foo", "e", "pi",
     "sqrt", "exp", "log", "ln", "log2", "log10", "abs", "min", "max", "round", "floor", "ceil", "clamp", "factorial",
     "sin", "lambda", "import", "os", "eval", "exec", "__class__", "__subclasses__", "__import__", "globals", "open",
     "0", "1", "2", "9", "10", "0.5", ".5", "1e308", "1e-400", "9" * 80, "1e9999", "3.14159", "2e", "1e-3",
     "+", "-", "*", "/", "^", "**", "(", ")", "[", "]", "{", "}", "|", ",", "!", "_", ".", "'", '"', ":", ";", "=",
     "<", ">", "%", "$", "#", "@", "&", "?", "~", "`", " ", "  ", "\t", "\n", "\\",
     "\\frac", "\\dfrac", "\\sqrt", "\\sqrt[3]", "\\left(", "\\right)", "\\left|", "\\right|", "\\left.", "\\cdot",
     "\\times", "\\div", "\\alpha", "\\sigma", "\\pi", "\\infty", "\\log_{10}", "\\log_", "\\ln", "\\exp", "\\max",
     "\\operatorname{clamp}", "\\text{", "\\mathrm{Hinv}", "\\lfloor", "\\rfloor", "\\lceil", "\\rceil", "\\,",
     "\\hat", "\\input{/etc/passwd}", "\\def", "\\csname", "_{qq}", "^{-1}", "[H^{-1}]_{qq}", "^{", "_{",
     "α", "σ", "²", "³", "−", "·", "×", "√", "π", "\u200f", "\x00", "\ufeff", "😀", "①", "٣", "ｘ"]
)
PREFIX = "/tmp/quantprep-fuzz-canary"
CANARIES = [
    "__import__('os').system('touch {canary}')",
    "__import__('os').system('touch {canary}').__class__",
    "open('{canary}', 'w').write('x')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__.__mro__[1].__subclasses__()[0]",
    "lambda: __import__('os').system('touch {canary}')",
    "(lambda: 0)()",
    "exec(\"open('{canary}','w')\")",
    "eval('1+1')",
    "compile('1', 'x', 'eval')",
    "globals()['__builtins__']",
    "getattr(x, '__class__')",
    "9**9**9**9",
    "9^9^9^9",
    "factorial(10**9)",
    "factorial(factorial(20))",
    "(10^9)!",
    "((20!)!)!",
    "x!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "(" * 10_000 + "x" + ")" * 10_000,
    "\\frac{" * 5000 + "x" + "}{2}" * 5000,
    "-" * 50_000 + "x",
    "x" * 50_000,
    "x" * 50_000 + "!",
    "1" + " " * 50_000 + "GB",
    "1" + " " * 50_000 + "!",
    "a" + "," * 50_000,
    "Symbol('x')",
    "S('x')",
    "sympify('x')",
    "Integer(9)**Integer(9)**Integer(9)",
    "{{7*7}}",
    "${7*7}",
    "%(x)s",
    "\\immediate\\write18{touch {canary}}",
    "1e308*1e308*1e308",
    "exp(exp(exp(exp(exp(exp(x))))))",
    "x^999^999",
    "(x+w_j)^1000",
    "log(0)",
    "1/(x-x)",
    "sqrt(-1)",
]


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        pos = rng.randint(0, len(chars))
        if choice < 0.3:
            chars[pos:pos] = list(rng.choice(TOKENS))
        elif choice < 0.5 and chars:
            end = min(len(chars), pos + rng.randint(1, 5))
            del chars[pos:end]
        elif choice < 0.65 and chars:
            end = min(len(chars), pos + rng.randint(1, 8))
            chars[pos:pos] = chars[pos:end] * rng.randint(1, 3)
        elif choice < 0.8 and chars:
            chars[min(pos, len(chars) - 1)] = chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x3000)]))
        else:
            chars[pos:pos] = list(rng.choice(["(", ")", "{", "}", "^", "\\", "_", "|"]) * rng.randint(1, 30))
    return "".join(chars)[:3000]


NAMES = ["w_j", "w_q", "qw_q", "Hinv_qq", "Hinv_jq", "x", "s", "z", "alpha", "n_layers", "Hinv_{qq}", "\\alpha"]


def _expr(rng: random.Random, depth: int = 0) -> str:
    """A random well-formed formula in the learner grammar (ASCII and LaTeX mixed)."""
    if depth > 4 or rng.random() < 0.3:
        return rng.choice(NAMES + [str(rng.randint(0, 20)), f"{rng.uniform(-5, 5):.3g}", "1e-3", "pi", "e", "2.5e2"])
    a, b = _expr(rng, depth + 1), _expr(rng, depth + 1)
    return rng.choice([
        f"{a} + {b}", f"{a} - {b}", f"{a}*{b}", f"{a} {b}", f"({a})({b})", f"{a}/{b}", f"({a})^{rng.randint(-3, 4)}",
        f"({a})^({b})", f"-({a})", f"sqrt({a})", f"log({a})", f"exp({a})", f"abs({a})", f"|{a}|", f"round({a})",
        f"min({a}, {b})", f"max({a}, {b}, {a})", f"clamp({a}, {b}, {a})", f"\\frac{{{a}}}{{{b}}}", f"\\sqrt{{{a}}}",
        f"\\left({a}\\right)", f"{a} \\cdot {b}", f"({a})!", f"floor({a}/{b})", f"\\log_{{10}} ({a})",
    ])


def generate(n: int, canary: str):
    rng = random.Random(20260523)
    seeds = [a for e in TABLE for a in (e.get("equivalent") or []) + (e.get("not_equivalent") or [])]
    seeds += [c.replace("{canary}", canary) for c in CANARIES]
    for i in range(n):
        r = i % 10
        if r < 3:
            yield "".join(rng.choice(TOKENS) + (" " if rng.random() < 0.3 else "") for _ in range(rng.randint(1, 40)))
        elif r < 6:
            yield _mutate(rng, rng.choice(seeds))
        elif r < 9:
            text = _expr(rng)
            yield _mutate(rng, text) if rng.random() < 0.3 else text
        else:
            depth = rng.choice([5, 50, 61, 100, 999, 3000])
            op = rng.choice(["(", "-", "sqrt(", "\\sqrt{", "2^", "|", "\\frac{1}{", "x*", "x!"])
            yield op * depth + "x" + {"(": ")", "sqrt(": ")", "\\sqrt{": "}", "|": "|", "\\frac{1}{": "}"}.get(op, "") * depth


class Watch:
    """Records every eval/exec/compile of a string while the fuzz runs, with the calling module.

    Library machinery may compile its own code while it lazily imports (importlib, sympy's version checks,
    traceback's ``ast.parse`` of source lines); that is allowed and listed. Anything else, any call from
    ``graders``, and any call whose text contains the current input fails the test.
    """

    # Python's and sympy's own code generation from fixed templates (sympy.polys.monomials builds its monomial
    # functions on first use, which under load may first happen inside this test). A call that carries the
    # learner's text is refused whoever makes it.
    ALLOWED_CALLERS = {"ast", "importlib._bootstrap", "importlib._bootstrap_external", "sympy.external.importtools",
                       "sympy.polys.monomials"}

    def __init__(self):
        self.calls = []
        self.saved = {}
        self.current = ""

    def bad_calls(self):
        return [c for c in self.calls if c[2] not in self.ALLOWED_CALLERS or c[3]]

    def __enter__(self):
        for name in ("eval", "exec", "compile"):
            real = getattr(builtins, name)
            self.saved[name] = real

            def spy(*args, _real=real, _name=name, **kwargs):
                if args and isinstance(args[0], str | bytes):
                    code = args[0] if isinstance(args[0], str) else args[0].decode("latin-1")
                    caller = sys._getframe(1).f_globals.get("__name__")
                    has_input = len(self.current) >= 4 and self.current in code
                    self.calls.append((_name, code[:80], caller, has_input))
                return _real(*args, **kwargs)

            setattr(builtins, name, spy)
        self.saved["system"] = os.system
        os.system = lambda *a: self.calls.append(("os.system", str(a), "?", True)) or 0
        return self

    def __exit__(self, *exc):
        for name in ("eval", "exec", "compile"):
            setattr(builtins, name, self.saved[name])
        os.system = self.saved["system"]


def _check_preview(text: str, result: AnswerResult) -> None:
    assert (result.parsed is None) != (result.error is None), text[:200]  # read, or told why not; never a crash
    _check_result(text, result)


def _check_result(text: str, result: AnswerResult, positional: bool = True) -> None:
    assert isinstance(result, AnswerResult)
    assert result.feedback != CRASH_FEEDBACK, text[:200]
    if result.error is not None:
        assert result.parsed is None and result.score == 0 and not result.correct
        if positional:
            assert "at position" in result.error or "empty" in result.error, result.error


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_no_escape_no_hang_no_code(tmp_path):
    canary = str(tmp_path / "canary")
    assert check_answer(SPEC["expected"], SPEC).correct  # warm the key and sympy (imported by the exact check)
    slowest = slowest_wall = (0.0, "")
    full = 0
    with Watch() as watch:
        for i, text in enumerate(generate(N_INPUTS, canary)):
            watch.current = text
            start, wall = time.thread_time(), time.perf_counter()  # CPU: a loaded machine stretches wall time
            preview = preview_answer(text, SPEC)
            _check_preview(text, preview)
            if i % 7 == 0:
                _check_preview(text, preview_answer(text, NUMERIC))
            if i % FULL_CHECK_EVERY == 0 or (preview.parsed and i % 17 == 0):
                _check_result(text, check_answer(text, SPEC))
                full += 1
            if i % (FULL_CHECK_EVERY * 5) == 1:
                _check_result(text, check_answer(text, NUMERIC))
            slowest = max(slowest, (time.thread_time() - start, text[:120]))
            slowest_wall = max(slowest_wall, (time.perf_counter() - wall, text[:120]))
        for raw in CANARIES:
            text = raw.replace("{canary}", canary)
            watch.current = text
            start, wall = time.thread_time(), time.perf_counter()
            result = check_answer(text, SPEC)
            slowest = max(slowest, (time.thread_time() - start, text[:120]))
            slowest_wall = max(slowest_wall, (time.perf_counter() - wall, text[:120]))
            _check_result(text, result)
            assert result.error is not None or not result.correct
    assert watch.bad_calls() == []
    assert not os.path.exists(canary)
    assert full >= N_INPUTS // FULL_CHECK_EVERY
    assert slowest[0] < 1.0, slowest  # this thread's CPU for the worst input
    assert slowest_wall[0] < 5.0, slowest_wall  # and no wait on a check in a process of its own (2 s limit) or worse


def test_the_watch_would_see_an_eval_of_the_input():
    with Watch() as watch:
        watch.current = "1 + 1"
        assert eval("1 + 1") == 2  # noqa: S307 - the point of this test
    assert watch.bad_calls() == [("eval", "1 + 1", __name__, True)]


def test_canaries_are_refused_or_harmless(tmp_path):
    canary = str(tmp_path / "canary")
    with Watch() as watch:
        for raw in CANARIES:
            text = raw.replace("{canary}", canary)
            watch.current = text
            start, wall = time.thread_time(), time.perf_counter()  # CPU: a loaded machine stretches wall time
            result = check_answer(text, SPEC)
            for other in (NUMERIC, CHOICE):
                _check_result(text, check_answer(text, other), positional=other is NUMERIC)
                _check_result(text, preview_answer(text, other), positional=other is NUMERIC)
            assert time.thread_time() - start < 1.0 and time.perf_counter() - wall < 5.0, text[:80]
            _check_result(text, result)
            if any(k in raw for k in ("import", "open", "class", "lambda", "exec", "eval", "compile", "globals", "getattr")):
                assert result.error is not None
    assert watch.bad_calls() == []
    assert not os.path.exists(canary)


def test_fuzz_time_limited_paths(monkeypatch):
    """Under load the sampling budget runs out: that path must be as crash-free as the normal one, never
    marks an answer right, and marks it wrong only on a disagreement the full budget finds too."""
    from graders.math import equivalence as eq

    rng = random.Random(7)
    texts = [_expr(rng) for _ in range(1500)]
    with monkeypatch.context() as m:
        m.setattr(eq, "TIME_BUDGET_S", 0.0)
        hurried = [check_answer(text, SPEC) for text in texts]
    wrong = 0
    for text, result in zip(texts, hurried, strict=True):
        _check_result(text, result)
        if result.error is None and not result.undecided:
            wrong += 1
            assert not result.correct and result.score < 1, text[:200]
            assert not check_answer(text, SPEC).correct, text[:200]
        else:
            assert result.error is not None or result.score == 0
    assert wrong > 0  # the disagreements found before the budget ran out
