"""Lab grading: each lab has a *problem module* here (``graders/labs/<slug_with_underscores>.py``).

A problem module is plain PyTorch and is imported in two places: by the worker (to make inputs, compute
expected outputs with the reference kernel and check the submission's outputs) and inside the sandbox
(to call the submission and the reference the same way). The sandbox's copy sits beside the submission,
so it must carry no reference code: a problem module imports ``kernels`` only inside the worker-side
functions that need it (``tests/labs/test_problem_modules.py`` imports each one with ``kernels``
missing). It defines:

``ENTRY``
    tuple of the function names a submission must define (the reference module defines them too).
``make_inputs(case: dict, seed: int) -> dict``
    the inputs of one case from its ``cases.yml`` entry; deterministic in ``seed``; values are tensors,
    ints, floats or strings.
``invoke(impl, inputs: dict) -> dict[str, torch.Tensor]``
    calls ``impl`` (the reference kernel module or the submission module) on the inputs and returns its
    outputs by name. It must not check anything: it runs on the untrusted side.
``truth(inputs: dict, expected: dict) -> dict`` (optional)
    what ``check`` compares with besides the reference's outputs (a float64 definition, say), computed in
    the worker with the expected outputs, so ahead of the job when the worker keeps warm: ``check`` finds
    it in ``expected`` under its own names (and computes it itself when it is not there).
``check(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck``
    compares the submission's outputs with the reference's; ``accuracy`` is ``lab.toml``'s
    ``[accuracy]`` table. Runs in the worker only, so it may trust ``expected`` but not ``got``
    (wrong dtype, wrong shape, NaN, huge tensors are all possible and must give a failed check with a
    message, never an exception).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CaseCheck:
    """One test case's verdict: ``message`` is shown to the learner, so it teaches (class of error,
    an example input, expected and got)."""

    passed: bool
    message: str = ""
    metrics: dict = field(default_factory=dict)


def last_resort(check):
    """Wraps a problem module's ``check``: hostile outputs must give a failed check, never an exception."""

    @functools.wraps(check)
    def guarded(inputs: dict, expected: dict, got: dict, accuracy: dict) -> CaseCheck:
        try:
            return check(inputs, expected, got, accuracy)
        except Exception as exc:  # noqa: BLE001 - whatever the submission returned, the worker survives
            return CaseCheck(False, f"could not compare the outputs: {type(exc).__name__}: {exc}")

    return guarded


def tensor_problem(got, name: str, like, what: str = "") -> str | None:
    """Why ``got[name]`` cannot be compared with the expected tensor ``like``, or None. Checked before any
    arithmetic: a subclass could run its own code inside the worker, a sparse or huge tensor could cost it."""
    import torch

    if not isinstance(got, dict) or name not in got:
        return f"no output {name!r} was returned"
    t = got[name]
    if type(t) is not torch.Tensor:
        return f"{name} must be a torch.Tensor, got {type(t).__name__}"
    if t.layout != torch.strided or t.is_quantized:
        return f"{name} must be a dense tensor, got layout {t.layout}"
    if t.dtype != like.dtype:
        return f"{name} must have dtype {like.dtype}, got {t.dtype}"
    if tuple(t.shape) != tuple(like.shape):
        return f"{name} must have shape {list(like.shape)}{f' ({what})' if what else ''}, got {list(t.shape)}"
    if t.device != like.device:
        return f"{name} must be on the input's device {like.device}, got {t.device}"
    return None


def problem_module(dotted: str):
    """Import a problem module named in ``lab.toml`` (only under ``graders.labs``)."""
    if not dotted.startswith("graders.labs."):
        raise ValueError(f"problem module must live in graders.labs, got {dotted!r}")
    return importlib.import_module(dotted)
