"""The entry point for every part kind: numeric with units, choices, ordering, free, params, validation, preview,
and the undecided path (sympy in a killable child)."""

import logging
import time

import pytest

from graders import answers
from graders.answers import AnswerResult, check_answer, preview_answer, sample_params, validate_spec
from graders.math import equivalence as eq
from graders.math import symbolic
from graders.math.limits import run_limited

KV = {
    "kind": "numeric",
    "formula": "2*n_layers*n_kv_heads*d_head*seq_len*batch*dtype_bytes/1e9",
    "unit": "GB",
    "params": {
        "n_layers": {"min": 16, "max": 80, "step": 8},
        "n_kv_heads": {"choices": [8]},
        "d_head": {"choices": [128]},
        "seq_len": {"choices": [4096, 8192]},
        "batch": {"choices": [1, 4]},
        "dtype_bytes": {"choices": [1, 2]},
    },
    "misconceptions": [
        {"id": "missing-kv-2", "formula": "n_layers*n_kv_heads*d_head*seq_len*batch*dtype_bytes/1e9",
         "feedback": "Both K and V are cached.", "score": 0.25},
    ],
}
PARAMS = {"n_layers": 32, "n_kv_heads": 8, "d_head": 128, "seq_len": 8192, "batch": 4, "dtype_bytes": 2}
KV_GB = 2 * 32 * 8 * 128 * 8192 * 4 * 2 / 1e9  # 4.294967296 GB, exactly 4 GiB


def test_as_json_has_exactly_the_contract_fields():
    result = check_answer("14 GB", {"kind": "numeric", "answer": 14, "unit": "GB"})
    assert result.as_json() == {"correct": True, "score": 1.0, "feedback": "Correct.",
                                "parsed": "14\\,\\mathrm{GB}", "error": None}
    assert isinstance(result, AnswerResult)


@pytest.mark.parametrize(
    "answer, correct, note",
    [
        (f"{KV_GB}", True, ""),
        ("4.29 GB", True, ""),
        ("4.3GB", True, ""),
        ("4 GiB", True, "Converted 4 GiB to 4.29497 GB (1 GiB = 1.073741824 GB)."),
        ("4294.967296 MB", True, "Converted"),
        ("4,294,967,296 B", True, "Converted"),
        ("34359738368 bits", True, "Converted"),
        ("2^32 B", True, "Converted"),
        ("4.295 GiB", False, "Your number is the answer in GB, but you wrote GiB"),
        ("34.36", False, "8 times too large"),
        ("2.147", False, "Both K and V are cached."),
        ("8.59", False, "twice the expected value"),
        ("4294.97", False, "factor 1000"),
        ("20", False, "not the expected value"),
    ],
)
def test_numeric_with_units_and_slips(answer, correct, note):
    result = check_answer(answer, KV, params=PARAMS)
    assert result.error is None
    assert result.correct is correct
    assert note in result.feedback
    if answer == "2.147":
        assert result.misconception == "missing-kv-2" and result.score == 0.25


def test_numeric_unit_errors_cost_nothing():
    spec = {"kind": "numeric", "answer": 14, "unit": "GB"}
    for answer, message in [("14 ms", "`ms` is a time, but this answer is a size in GB at position 4."),
                            ("14 GBs", "Unknown unit `GBs` at position 4."),
                            ("GB", "A number is missing before the unit"),
                            ("fourteen", "Unknown name `fourteen`")]:
        result = check_answer(answer, spec)
        assert result.error and message in result.error
        assert result.score == 0 and not result.correct
    plain = {"kind": "numeric", "answer": 0.45}
    assert check_answer("45%", plain).correct
    assert "Read 45% as 0.45" in check_answer("45 %", plain).feedback
    assert check_answer("0.45 GB", plain).error.startswith("This answer is a plain number")
    assert "percentage" in check_answer("45", plain).feedback


def test_numeric_tolerances_and_expression_answers():
    spec = {"kind": "numeric", "answer": "2^8*1.75", "rtol": 0, "atol": 0.5}
    assert check_answer("448", spec).correct
    assert check_answer("448.4", spec).correct
    assert not check_answer("449", spec).correct
    assert check_answer("256*1.75", spec).correct
    assert check_answer("4.5 bits/weight", {"kind": "numeric", "answer": 4.5, "unit": "bits"}).correct
    assert check_answer("4.5 bits per weight", {"kind": "numeric", "answer": 4.5, "unit": "bits"}).correct
    assert check_answer("0.5625 B", {"kind": "numeric", "answer": 4.5, "unit": "bits"}).correct


def test_params_are_deterministic_and_in_range():
    a = sample_params(KV, 7)
    assert a == sample_params(KV, 7)
    assert {sample_params(KV, s)["n_layers"] for s in range(60)} <= set(range(16, 81, 8))
    assert len({tuple(sample_params(KV, s).values()) for s in range(60)}) > 5
    default = check_answer("1 GB", KV)  # without params: variant 0
    assert default.error is None and default.feedback


def test_symbolic_params_are_substituted():
    spec = {"kind": "symbolic", "expected": "k*x", "symbols": {"x": {"domain": "real"}},
            "params": {"k": {"choices": [2, 3]}}}
    assert check_answer("3x", spec, params={"k": 3}).correct
    assert not check_answer("3x", spec, params={"k": 2}).correct
    assert validate_spec(spec) == []


def test_choices():
    mc = {"kind": "multiple_choice", "options": [
        {"id": "a", "text": "per-channel weights", "correct": True, "feedback": "Yes: one scale per output channel"},
        {"id": "b", "text": "per-token weights", "feedback": "Weights have no tokens"},
        {"id": "c", "text": "per-token activations", "correct": True},
        {"id": "d", "text": "per-tensor everything"}]}
    assert check_answer("a,c", mc).correct
    assert check_answer("c a", mc).score == 1.0
    half = check_answer("a", mc)
    assert (half.correct, half.score) == (False, 0.5)
    assert check_answer("a, b", mc).score == 0.0
    assert "Weights have no tokens." in check_answer("a,b,c", mc).feedback
    assert check_answer("a,b,c", mc).score == 0.5
    assert check_answer("a", {**mc, "partial": False}).score == 0.0
    assert check_answer("e", mc).error == "Unknown option `e` at position 1. Options: a, b, c, d."
    single = {**mc, "kind": "single_choice", "options": [{"id": "a", "correct": True}, {"id": "b"}]}
    assert check_answer("A", single).correct
    assert check_answer("a,b", single).error.startswith("Choose one option only")


def test_ordering():
    spec = {"kind": "ordering", "options": [{"id": x} for x in "abcd"], "order": ["c", "a", "b", "d"]}
    assert check_answer("c,a,b,d", spec).correct
    assert check_answer("a,c,b,d", spec).score == 0.0
    partial = check_answer("a,c,b,d", {**spec, "partial": True})
    assert partial.score == pytest.approx(4 / 6) and not partial.correct
    assert check_answer("d,b,a,c", {**spec, "partial": True}).score == 0.0
    assert check_answer("c,a,b", spec).error


def test_free_is_self_assessed():
    assert check_answer("anything at all", {"kind": "free"}) == AnswerResult(False, 0.0, "self-assessed", None, None)


def test_preview_parses_without_grading():
    spec = {"kind": "symbolic", "expected": "s*(q-z)", "symbols": "s q z"}
    assert preview_answer("s(q - z)", spec).parsed == "s \\cdot \\left(q - z\\right)"
    assert preview_answer("s(q - zy)", spec).error.startswith("Unknown name `zy` at position 7.")
    assert preview_answer("13.04 GiB", {"kind": "numeric", "answer": 14, "unit": "GB"}).parsed == "13.04\\,\\mathrm{GiB}"
    assert preview_answer("a,b", {"kind": "multiple_choice", "options": [{"id": "a"}, {"id": "b"}]}).parsed
    gptq = preview_answer("w_j - \\frac{w_q - qw_q}{Hinv_{qq}} Hinv_{jq}", {"kind": "symbolic", "symbols": "w_j w_q qw_q Hinv_qq Hinv_jq"})
    assert gptq.error is None and gptq.parsed.startswith("w_{j} - \\frac{w_{q}") and gptq.score == 0  # its speed: make bench


def test_validation_messages_never_cost_anything():
    spec = {"kind": "symbolic", "expected": "x", "symbols": "x"}
    for answer in ["", "x +", "y", "(x", "x $", "9**9**9", "__import__('os')"]:
        result = check_answer(answer, spec)
        assert result.error and result.parsed is None and result.score == 0 and not result.undecided


class SlowMachineClock:
    """``time`` for graders.math.equivalence on a machine far slower than the budgets assume: every reading
    of the thread's CPU time is 0.2 s after the one before, whatever the real time."""

    def __init__(self):
        self.now = 0.0

    def thread_time(self) -> float:
        self.now += 0.2
        return self.now


def test_validation_decides_where_a_learners_time_budget_runs_out(monkeypatch):
    """load_content once failed with "cannot decide" under the suite's load: a misconception was sampled
    with a learner's 0.35 s. On a clock that makes the learner's check give up, validation still decides."""
    spec = {"kind": "symbolic", "expected": "s*(q - z)", "symbols": {"s": "positive", "q": "integer", "z": "integer"},
            "misconceptions": [{"id": "plus", "expr": "s*(q + z)", "feedback": "..."},
                               {"id": "same", "expr": "s*q - s*z", "feedback": "..."}]}
    monkeypatch.setattr(eq, "time", SlowMachineClock())
    assert check_answer("s*(q - z) + 0*s", spec).undecided  # the learner's budget: undecided, not marked wrong
    assert validate_spec(spec) == ["misconception 'same' is equivalent to the key"]
    monkeypatch.setattr(answers, "VALIDATION_PATIENCE", 1.0)  # a disagreement decides at once; agreement cannot
    assert validate_spec(spec) == ["misconception 'same': cannot decide whether it differs from the key"]


def test_a_busy_machine_slows_a_check_down_but_leaves_it_decided(monkeypatch):
    """The budget is the thread's CPU time: a check descheduled for 20 ms at every evaluation (a machine at
    a load of 5, wall time passing while the thread does not run) takes over a second, and still decides."""
    evaluate = eq.evaluate

    def descheduled(*args):
        time.sleep(0.02)
        return evaluate(*args)

    monkeypatch.setattr(eq, "evaluate", descheduled)
    spec = {"kind": "symbolic", "expected": "s*(q - z)", "symbols": {"s": "positive", "q": "integer", "z": "integer"}}
    start = time.monotonic()
    right = check_answer("s*q - s*z", spec)
    assert right.correct and not right.undecided
    assert time.monotonic() - start > eq.TOTAL_BUDGET_S  # past every budget on the wall clock
    wrong = check_answer("s*(z - q)", spec)
    assert not wrong.correct and not wrong.undecided and wrong.misconception == "sign-flip"


def test_a_wrong_answer_is_marked_wrong_when_the_time_budget_runs_out_after_a_disagreement(monkeypatch):
    """CI once graded "4 + 8/16 + 1" (key "4 + 8/16") undecided: the first point already disagreed, but the
    budget ran out while more points were sampled. One disagreement is a certificate; the budget must not
    throw it away."""
    spec = {"kind": "symbolic", "expected": "4 + 8/16"}
    monkeypatch.setattr(eq, "time", SlowMachineClock())
    wrong = check_answer("4 + 8/16 + 1", spec)
    assert not wrong.undecided and not wrong.correct and wrong.error is None
    assert check_answer("9/2", spec).undecided  # agreement needs 20 points: too few in the budget


def test_validate_spec_finds_problems():
    ok = {"kind": "symbolic", "expected": "s*(q - z)", "symbols": {"s": {"domain": "positive"}, "q": "integer", "z": "integer"},
          "misconceptions": [{"id": "plus", "expr": "s*(q + z)", "feedback": "..."}]}
    assert validate_spec(ok) == []
    assert validate_spec({"kind": "nope"}) == ["kind must be one of symbolic, numeric, single_choice, multiple_choice, ordering, free, not 'nope'"]
    assert "does not parse" in validate_spec({**ok, "expected": "s*(q - w)"})[0]
    assert "equivalent to the key" in validate_spec({**ok, "misconceptions": [{"id": "same", "expr": "s q - s z"}]})[0]
    dup = [{"id": "a", "expr": "s*(q + z)"}, {"id": "b", "expr": "s q + s z"}]
    assert "'b' is equivalent to 'a'" in validate_spec({**ok, "misconceptions": dup})[0]
    assert "domain must be one of" in validate_spec({**ok, "symbols": {"s": "complex", "q": "real", "z": "real"}})[0]
    assert "defined at only" in validate_spec({"kind": "symbolic", "expected": "floor(sqrt(x - 9))", "symbols": {"x": "positive"}})[0]
    assert "same_form needs form" in validate_spec({**ok, "test": "same_form"})[0]
    assert validate_spec({"kind": "numeric", "answer": 1, "formula": "2"}) == ["a numeric part needs exactly one of `answer` and `formula`"]
    assert "unknown unit" in validate_spec({"kind": "numeric", "answer": 1, "unit": "parsecs"})[0]
    assert "does not evaluate" in validate_spec({**KV, "formula": "n_layers/(dtype_bytes - 1)"})[0]
    assert "equals the key" in validate_spec({**KV, "misconceptions": [{"id": "m", "formula": "2*n_layers*n_kv_heads*d_head*seq_len*batch*dtype_bytes/1e9"}]})[0]
    assert validate_spec(KV) == []
    assert "exactly one correct option" in validate_spec({"kind": "single_choice", "options": [{"id": "a"}, {"id": "b"}]})[0]
    assert "order must list every option" in validate_spec({"kind": "ordering", "options": [{"id": "a"}, {"id": "b"}], "order": ["a"]})[0]
    assert "params" in validate_spec({**KV, "params": {"n": {"min": 5, "max": 1}}})[0]


def test_broken_spec_is_reported_not_marked_wrong(caplog):
    with caplog.at_level(logging.ERROR, logger="graders"):
        result = check_answer("x", {"kind": "symbolic", "expected": "y +", "symbols": "x"})
    assert result.undecided and not result.correct and result.error is None
    assert "grader failure" in caplog.text


def test_undecided_sampling_goes_to_sympy_in_a_child():
    # floor(sqrt(x - 9)) is defined at few of the positive sample points (x in [0.1, 10]): sampling cannot decide.
    spec = {"kind": "symbolic", "expected": "floor(sqrt(x - 9))", "symbols": {"x": "positive"}}
    result = check_answer("floor(sqrt(x - 9)) + 0", spec)
    assert result.correct  # simplify in the child proved it


def test_child_timeout_is_undecided_and_logged(monkeypatch, caplog):
    def slow(*args):
        time.sleep(30)

    monkeypatch.setattr(symbolic, "simplify_equal", slow)
    monkeypatch.setattr(eq, "CHILD_TIMEOUT_S", 0.5)
    spec = {"kind": "symbolic", "expected": "floor(sqrt(x - 9))", "symbols": {"x": "positive"}}
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="graders.math"):
        result = check_answer("floor(sqrt(x - 9)) + 1 - 1", spec)
    assert time.perf_counter() - start < 3
    assert result.undecided and not result.correct and result.score == 0 and result.error is None
    assert "not been marked wrong" in result.feedback
    assert "undecided equivalence" in caplog.text and "timeout" in caplog.text


def _allocate():
    return len(bytearray(4 * 2**30))


def _boom():
    raise RuntimeError("nope")


def _huge_factorial():
    import sympy

    return str(sympy.factorial(sympy.factorial(20)))[:5]


@pytest.mark.timeout(30)
def test_run_limited_kills_and_contains():
    assert run_limited(sum, ([1, 2, 3],)) == ("ok", 6)
    assert run_limited(time.sleep, (10,), timeout=0.3) == ("timeout", None)
    kind, message = run_limited(_allocate, mem_mb=256)
    assert kind == "error" and "memory" in message
    assert run_limited(_boom) == ("error", "RuntimeError: nope")
    start = time.perf_counter()
    assert run_limited(_huge_factorial, timeout=1.0)[0] in ("timeout", "error")
    assert time.perf_counter() - start < 5
