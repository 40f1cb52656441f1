"""The safe parser: what it accepts (ASCII and MathLive LaTeX), what it refuses, and where it says the problem is."""

import pytest

from graders.math.nodes import OPS, to_ascii, to_latex
from graders.math.parser import MAX_LEN, Env, ParseError, candidate_names, parse

NAMES = "w_j w_q qw_q Hinv_qq Hinv_jq H_kv d_head n_layers max_x max_w alpha sigma s q z x a b y".split()
ENV = Env(symbols={n: "real" for n in NAMES}, latex={"Hinv_qq": "[H^{-1}]_{qq}", "max_w": "\\max|W_j|"})


def read(text: str) -> str:
    return to_ascii(parse(text, ENV))


@pytest.mark.parametrize(
    "text, expected",
    [
        # ASCII operators, implicit multiplication, numbers
        ("a + b - x", "a + b - x"),
        ("a*b/x", "a*b/x"),
        ("x^2", "x^2"),
        ("x**2", "x^2"),
        ("2^3^2", "2^(3^2)"),
        ("-x^2", "(-(x^2))"),
        ("2^-1", "2^(-1)"),
        ("2s", "2*s"),
        ("2 s", "2*s"),
        ("s(q - z)", "s*(q - z)"),
        ("(a)(b)", "a*b"),
        ("1/2x", "1/2*x"),
        ("1.5e-3 x", "1.5e-3*x"),
        (".5", ".5"),
        ("ab", "a*b"),
        ("a b x", "a*b*x"),
        ("sw_q", "s*w_q"),
        ("[a + b] x", "(a + b)*x"),
        ("|x - a|", "abs(x - a)"),
        ("|a - |b||", "abs(a - abs(b))"),
        ("x!", "x!"),
        ("pi x", "pi*x"),
        ("e^x", "e^x"),
        # declared names with subscripts, Greek names
        ("w_q", "w_q"),
        ("Hinv_qq", "Hinv_qq"),
        ("H_kv d_head", "H_kv*d_head"),
        ("alpha sigma", "alpha*sigma"),
        ("max_x^alpha", "max_x^alpha"),
        # functions
        ("sqrt(x)", "sqrt(x)"),
        ("sqrt x", "sqrt(x)"),
        ("exp(x) + log(x) + ln(x)", "exp(x) + log(x) + ln(x)"),
        ("log2(x) + log10(x) + log_2(x) + log_10(x)", "log2(x) + log10(x) + log2(x) + log10(x)"),
        ("abs(x) + min(a, b) + max(a, b, x)", "abs(x) + min(a, b) + max(a, b, x)"),
        ("round(x) + floor(x) + ceil(x)", "round(x) + floor(x) + ceil(x)"),
        ("clamp(round(x/s) + z, a, b)", "clamp(round(x/s) + z, a, b)"),
        # LaTeX as MathLive writes it
        ("\\frac{a}{b}", "a/b"),
        ("\\dfrac{a+b}{x}", "(a + b)/x"),
        ("\\frac12", "1/2"),
        ("a\\cdot b", "a*b"),
        ("a\\times b", "a*b"),
        ("x^{a+b}", "x^(a + b)"),
        ("x^23 + \\alpha", "x^2*3 + alpha"),
        ("x^23", "x^23"),
        ("H_{kv}", "H_kv"),
        ("Hinv_{qq}", "Hinv_qq"),
        ("n_{layers}", "n_layers"),
        ("max_x^{\\alpha}", "max_x^alpha"),
        ("\\sqrt{x}", "sqrt(x)"),
        ("\\sqrt[3]{x}", "x^(1/3)"),
        ("\\log_{10} x", "log10(x)"),
        ("\\log_2\\left(x\\right)", "log2(x)"),
        ("\\ln x", "ln(x)"),
        ("\\left(a+b\\right)^{2}", "(a + b)^2"),
        ("\\left|x\\right|", "abs(x)"),
        ("\\lfloor x \\rfloor", "floor(x)"),
        ("\\lceil x \\rceil", "ceil(x)"),
        ("\\alpha\\sigma", "alpha*sigma"),
        ("\\sigma^{2}", "sigma^2"),
        ("\\operatorname{clamp}\\left(x, a, b\\right)", "clamp(x, a, b)"),
        ("\\mathrm{Hinv}_{qq}", "Hinv_qq"),
        ("n_{\\text{layers}}", "n_layers"),
        ("a\\,b", "a*b"),
        ("\\max\\left(a, b\\right)", "max(a, b)"),
        ("\\pi", "pi"),
        # a declared symbol typed as it is displayed
        ("[H^{-1}]_{qq}", "Hinv_qq"),
        ("[H^{-1}]_{ qq }", "Hinv_qq"),
        ("\\max|W_j|", "max_w"),
        # Unicode a keyboard may produce
        ("a·b − x", "a*b - x"),
        ("α x²", "alpha*x^2"),
        ("√x", "sqrt(x)"),
    ],
)
def test_accepts(text, expected):
    assert read(text) == expected


@pytest.mark.parametrize(
    "text, message, position",
    [
        ("Hinv", "Unknown name `Hinv`", 1),
        ("w_j - (w_q - qw_q)/Hinv * Hinv_jq", "Unknown name `Hinv`", 20),
        ("Hinv_{q}", "Unknown name `Hinv_q`", 1),
        ("sin(x)", "Unknown name `sin`", 1),
        ("factorial(10**9)", "Unknown name `factorial`", 1),
        ("__import__('os')", "Unexpected `_`", 1),
        ("lambda: 0", "Unknown name `lambda`", 1),
        ("x.y", "Unexpected character `.`", 2),
        ("a $ b", "Unexpected character `$`", 3),
        ("x +", "ends too early", 4),
        ("(a + b", "Missing `)` to close the bracket opened at position 1", 7),
        ("a)", "Unexpected `)`", 2),
        ("max(a)", "`max` takes at least 2 arguments", 1),
        ("clamp(x, a)", "`clamp` takes 3 arguments", 1),
        ("max", "needs its arguments in parentheses", 1),
        ("\\hat{x}", "Unknown command `\\hat`", 1),
        ("\\frac{a}", "missing an argument", 9),
        ("x_{", "Missing `}` to close the subscript", 4),
        ("\\log_{3} x", "base 2, 10 and e", 1),
        ("1/0", "Division by zero", 2),
        ("9**9**9", "exponent is too large", 2),
        ("9^9^9^9", "exponent is too large", 4),
        ("x^2000", "exponent is too large", 2),
        ("1e999", "too large", 1),
        ("10^200 * 10^200", "too large", 8),
        ("200!", "Factorials are only for whole numbers", 4),
        ("(2.5)!", "Factorials are only for whole numbers", 6),
        ("x^" + "9" * 70, "too long", 3),
        ("\\infty", "Infinity", 1),
    ],
)
def test_refuses_with_position(text, message, position):
    with pytest.raises(ParseError) as info:
        parse(text, ENV)
    err = info.value
    assert message in str(err)
    assert err.pos + 1 == position
    assert f"at position {position}" in str(err)


def test_unknown_name_lists_the_declared_ones_and_a_close_match():
    with pytest.raises(ParseError) as info:
        parse("w_j - (w_q - qw_q)/Hinv * Hinv_jq", ENV)
    text = str(info.value)
    assert text.startswith("Unknown name `Hinv` at position 20.")
    assert "Did you mean `Hinv_qq` or `Hinv_jq`?" in text
    assert "You can use: H_kv, Hinv_jq, Hinv_qq," in text


def test_empty_and_oversized_input():
    with pytest.raises(ParseError, match="empty"):
        parse("   ", ENV)
    with pytest.raises(ParseError, match="too long") as info:
        parse("x+" * MAX_LEN, ENV)
    assert info.value.pos == MAX_LEN


@pytest.mark.timeout(5)
def test_nesting_is_bounded_without_recursion_errors():
    for text in ("(" * 10_000 + "x" + ")" * 10_000, "(" * 400 + "x" + ")" * 400, "-" * 900 + "x",
                 "2^" * 400 + "x", "sqrt(" * 300 + "x" + ")" * 300, "{" * 400 + "x" + "}" * 400):
        with pytest.raises(ParseError, match="too long|nested"):
            parse(text, ENV)
    parse("(" * 50 + "x" + ")" * 50, ENV)


def test_long_flat_formula_is_bounded_by_node_count():
    with pytest.raises(ParseError, match="too long to check"):
        parse("+".join(["x"] * 400), ENV)
    tree = parse("+".join(["x"] * 250), ENV)
    assert to_latex(tree).count("x") == 250


def test_tree_holds_only_whitelisted_operations_and_declared_names():
    tree = parse("w_j - \\frac{w_q - qw_q}{[H^{-1}]_{qq}} \\cdot Hinv_{jq} + clamp(round(x/s)+z, a, b) + |y|!", ENV)
    for node in tree.walk():
        assert node.op in OPS
        if node.op == "sym":
            assert node.value in ENV.symbols
    assert tree.names() == {"w_j", "w_q", "qw_q", "Hinv_qq", "Hinv_jq", "x", "s", "z", "a", "b", "y"}


def test_latex_rendering_shows_how_the_answer_was_read():
    tree = parse("w_j - (w_q - qw_q)/Hinv_qq Hinv_jq", ENV)
    assert to_latex(tree, ENV.latex) == (
        "w_{j} - \\frac{w_{q} - \\mathrm{qw}_{q}}{{[H^{-1}]_{qq}}} \\cdot \\mathrm{Hinv}_{\\mathrm{jq}}"
    )
    assert to_latex(parse("1/2x", ENV)) == "\\frac{1}{2} \\cdot x"
    assert to_latex(parse("-(a+b)^2", ENV)) == "-\\left(a + b\\right)^{2}"
    assert to_latex(parse("log(x) + log10(x) + |x|", ENV)) == (
        "\\ln\\left(x\\right) + \\log_{10}\\left(x\\right) + \\left|x\\right|"
    )


def test_ascii_rendering_round_trips():
    for text in ("w_j - (w_q - qw_q)/Hinv_qq*Hinv_jq", "-(a - b)^2/x!", "a - (b - (x - y))", "2^3^2", "(2^3)^2",
                 "a/(b/x)", "a - -b", "clamp(-x, -a, b)", "(-2)^x", "-2^x"):
        once = read(text)
        assert read(once) == once


def test_parameters_become_numbers_and_names_come_from_the_author_text():
    env = Env(symbols={"x": "real"}, constants={"n_layers": "32"})
    assert to_ascii(parse("2*n_layers*x", env)) == "2*32*x"
    assert candidate_names("2*n_layers*n_kv_heads*d_head + sqrt(x) + pi") == ["n_layers", "n_kv_heads", "d_head", "x"]
