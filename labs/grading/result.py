"""Reading what the harness sent back, once, into types: the outputs of the calls the worker checks and
one result record. Anything malformed reads as no result at all (the parent harness is ours and writes
nothing malformed, so that is an internal error, never a verdict on the submission)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from sandbox import harness

STATUSES = {"ok", "syntax_error", "forbidden", "runtime_error", "memory_limit", "time_limit", "exited", "not_run"}


@dataclass
class ReferenceSide:
    status: str
    error: str = ""
    calls: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # case -> [(total, kernel)]


@dataclass
class SubmissionSide:
    status: str
    error: str = ""
    case: str | None = None  # where it stopped
    log: str = ""
    returncode: int | None = None
    calls: dict[str, list[float]] = field(default_factory=dict)  # case -> [total] of the timed calls
    too_slow: dict | None = None  # {"case", "call", "budget_s", "reference_s"}


@dataclass
class HarnessResult:
    reference: ReferenceSide
    submission: SubmissionSide
    wall_s: float
    outputs: dict[tuple[str, int], memoryview]  # (case, call) -> a bundle, unread


def result_read(stdout: bytes) -> HarnessResult | None:
    stream = io.BytesIO(stdout)
    view = memoryview(stdout)
    outputs: dict[tuple[str, int], memoryview] = {}
    try:
        while (found := harness.read_record(stream)) is not None:
            header, size = found
            start = stream.tell()
            if start + size > len(stdout):
                return None
            stream.seek(size, io.SEEK_CUR)
            if header.get("kind") == "output":
                outputs[(str(header["case"]), int(header["call"]))] = view[start:start + size]
            elif header.get("kind") == "result":
                return _result(json.loads(view[start:start + size].tobytes()), outputs)
            else:
                return None
    except (ValueError, KeyError, TypeError, EOFError):
        return None
    return None


def _result(data: dict, outputs: dict) -> HarnessResult:
    ref, sub = data["reference"], data["submission"]
    if ref["status"] not in ("ok", "failed") or sub["status"] not in STATUSES:
        raise ValueError("unknown status")
    reference = ReferenceSide(status=ref["status"], error=str(ref.get("error", "")),
                              calls={str(case): [(float(total), float(kernel)) for total, kernel in timed]
                                     for case, timed in ref.get("calls", {}).items()})
    too_slow = sub.get("too_slow")
    submission = SubmissionSide(
        status=sub["status"], error=str(sub.get("error", "")), case=sub.get("case"), log=str(sub.get("log", "")),
        returncode=sub.get("returncode"),
        calls={str(case): [float(total) for total in timed] for case, timed in sub.get("calls", {}).items()},
        too_slow={"case": str(too_slow["case"]), "call": int(too_slow["call"]),
                  "budget_s": float(too_slow["budget_s"]), "reference_s": float(too_slow["reference_s"])}
        if too_slow else None)
    return HarnessResult(reference=reference, submission=submission, wall_s=float(data["wall_s"]), outputs=outputs)
