"""The content has one home (``content``): the apps do not import each other to load it, and the loaders
import the apps, not the other way round. Read from the source with ``ast`` (every ``import``, ``from ...
import``, relative or not, at any depth, and ``importlib.import_module``/``__import__`` of a literal name),
so an import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("quizzes", "drills", "labs")
LOADERS = ("content.load", "content.catalogue", "content.management")  # they import the apps' models
READERS = ("content.reader", "content.labs", "content.upsert")  # what the apps may use from content


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, path: Path) -> list[str]:
    """The absolute module names a ``from ... import ...`` reaches (the module, and each name as a submodule)."""
    if node.level == 0:
        base = node.module or ""
    else:
        package = _module_name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    return [base] + [f"{base}.{alias.name}".lstrip(".") for alias in node.names]


def imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [(name, node.lineno) for name in _resolve(node, path)]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.args[0].value, node.lineno))
    return found


def offenders(package: str, forbidden) -> list[str]:
    """``file:line: module`` for each import under ``package`` of a module in (or under) ``forbidden``."""
    folder = ROOT.joinpath(*package.split("."))
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
    assert files, f"no Python files under {package}"
    out = []
    for path in files:
        for module, line in imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    return out


@pytest.mark.parametrize("app, forbidden", [("quizzes", ("drills", "labs")), ("drills", ("labs",)),
                                            ("labs", ("drills",))])
def test_the_apps_do_not_import_each_other_to_load_content(app, forbidden):
    """quizzes imports neither drills nor labs (migrations included); drills and labs not each other."""
    assert offenders(app, forbidden) == []


@pytest.mark.parametrize("app", APPS)
def test_the_apps_do_not_import_the_loaders(app):
    """The loaders import the apps' models; an app uses only the readers and the upsert helper."""
    assert offenders(app, LOADERS) == []


@pytest.mark.parametrize("module", READERS)
def test_the_readers_import_no_app(module):
    """The readers and the upsert helper sit below the apps: the grader and the GPU check read labs without
    Django, and the apps import them without a cycle."""
    assert offenders(module, (*APPS, "cohorts", "content.load", "content.catalogue")) == []


def test_the_walk_sees_relative_and_nested_imports(tmp_path, monkeypatch):
    """The checker itself: it finds absolute and function-level imports and import_module of a literal name,
    and resolves relative imports inside the package."""
    package = tmp_path / "quizzes" / "services"
    package.mkdir(parents=True)
    (tmp_path / "quizzes" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "x.py").write_text(
        "import os\nfrom drills.models import Card\nfrom .. import models\n\ndef f():\n    from labs import content\n"
        "    import importlib\n    importlib.import_module('drills.services')\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert offenders("quizzes", ("drills", "labs")) == [
        "quizzes/services/x.py:2: drills.models", "quizzes/services/x.py:2: drills.models.Card",
        "quizzes/services/x.py:6: labs", "quizzes/services/x.py:6: labs.content",
        "quizzes/services/x.py:8: drills.services"]
    assert ("quizzes.models", 3) in imports(package / "x.py")
