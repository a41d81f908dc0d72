"""Every ```python block in README.md and docs/ runs (each file's blocks in order, sharing
one namespace), so the documentation cannot drift from the code."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_snippets_of_a_page_run(page, capsys):
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no python snippet"
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{page.name} snippet {number}", "exec")
        exec(code, namespace)


def test_the_demo_runs():
    import runpy

    runpy.run_path(str(ROOT / "examples" / "demo.py"), run_name="__main__")


def test_the_effect_fields_table_lists_every_built_in_effect_with_its_fields():
    import attrs

    import playbill.effects as effects

    rows = re.findall(
        r"^\| `([A-Z]\w*)\(([^)]*)\)` \|", (ROOT / "docs" / "effects.md").read_text(), re.M
    )
    documented = {name: tuple(filter(None, fields.split(", "))) for name, fields in rows}
    built_in = {
        name: tuple(field.name for field in attrs.fields(value))
        for name, value in vars(effects).items()
        if isinstance(value, type)
        and issubclass(value, effects.Effect)
        and value is not effects.Effect
    }
    assert documented == built_in
