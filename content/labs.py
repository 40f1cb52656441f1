"""Lab folders under ``fixtures/labs/<slug>/`` (see docs/labs.md), read and checked. The folder is the source
of truth; ``content.load.labs_sync`` mirrors it into a ``Lab`` row, which is what the pages list and what
submissions point at. No Django here: the grader and the GPU check read labs through this module."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

REQUIRED = {"slug", "title", "reference", "problem", "entry", "points", "speed_points", "speed_cap", "limits"}
OPTIONAL = {"summary", "forbidden_imports", "forbidden_names", "accuracy", "bench", "submissions_per_hour"}


@dataclass(frozen=True)
class LabFolder:
    slug: str
    folder: Path
    meta: dict
    cases: dict
    statement: str
    starter: str

    @property
    def content_hash(self) -> str:
        """Everything that decides a verdict or what the learner reads: the folder's files and the source of
        the problem module (the checker) and of the reference kernel. A new hash is a new version of the lab,
        whose earlier submissions ``rerun_lab`` can grade again."""
        code = [_module_source(self.meta.get("problem")), _module_source(self.meta.get("reference"))]
        blob = json.dumps([self.meta, self.cases, self.statement, self.starter, code], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def _module_source(name) -> str:
    """A module of this repository by name, read as text, never imported (the web process has no torch)."""
    if not isinstance(name, str) or not name:
        return ""
    path = Path(__file__).resolve().parents[1].joinpath(*name.split(".")).with_suffix(".py")
    return path.read_text() if path.is_file() else ""


def labs_root() -> Path:
    return Path(__file__).resolve().parents[1] / "fixtures" / "labs"


def lab_folder_read(folder: Path) -> tuple[LabFolder | None, list[str]]:
    """One folder, with every problem found (file: message) instead of the first exception."""
    problems: list[str] = []
    toml_path, cases_path = folder / "lab.toml", folder / "cases.yml"
    try:
        meta = tomllib.loads(toml_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return None, [f"{toml_path}: {exc}"]
    try:
        cases = yaml.safe_load(cases_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        return None, [f"{cases_path}: {exc}"]
    missing, unknown = REQUIRED - meta.keys(), meta.keys() - REQUIRED - OPTIONAL
    if missing:
        problems.append(f"{toml_path}: missing keys {sorted(missing)}")
    if unknown:
        problems.append(f"{toml_path}: unknown keys {sorted(unknown)}")
    if meta.get("slug") != folder.name:
        problems.append(f"{toml_path}: slug {meta.get('slug')!r} must equal the folder name {folder.name!r}")
    if not meta.get("problem", "").startswith("graders.labs."):
        problems.append(f"{toml_path}: problem must be a module under graders.labs")
    tests = cases.get("tests") if isinstance(cases, dict) else None
    if not tests or not all(isinstance(c, dict) and c.get("name") for c in tests):
        problems.append(f"{cases_path}: 'tests' must be a non-empty list of cases with a name")
    elif len({c["name"] for c in tests}) != len(tests):
        problems.append(f"{cases_path}: test case names must be unique")
    for name in ("statement.md", "starter.py"):
        if not (folder / name).is_file():
            problems.append(f"{folder / name}: missing")
    if problems:
        return None, problems
    return LabFolder(slug=folder.name, folder=folder, meta=meta, cases=cases,
                     statement=(folder / "statement.md").read_text(),
                     starter=(folder / "starter.py").read_text()), []


def lab_folder_get(slug: str, root: Path | None = None) -> LabFolder:
    folder = (root or labs_root()) / slug
    if not folder.is_dir() or "/" in slug or slug.startswith("."):
        raise LookupError(f"No lab named {slug!r}.")
    lab, problems = lab_folder_read(folder)
    if lab is None:
        raise ValueError("; ".join(problems))
    return lab


def solution_header(path: Path) -> dict[str, str]:
    """The ``# expect:`` / ``# feedback:`` / ``# mistake:`` lines at the top of a known solution."""
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        out[key.strip()] = value.strip()
    return out
