"""The rules a submission is held to, in one place: what it may not import or name (a hint for honest
learners, checked statically here and at import time in the sandbox, never a boundary), its size, and
the limits and budgets of each phase of a run."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from sandbox.harness import STARTUP_S

ALWAYS_FORBIDDEN = ("kernels", "graders", "sandbox", "labs", "config", "importlib", "ctypes", "__main__", "builtins",
                    "inspect", "gc")
# Names a kernel has no use for that reach the file system, other code, or the harness around it.
FORBIDDEN_NAMES = ("exec", "eval", "compile", "open", "__import__", "globals", "locals", "vars", "breakpoint",
                   "__builtins__", "__subclasses__", "__globals__", "__code__", "__closure__", "__dict__",
                   "__class__", "__bases__", "__mro__", "__getattribute__", "__loader__", "__spec__",
                   "_getframe", "f_back", "f_globals", "f_locals", "gi_frame", "tb_frame", "settrace",
                   "setprofile", "modules")
MAX_CODE_BYTES = 256 * 1024
REFERENCE_S = 120.0  # the reference's whole timing phase; ours, so exceeding it is an internal error
GPU_MEMORY_MB = 16384  # a GPU job's sandbox: its inputs and checked outputs are held in memory


@dataclass(frozen=True)
class RunLimits:
    """A lab's limits (lab.toml ``[limits]`` and ``[bench]``), with their defaults.

    ``time_s`` covers the submission's import and every test case, after the interpreter and torch are
    up (STARTUP_S). The benchmarks come after, judged apart: each call may take ``budget`` times the
    reference's time for that case (at least ``min_call_s``), all of them together ``bench_s``; a correct
    submission that runs out of budget is accepted with no speed points. A speedup above
    ``plausible_speedup`` is recorded and waits for an instructor before it earns speed points."""

    time_s: float
    memory_mb: int  # on a GPU host: ``gpu_memory_mb``, for benchmarks of hundreds of MB a call
    bench_s: float = 60.0
    budget: float = 20.0
    min_call_s: float = 0.5
    plausible_speedup: float = 10.0
    warmup: int = 2
    repeats: int = 5

    @classmethod
    def of(cls, meta: dict, device: str = "cpu") -> RunLimits:
        limits, bench = meta["limits"], meta.get("bench", {})
        memory = limits["memory_mb"] if device == "cpu" else limits.get("gpu_memory_mb", GPU_MEMORY_MB)
        return cls(time_s=float(limits["time_s"]), memory_mb=int(memory),
                   bench_s=float(limits.get("bench_s", cls.bench_s)),
                   budget=float(bench.get("budget", cls.budget)),
                   plausible_speedup=float(bench.get("plausible_speedup", cls.plausible_speedup)),
                   warmup=int(bench.get("warmup", cls.warmup)), repeats=int(bench.get("repeats", cls.repeats)))

    @property
    def checked(self) -> int:
        """How many timed calls of each benchmark are checked: a majority, so that the median time can
        never rest on unchecked calls alone."""
        return self.repeats // 2 + 1

    @property
    def wall_s(self) -> float:
        """The container's own deadline, above every phase's: the harness enforces the phases."""
        return 2 * STARTUP_S + REFERENCE_S + self.time_s + self.bench_s + 30


def forbidden_use(code: str, meta: dict) -> str | None:
    """Why the source may not run (a forbidden import or name), or None. Raises SyntaxError."""
    tree = ast.parse(code)
    modules = set(ALWAYS_FORBIDDEN) | set(meta.get("forbidden_imports", []))
    names = set(meta.get("forbidden_names", []))
    reserved = set(FORBIDDEN_NAMES)
    for node in ast.walk(tree):
        imported = []
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported = [node.module or ""] if node.level == 0 else []
        for module in imported:
            if module.split(".")[0] in modules:
                return f"line {node.lineno}: importing {module!r} is not allowed in this lab."
        used = (node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name)
                else node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None)
        if used is not None and any(name in used for name in names):
            return f"line {node.lineno}: {used!r} is not allowed in this lab ({', '.join(sorted(names))})."
        if isinstance(node, ast.Name | ast.Attribute) and used in reserved:
            return f"line {node.lineno}: {used!r} is not allowed in a submission (kernels need no {used})."
    return None
