"""Formula parts typed as a learner types them, in both input modes.

Every symbolic part of the question bank (found in the content, not listed here) goes into one timed quiz.
Its key, with the attempt's own numbers written in for a parameterized part, is typed key by key into plain
text and, in a second attempt, into the math editor; each must be read as the key (graded correct when the
attempt is submitted) and echoed with the names the learner typed. A second test covers the switch between
the two modes: one click, remembered by the browser, and offered by a formula that does not read.
"""

import re
from pathlib import Path

import pytest
from django.db import transaction

from content.catalogue import catalogue_sync
from content.load import content_load, decks_load
from content.reader import read_content
from graders.answers import check_answer, normalize_symbols, preview_answer
from graders.math.nodes import symbol_latex
from graders.math.parser import Env, parse
from quizzes.models import Attempt, Part, Question, Quiz
from quizzes.selectors import attempt_params
from tests.e2e.browser import ARTIFACTS, chromium_page, log_in
from tests.factories import user_make

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MODES = {"text": "input.formula-text", "math": "math-field"}


def bank_symbolic_slugs() -> list[str]:
    """Every question with a symbolic part, the drill cards' one-part mirrors included (they are taken as
    quizzes too), loaded from the content; as many symbolic parts as the files have."""
    content = read_content(FIXTURES)
    with transaction.atomic():
        content_load(content)
        decks_load(content.decks)
        catalogue_sync()
    in_files = (sum(p.kind == "symbolic" for q in content.questions for p in q.parts)
                + sum(bool(c.answer) and c.answer.get("kind") == "symbolic" for c in content.cards))
    slugs = list(Question.objects.filter(parts__kind="symbolic").values_list("slug", flat=True).distinct())
    assert Part.objects.filter(question__slug__in=slugs, kind="symbolic").count() == in_files >= 40
    return slugs


def typed_key(part: Part, params: dict) -> str:
    """The key as a learner types it: the attempt's numbers written in where the key names a parameter."""
    key = str(part.spec["expected"])
    for name in sorted(params, key=len, reverse=True):
        value = params[name]
        text = repr(value) if isinstance(value, int) or not float(value).is_integer() else str(int(value))
        key = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text if value >= 0 else f"({text})", key)
    return key


def symbolic_parts(attempt: Attempt) -> list[Part]:
    ids = [pid for item in attempt.layout for pid in item["parts"]]
    return [p for p in Part.objects.filter(id__in=ids, kind="symbolic").order_by("id")]


def start_attempt(page, base: str, slug: str) -> Attempt:
    page.goto(f"{base}/quizzes/{slug}/")
    page.click("button:has-text('Start the timed attempt')")
    page.wait_for_url(re.compile(r".*/attempts/\d+/$"))
    return Attempt.objects.get(id=int(page.url.rstrip("/").split("/")[-1]))


def all_saved(page) -> None:
    page.wait_for_function("() => document.getElementById('save-status').textContent === 'All answers saved'",
                           timeout=30_000)


def choose_mode(page, mode: str) -> None:
    """Click the toggle of the first formula part that is in the other mode: the browser remembers the choice."""
    other = "text" if mode == "math" else "math"
    page.locator(f".attempt-part[data-mode={other}] .mode-toggle").first.click()


def element_shots(page, part: Part, name: str) -> None:
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.locator(f"#part-{part.id}").screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
def test_every_symbolic_part_typed_in_each_mode_is_read_as_its_key(web_server, mode, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # the database is read while the browser runs
    user_make("fiona")
    Quiz.objects.create(slug="formulas", title="Every formula", question_slugs=bank_symbolic_slugs(),
                        time_limit_s=3600)
    with chromium_page() as (page, errors):
        log_in(page, web_server, "fiona")
        attempt = start_attempt(page, web_server, "formulas")
        choose_mode(page, mode)
        page.reload()  # every formula part now opens in the remembered mode
        parts = symbolic_parts(attempt)
        assert len(parts) == Part.objects.filter(kind="symbolic").count()
        keys = {}
        for part in parts:
            field = page.locator(f"#part-{part.id} {MODES[mode]}")
            assert field.is_visible(), f"{part.question.slug}:{part.key} is not in {mode} mode"
            keys[part.id] = typed_key(part, attempt_params(attempt=attempt, part=part))
            field.focus()
            page.keyboard.type(keys[part.id])
        all_saved(page)
        echoes = {}
        for part in parts:
            preview = f"#preview-{part.id}"
            page.wait_for_selector(f"{preview} .katex")  # "we read your answer as", not an error
            echoes[part.id] = page.locator(f"{preview} annotation").text_content()
        kv = next(p for p in parts if p.question.slug == "kv-cache-memory")
        element_shots(page, kv, f"formula-typed-{mode}")
        page.click("#submit-attempt")
        if page.is_visible("#submit-confirm"):  # the bank's other parts are left empty
            page.click("#submit-anyway")
        page.wait_for_url(re.compile(r".*/attempts/\d+/review/$"))
        assert errors == []

    answers = {a.part_id: a for a in attempt.answers.all()}
    for part in parts:
        where = f"{part.question.slug}:{part.key} typed {keys[part.id]!r} in {mode} mode"
        saved = answers[part.id]
        if mode == "text":
            assert saved.answer == keys[part.id], where
        elif re.search(r"[_/^]", keys[part.id]):  # the editor's own LaTeX, not the keys as plain text
            assert re.search(r"\\_|\\frac|\^\{|\^\d", saved.answer), f"{where}: {saved.answer!r}"
        assert (saved.graded, saved.correct, saved.score) == (True, True, 1.0), f"{where}: {saved.answer!r}"
        # The echo is what the server read, in the learner's names, never the part's display notation.
        assert echoes[part.id] == preview_answer(saved.answer, part.spec).parsed, where
        domains, display = normalize_symbols(part.spec.get("symbols"))
        for name in parse(keys[part.id], Env(symbols=domains)).names():
            assert symbol_latex(name) in echoes[part.id], f"{where}: {name} not in {echoes[part.id]}"
            if display.get(name) and display[name] != symbol_latex(name):
                assert display[name] not in echoes[part.id], where


@pytest.mark.django_db(transaction=True)
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.slow
def test_the_mode_switch_takes_one_click_is_remembered_and_offered_by_an_unreadable_formula(web_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    user_make("gus")
    content_load(read_content(FIXTURES))
    Quiz.objects.create(slug="kv-formula", title="KV formula",
                        question_slugs=["kv-cache-memory", "affine-quant-formula"], time_limit_s=3600)
    with chromium_page() as (page, errors):
        log_in(page, web_server, "gus")
        attempt = start_attempt(page, web_server, "kv-formula")
        by_key = {(p.question.slug, p.key): p for p in symbolic_parts(attempt)}
        kv, dequantize = by_key[("kv-cache-memory", "formula")], by_key[("affine-quant-formula", "dequantize")]
        kv_part, dq_part = f"#part-{kv.id}", f"#part-{dequantize.id}"
        # Nothing chosen yet: multi-letter names open in plain text, single letters in the math editor.
        assert page.is_visible(f"#input-{kv.id}") and not page.is_visible(f"#mf-{kv.id}")
        assert page.is_visible(f"#mf-{dequantize.id}")

        page.click(f"{kv_part} .mode-toggle")  # one click
        assert page.is_visible(f"#mf-{kv.id}") and not page.is_visible(f"#input-{kv.id}")
        page.wait_for_function(f"() => document.activeElement.id === 'mf-{kv.id}'")
        page.keyboard.type("2*n_layers*)")  # the toggle put the caret in the editor; this is not a formula
        page.wait_for_selector(f"{kv_part} .preview .verdict.invalid .switch-mode")
        assert page.inner_text(f"{kv_part} .switch-mode") == "Type it as plain text instead"
        element_shots(page, kv, "formula-error-offers-plain-text")

        page.click(f"{kv_part} .switch-mode")  # the error's button switches, in one click
        assert page.is_visible(f"#input-{kv.id}") and not page.is_visible(f"#mf-{kv.id}")
        page.wait_for_function(f"() => document.activeElement.id === 'input-{kv.id}'")
        page.keyboard.press("Control+A")
        page.keyboard.type("n_layers")
        all_saved(page)
        page.reload()  # plain text was the last choice: the empty single-letter part opens in it too
        assert page.input_value(f"#input-{kv.id}") == "n_layers"
        assert page.is_visible(f"#input-{dequantize.id}") and not page.is_visible(f"#mf-{dequantize.id}")
        page.click(f"{dq_part} .mode-toggle")
        page.reload()
        assert page.is_visible(f"#mf-{dequantize.id}")  # and the math editor, once chosen, is remembered

        page.focus(f"#mf-{dequantize.id}")
        page.keyboard.type("s*(q-z)")
        all_saved(page)
        page.click(f"{dq_part} .mode-toggle")  # back to plain text: the formula as the server read it
        assert page.input_value(f"#input-{dequantize.id}") == preview_answer("s*(q-z)", dequantize.spec).text
        page.click(f"{kv_part} .mode-toggle")  # plain text into the math editor, as if typed there
        all_saved(page)
        in_editor = attempt.answers.get(part=kv).answer
        assert in_editor != "n_layers" and parse(in_editor, Env(symbols={"n_layers": "real"})).names() == {"n_layers"}

        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.evaluate("navigator.clipboard.writeText(' * n_kv_heads/batch')")
        page.focus(f"#mf-{kv.id}")
        page.keyboard.press("End")
        page.keyboard.press("Control+V")  # pasted plain text reads as if typed
        all_saved(page)
        assert errors == []
    pasted = attempt.answers.get(part=kv).answer
    assert "\\frac" in pasted and check_answer(pasted, {**kv.spec, "expected": "n_layers*n_kv_heads/batch"}).correct
