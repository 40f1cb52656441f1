"""Names as learners type them: one name from the math editor's escaped underscores, and an echo ("we read your
answer as") in the learner's own names that reads back as the same answer, for every symbolic part of the bank."""

import pytest

from graders.answers import check_answer, normalize_symbols, preview_answer
from graders.math.nodes import symbol_latex, to_ascii
from graders.math.parser import Env, ParseError, parse
from tests.bank import fixtures_content

KV = {"kind": "symbolic", "expected": "2*n_layers*n_kv_heads*d_head*seq_len*batch*dtype_bytes",
      "symbols": {"n_layers": {"latex": "n_{\\text{layers}}"}, "n_kv_heads": {"latex": "H_{\\text{kv}}"},
                  "d_head": {"latex": "d_{\\text{head}}"}, "seq_len": {"latex": "L_{\\text{ctx}}"},
                  "batch": {}, "dtype_bytes": {"latex": "\\text{bytes}"}}}
KV_ENV = Env(symbols=normalize_symbols(KV["symbols"])[0])


def test_escaped_underscores_join_one_name_as_the_math_editor_writes_it():
    typed = "2\\cdot n\\_layers\\cdot n\\_kv\\_heads*d\\_head*seq\\_len*batch*dtype\\_bytes"
    assert to_ascii(parse(typed, KV_ENV)) == to_ascii(parse(KV["expected"], KV_ENV))
    assert check_answer(typed, KV).correct


def test_an_escaped_underscore_is_not_a_way_around_the_declared_names():
    with pytest.raises(ParseError, match="Unknown name `n_kv`"):
        parse("n\\_kv*batch", KV_ENV)


def test_the_echo_shows_the_learners_names_not_the_display_notation():
    echo = preview_answer(KV["expected"], KV).parsed
    for name, info in KV["symbols"].items():
        assert symbol_latex(name) in echo
        assert not info or info["latex"] not in echo
    assert "\\mathrm{n\\_kv\\_heads}" in echo
    graded = check_answer(KV["expected"], KV)
    assert graded.correct and graded.parsed == echo


def test_the_display_notation_is_still_read_and_graded():
    typed = "2 n_{\\text{layers}} H_{\\text{kv}} d_{\\text{head}} L_{\\text{ctx}} batch \\text{bytes}"
    result = check_answer(typed, KV)
    assert result.correct and "\\mathrm{n\\_kv\\_heads}" in result.parsed


def _bank_symbolic_parts():
    content = fixtures_content()
    for q in content.questions:
        for p in q.parts:
            if p.kind == "symbolic" and not p.spec.get("params"):
                yield pytest.param(p.spec, id=f"{q.slug}:{p.key}")
    for card in content.cards:
        if card.answer and card.answer.get("kind") == "symbolic" and not card.answer.get("params"):
            yield pytest.param(card.answer, id=f"drills/{card.deck}:{card.id}")


@pytest.mark.parametrize("spec", list(_bank_symbolic_parts()))
def test_every_keys_echo_reads_back_as_the_key(spec):
    """What the page shows a learner is itself an answer the grader reads the same way: nothing renamed."""
    echo = preview_answer(spec["expected"], spec).parsed
    assert echo, spec["expected"]
    env = Env(symbols=normalize_symbols(spec.get("symbols"))[0])
    assert parse(echo, env).names() == parse(spec["expected"], env).names()
    assert check_answer(echo, spec).correct, echo


def test_the_preview_gives_the_answer_as_plain_text_for_the_switch_from_the_math_editor():
    typed = "2\\cdot n\\_layers\\cdot \\frac{n\\_kv\\_heads}{d\\_head^{2}}"
    text = preview_answer(typed, KV).text
    assert "\\" not in text and "{" not in text
    assert to_ascii(parse(text, KV_ENV)) == to_ascii(parse(typed, KV_ENV)) == text
