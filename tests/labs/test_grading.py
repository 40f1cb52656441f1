"""The grading core on its own, in-process and without a sandbox: the tensor bundles both sides of the
harness exchange, reading the harness's stream, the timing arithmetic, and judging. The runs through a
real sandbox are in test_every_solution.py, test_grade_lab.py and tests/hostile/."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import struct

import pytest
import torch

from content.labs import lab_folder_get
from graders.labs.score import RESOLUTION, case_seconds
from labs.grading.build import job_build
from labs.grading.judge import judge
from labs.grading.result import HarnessResult, ReferenceSide, SubmissionSide, result_read
from labs.grading.rules import RunLimits
from sandbox import harness
from sandbox.job import RunResult

# --------------------------------------------------------------------------------------------- bundles


def test_a_bundle_round_trips_every_dtype_shape_and_scalar():
    odd = {"float4_e2m1fn_x2", "float8_e8m0fnu", "uint16", "uint32", "uint64"}  # few ops: made from bytes below
    values = {name: torch.arange(24).reshape(2, 3, 4).to(dtype) for name, dtype in harness.DTYPES().items()
              if name not in odd}
    values.update({name: torch.arange(24, dtype=torch.uint8).view(harness.DTYPES()[name]) for name in odd
                   if harness.DTYPES()[name].itemsize == 1})
    values.update(empty=torch.empty(0, 7), scalar=torch.tensor(3.5), broadcast=torch.tensor(2.0).expand(1, 1),
                  strided=torch.arange(12.0).reshape(3, 4).t(), bits=4, rate=0.01, name="x", flag=True, none=None)
    back = harness.unpack(bytearray(harness.pack(values)))
    assert back.keys() == values.keys()
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            assert back[key].dtype == value.dtype and back[key].shape == value.shape
            assert torch.equal(_bytes(back[key]), _bytes(value))
        else:
            assert back[key] == value and type(back[key]) is type(value)


def _bytes(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(t.shape, dtype=t.dtype).copy_(t).reshape(-1).view(torch.uint8)


def test_a_bundle_keeps_every_bit_of_nan_and_signed_zero():
    x = torch.tensor([0.0, -0.0, math.nan, -math.inf]).view(torch.int32)
    x[2] = 0x7FC00123  # a NaN with a payload
    back = harness.unpack(bytearray(harness.pack({"x": x.view(torch.float32)})))
    assert torch.equal(back["x"].view(torch.int32), x)


@pytest.mark.parametrize("pwrite", [True, False], ids=["pwrite", "mapped (no numpy)"])
def test_a_bundle_in_a_memfd_is_the_same_bundle(pwrite):
    import os

    values = {"codes": torch.randint(0, 255, (37, 129), dtype=torch.uint8), "scale": torch.rand(37, 1),
              "one": torch.tensor(1.5).expand(1, 1), "bf16": torch.rand(3, 5).to(torch.bfloat16), "bits": 4}
    fd = harness.pack_memfd(values, pwrite=pwrite)
    data = os.pread(fd, 1 << 20, 0)
    os.close(fd)
    assert data == harness.pack(values)
    back = harness.unpack(bytearray(data))
    assert torch.equal(back["codes"], values["codes"]) and torch.equal(back["scale"], values["scale"])


def _bundle(header: dict, data: bytes = b"") -> bytearray:
    head = json.dumps(header).encode()
    start = -(-(8 + len(head)) // 64) * 64
    return bytearray(struct.pack("<Q", len(head)) + head + b"\0" * (start - 8 - len(head)) + data)


@pytest.mark.parametrize("buffer", [
    bytearray(b"\x01"),
    bytearray(struct.pack("<Q", 1 << 40) + b"{}"),
    _bundle([]),
    _bundle({"scalars": {}, "tensors": [{"name": "x", "dtype": "float32", "shape": [4], "offset": 0,
                                          "nbytes": 16}]}, b"\0" * 8),  # past the end
    _bundle({"scalars": {}, "tensors": [{"name": "x", "dtype": "float32", "shape": [4], "offset": 0,
                                          "nbytes": 8}]}, b"\0" * 64),  # shape and size disagree
    _bundle({"scalars": {}, "tensors": [{"name": "x", "dtype": "object", "shape": [1], "offset": 0,
                                          "nbytes": 8}]}, b"\0" * 64),  # no such dtype
    _bundle({"scalars": {}, "tensors": [{"name": "x", "dtype": "uint8", "shape": [-1], "offset": 0,
                                          "nbytes": 0}]}),
    _bundle({"scalars": {}, "tensors": [{"name": "x", "dtype": "uint8", "shape": [1], "offset": -64,
                                          "nbytes": 1}]}, b"\0" * 64),
    _bundle({"scalars": {"x": [1, 2]}, "tensors": []}),
    _bundle({"scalars": {}, "tensors": [{"name": str(i), "dtype": "uint8", "shape": [0], "offset": 0,
                                          "nbytes": 0} for i in range(65)]}),
], ids=["short", "huge header", "not an object", "past the end", "size mismatch", "unknown dtype",
        "negative shape", "negative offset", "list scalar", "too many tensors"])
def test_a_malformed_bundle_is_refused_with_a_value_error(buffer):
    with pytest.raises(ValueError):
        harness.unpack(buffer)


# ------------------------------------------------------------------------------------- the result stream


def _stream(*records: tuple[dict, bytes]) -> bytes:
    return b"".join(b"".join(harness.record(header, payload)) for header, payload in records)


RESULT = {"reference": {"status": "ok", "calls": {"big": [[0.2, 0.1]] * 5}},
          "submission": {"status": "ok", "case": None, "calls": {"big": [0.15] * 5}, "returncode": 0, "log": ""},
          "wall_s": 3.0}


def test_the_result_stream_is_read_into_types_with_its_outputs():
    out = harness.pack({"y": torch.ones(3)})
    result = result_read(_stream(({"kind": "output", "case": "a", "call": 0}, out),
                                 ({"kind": "result"}, json.dumps(RESULT).encode())))
    assert result.submission.status == "ok" and result.reference.calls == {"big": [(0.2, 0.1)] * 5}
    assert bytes(result.outputs[("a", 0)]) == out


@pytest.mark.parametrize("stdout", [
    b"",
    _stream(({"kind": "output", "case": "a", "call": 0}, b"x"))[:-1],
    _stream(({"kind": "surprise"}, b"{}")),
    _stream(({"kind": "result"}, b"not json")),
    _stream(({"kind": "result"}, json.dumps({**RESULT, "submission": {"status": "accepted"}}).encode())),
], ids=["empty", "cut short", "unknown kind", "not json", "unknown status"])
def test_a_malformed_result_stream_reads_as_no_result(stdout):
    assert result_read(stdout) is None


# ----------------------------------------------------------------------------------------------- timing


def test_the_protocols_overhead_is_taken_off_both_sides():
    reference = [(0.030, 0.020)] * 5  # 10 ms of each call is mapping inputs and packing outputs
    assert case_seconds(reference, [0.015] * 5) == pytest.approx((0.020, 0.005))


def test_a_kernel_shorter_than_the_noise_of_its_overhead_is_not_timed():
    # A GPU kernel of 0.2 ms behind 30 ms of copies that wander by a millisecond: no speed is claimed ...
    reference = [(0.0300, 0.0002), (0.0330, 0.0002), (0.0290, 0.0002), (0.0310, 0.0002), (0.0315, 0.0002)]
    assert case_seconds(reference, [0.0301] * 5) is None
    # ... while one outlier among steady copies does not hide a kernel that stands well above them.
    steady = [(0.012, 0.008), (0.012, 0.008), (0.025, 0.008), (0.0121, 0.008), (0.012, 0.008)]
    assert case_seconds(steady, [0.006] * 5) == pytest.approx((0.008, 0.002))
    assert RESOLUTION > 1


def test_a_majority_of_timed_calls_is_checked():
    assert RunLimits(time_s=1, memory_mb=1, repeats=5).checked == 3
    assert RunLimits(time_s=1, memory_mb=1, repeats=4).checked == 3
    assert RunLimits(time_s=1, memory_mb=1, repeats=1).checked == 1


# ------------------------------------------------------------------------------------------------ judging


@pytest.fixture(scope="module")
def fp8():
    """A real plan for the fp8 lab (inputs and expected outputs made by the worker's code), with one small
    benchmark, and the outputs a perfect submission would return."""
    lab = lab_folder_get("fp8-e4m3")
    lab = dataclasses.replace(lab, cases={**lab.cases, "benchmarks": {"cpu": [
        {"name": "big", "kind": "random", "shape": [64, 64]}]}})
    job, plan = job_build(lab, "def encode_e4m3(x): pass\ndef decode_e4m3(b): pass\n", name="unit")
    list(job.stdin)  # the stream, read as a backend would: it finishes making the inputs
    plan.wait()
    outputs = {(case["name"], 0): memoryview(harness.pack(expected)) for case, _, expected in plan.tests}
    outputs.update({("big", call): memoryview(harness.pack(expected))
                    for call, (_, expected) in plan.checked["big"].items()})
    return lab, plan, outputs


def run_of(**fields) -> RunResult:
    base = dict(exit_code=0, stdout=b"", stderr=b"", stdout_truncated=False, timed_out=False, oom_killed=False,
                wall_s=5.0, backend="local")
    return RunResult(**{**base, **fields})


def result_of(outputs: dict, **submission) -> HarnessResult:
    side = dict(status="ok", calls={"big": [0.02] * 5})
    return HarnessResult(reference=ReferenceSide(status="ok", calls={"big": [(0.03, 0.025)] * 5}),
                         submission=SubmissionSide(**{**side, **submission}), wall_s=4.0, outputs=outputs)


def test_a_perfect_run_is_accepted_with_the_speedup_of_its_kernels(fp8):
    lab, plan, outputs = fp8
    report = judge(lab.meta, plan, run_of(), result_of(outputs))
    assert report.verdict == "accepted" and report.correct and not report.needs_review
    assert report.speedup == pytest.approx(0.025 / 0.015, abs=1e-4)  # 5 ms of protocol off both sides
    assert "Score = 80 base points + 20 speed points" in report.diagnostics and 80 < report.score < 100


def test_one_wrong_checked_benchmark_call_fails_the_run(fp8):
    lab, plan, outputs = fp8
    call = next(iter(plan.checked["big"]))
    wrong = dict(outputs)
    garbage = {k: torch.zeros_like(v) for k, v in harness.unpack(bytearray(outputs[("big", call)])).items()}
    wrong[("big", call)] = memoryview(harness.pack(garbage))
    report = judge(lab.meta, plan, run_of(), result_of(wrong))
    assert report.verdict == "wrong_answer" and report.score == 0
    assert "A timed run gave a wrong result" in report.diagnostics


def test_a_missing_checked_output_fails_the_run(fp8):
    lab, plan, outputs = fp8
    call = next(iter(plan.checked["big"]))
    report = judge(lab.meta, plan, run_of(), result_of({k: v for k, v in outputs.items() if k != ("big", call)}))
    assert report.verdict == "wrong_answer" and "No output came back" in report.diagnostics


def test_a_correct_but_too_slow_submission_is_accepted_with_no_speed_points(fp8):
    lab, plan, outputs = fp8
    slow = {"case": "big", "call": 0, "budget_s": 0.5, "reference_s": 0.01}
    report = judge(lab.meta, plan, run_of(), result_of(outputs, calls={"big": []}, too_slow=slow))
    assert report.verdict == "accepted" and report.score == 80 and report.speedup is None
    assert "Too slow to time: call 1 of benchmark big" in report.diagnostics


def test_an_implausible_speedup_waits_for_review_without_speed_points(fp8):
    lab, plan, outputs = fp8
    report = judge(lab.meta, plan, run_of(), result_of(outputs, calls={"big": [0.0051] * 5}))
    assert report.speedup > plan.limits.plausible_speedup and report.needs_review
    assert report.verdict == "accepted" and report.score == 80
    assert "plausible ceiling" in report.diagnostics


@pytest.mark.parametrize("submission, run, verdict, words", [
    ({"status": "time_limit", "case": "specials"}, {}, "time_limit", "on case specials"),
    ({"status": "memory_limit"}, {}, "memory_limit", "Memory limit"),
    ({"status": "exited", "returncode": -9}, {"oom_killed": True}, "memory_limit", "Memory limit"),
    ({"status": "runtime_error", "error": "BlockingIOError"}, {"oom_killed": True}, "runtime_error", "BlockingIOError"),
    ({"status": "syntax_error", "error": "SyntaxError: bad"}, {}, "syntax_error", "SyntaxError"),
    ({"status": "forbidden", "error": "import of 'ctypes' is not allowed"}, {}, "forbidden", "ctypes"),
    ({"status": "runtime_error", "error": "ValueError: boom", "case": "overflow", "log": "printed"}, {},
     "runtime_error", "On case overflow:\nValueError: boom"),
    ({"status": "exited", "returncode": 3}, {}, "runtime_error", "ended (code 3)"),
    ({"status": "not_run"}, {}, "internal_error", "retried"),
], ids=["time", "memory", "vanished in an oom", "reported before the oom", "syntax", "forbidden", "exception",
        "exit", "not run"])
def test_each_harness_status_gets_its_verdict(fp8, submission, run, verdict, words):
    lab, plan, outputs = fp8
    report = judge(lab.meta, plan, run_of(**run), result_of({}, **submission))
    assert report.verdict == verdict and words in report.diagnostics and report.score == 0


@pytest.mark.parametrize("run, verdict", [
    ({"timed_out": True}, "time_limit"),
    ({"stdout_truncated": True}, "runtime_error"),
    ({"oom_killed": True, "exit_code": 137}, "memory_limit"),
    ({"exit_code": 137}, "runtime_error"),
    ({"exit_code": 1}, "internal_error"),
])
def test_a_run_without_a_result_is_judged_by_the_container(fp8, run, verdict):
    lab, plan, _ = fp8
    assert judge(lab.meta, plan, run_of(**run), None).verdict == verdict


def test_a_reference_that_could_not_be_timed_is_our_error(fp8):
    lab, plan, outputs = fp8
    result = result_of(outputs)
    result.reference = ReferenceSide(status="failed", error="out of memory")
    assert judge(lab.meta, plan, run_of(), result).verdict == "internal_error"


def test_the_stream_carries_inputs_only_never_expected_outputs_or_the_seed(fp8):
    lab = fp8[0]
    job, plan = job_build(lab, "x = 1\n", name="unit-stream")
    data = job.prelude + b"".join(job.stdin)
    plan.wait()
    stream = io.BytesIO(data)
    source = stream.read(int(stream.readline()))
    assert source == open(harness.__file__, "rb").read()
    kinds = []
    while (found := harness.read_record(stream)) is not None:
        header, size = found
        payload = stream.read(size)
        kinds.append(header["kind"])
        if header["kind"] == "job":
            assert "seed" not in payload.decode() and set(json.loads(payload)["checked"]) == {"big"}
        if header["kind"] == "file":
            assert header["path"].startswith(("job/", "ref/lib/kernels/"))
    assert kinds.count("job") == 1 and kinds.count("input") == len(plan.tests) + 7
    expected = [harness.pack(expected)[-4096:] for _, _, expected in plan.tests]
    expected += [harness.pack(out)[-4096:] for outs in plan.checked.values() for _, out in outs.values()]
    assert not any(tail in data for tail in expected)
