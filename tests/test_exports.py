"""The public surface: what the packages export, and that it stays tidy."""

import builtins
import importlib

import pytest

import playbill

EVERYDAY = {
    "Program", "program", "pure", "fail", "perform", "Effect",
    "free_spawn", "free_tell", "free_ask", "free_stop",
    "emit", "self_ref", "now", "sleep", "random", "watch",
    "gather", "race", "sequence", "traverse", "timeout", "fork", "join",
    "ActorRef", "PlaybillError", "ProgramError", "UnhandledEffect", "AskTimeout", "ActorStopped",
}  # fmt: skip

PACKAGES = [
    "playbill",
    "playbill.effects",
    "playbill.agents",
    "playbill.models",
    "playbill.flow",
    "playbill.moa",
    "playbill.interpreters",
    "playbill.distributed",
    "playbill.interpreters.stub",
    "playbill.testing",
    "playbill.testing.laws",
    "playbill.opentelemetry",
    "playbill.durable",
    "playbill.streams",
]


def test_the_everyday_api_is_exported_from_playbill():
    assert set(playbill.__all__) >= EVERYDAY


def test_every_playbill_error_subclass_is_exported():
    exported = {getattr(playbill, name) for name in playbill.__all__}
    errors = {
        value
        for value in vars(importlib.import_module("playbill.effects._errors")).values()
        if isinstance(value, type) and issubclass(value, playbill.PlaybillError)
    }
    assert errors <= exported


def test_combinators_are_methods_of_program():
    methods = ("map", "flat_map", "then", "zip", "recover", "recover_with", "attempt", "ensuring")
    for name in methods:
        assert callable(getattr(playbill.Program, name))
        assert name not in playbill.__all__


@pytest.mark.parametrize("module_name", PACKAGES)
def test_every_exported_name_exists_and_nothing_shadows_a_builtin(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.{name} is in __all__ but missing"
        assert not hasattr(builtins, name), f"{module_name}.{name} shadows a builtin"


@pytest.mark.parametrize("module_name", [name for name in PACKAGES if name.count(".") < 2])
def test_public_names_of_a_package_are_all_in_its_all(module_name):
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", "").startswith("playbill")
        and not isinstance(value, type(importlib))
    }
    assert public <= set(module.__all__)


def test_effects_imports_nothing_else_from_playbill():
    import pathlib

    root = pathlib.Path(playbill.__file__).parent / "effects"
    for path in root.glob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("from playbill", "import playbill")):
                assert stripped.startswith("from playbill.effects"), f"{path.name}: {stripped}"


# The layers below `flow` (DESIGN.md: effects <- actors <- interpreters <- flow <- ...) and
# what each may not import, at the top of a module or lazily inside a function alike.
_ABOVE_INTERPRETERS = ("flow", "agents", "moa", "durable", "distributed", "testing", "cli")


def test_the_actors_and_interpreters_import_nothing_from_the_layers_above() -> None:
    import ast
    import pathlib

    root = pathlib.Path(playbill.__file__).parent
    found = []
    for layer in ("actors", "interpreters"):
        for path in (root / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                for name in names:
                    parts = name.split(".")
                    if (
                        parts[0] == "playbill"
                        and len(parts) > 1
                        and parts[1] in _ABOVE_INTERPRETERS
                    ):
                        found.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
    assert found == []


# Names that `playbill.flow` shares with the core for a different object; each is documented
# side by side, with the reason, in docs/flow.md ("Names shared with `playbill`").
SHARED_WITH_FLOW = {"pure", "race", "Done"}


def test_the_names_flow_shares_with_the_core_are_exactly_the_documented_ones():
    import pathlib

    flow = importlib.import_module("playbill.flow")
    shared = set()
    for module_name in ("playbill", "playbill.effects", "playbill.interpreters"):
        core = importlib.import_module(module_name)
        for name in set(core.__all__) & set(flow.__all__):
            if getattr(core, name) is not getattr(flow, name):
                shared.add(name)
    assert shared == SHARED_WITH_FLOW
    page = (pathlib.Path(playbill.__file__).parent.parent / "docs" / "flow.md").read_text()
    section = page.split("## Names shared with `playbill`")[1].split("\n## ")[0]
    for name in SHARED_WITH_FLOW:
        assert f"| `{name}` |" in section, f"{name} is not in docs/flow.md's table"


def test_the_agent_layer_shares_no_name_with_the_core():
    agents = importlib.import_module("playbill.agents")
    for module_name in ("playbill", "playbill.effects", "playbill.interpreters", "playbill.flow"):
        core = importlib.import_module(module_name)
        assert not set(core.__all__) & set(agents.__all__), module_name


def test_the_durable_layer_shares_no_name_with_the_core():
    durable = importlib.import_module("playbill.durable")
    for module_name in ("playbill", "playbill.effects", "playbill.interpreters", "playbill.flow"):
        core = importlib.import_module(module_name)
        assert not set(core.__all__) & set(durable.__all__), module_name
