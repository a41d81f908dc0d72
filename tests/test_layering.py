"""The dependency arrows point one way (docs/index.md): each package imports only the packages
below it, at module level or inside a function alike."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parent.parent / "playbill"

_CORE = {"effects", "actors", "interpreters"}
ALLOWED: dict[str, set[str]] = {
    "effects": set(),
    "actors": {"effects"},
    "interpreters": {"effects", "actors"},
    "flow": _CORE,
    "models": {"effects"},
    "streams": {"effects"},
    "agents": _CORE | {"flow", "models"},
    "moa": _CORE | {"flow", "models", "agents"},
    "durable": _CORE | {"flow", "distributed"},  # (RedisJournal: the `redis` extra)
    "distributed": _CORE,
}


def imported(path: pathlib.Path) -> set[str]:
    """The playbill packages ``path`` imports (``playbill`` itself as ``"playbill"``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "playbill":
                found.add(parts[1] if len(parts) > 1 else "playbill")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_lies_below_it(package):
    wrong = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        reached = imported(path) - ALLOWED[package] - {package}
        if reached:
            wrong[str(path.relative_to(ROOT.parent))] = sorted(reached)
    assert wrong == {}, f"{package} reaches up (docs/index.md's arrows): {wrong}"


def test_every_package_has_its_rule():
    packages = {path.name for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    assert packages - set(ALLOWED) == {"testing", "opentelemetry"}  # these may import anything
