"""The documentation site builds with `mkdocs build --strict`, so a broken link, a reference
that does not resolve or a page left out of mkdocs.yml's nav fails the suite; and the site
holds what it promises: every page, the examples gallery with each example and its flows
drawn as Mermaid, and an API page per public subpackage."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API_PAGES = {
    "playbill": "playbill",
    "effects": "playbill.effects",
    "actors": "playbill.actors",
    "interpreters": "playbill.interpreters",
    "flow": "playbill.flow",
    "agents": "playbill.agents",
    "moa": "playbill.moa",
    "models": "playbill.models",
    "testing": "playbill.testing",
    "distributed": "playbill.distributed",
    "opentelemetry": "playbill.opentelemetry",
    "durable": "playbill.durable",
}


def _require_mkdocs() -> None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(
            module,
            reason=f"the strict docs build needs {module}: pip install -e '.[docs]' "
            "(the dev extra has it)",
        )


def _mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    environment.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        cwd=config.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip


def test_the_site_builds_strictly_with_every_page(site):
    for page in sorted((ROOT / "docs").rglob("*.md")):
        relative = page.relative_to(ROOT / "docs").with_suffix("")
        folder = site if relative.name == "index" else site / relative
        assert (folder / "index.html").is_file(), f"{page} is not on the site"


def test_the_gallery_shows_every_example_with_its_source_and_flows(site):
    html = (site / "examples" / "index.html").read_text()
    for example in sorted((ROOT / "examples").glob("*.py")):
        assert f'id="{example.stem}"' in html, f"{example.name} is not in the gallery"
        first_function = re.search(r"^def (\w+)", example.read_text(), re.MULTILINE)
        if first_function:
            assert first_function.group(1) in html, f"{example.name}'s source is not shown"
    drawn = re.findall(r"The flow <code>(\w+)\(\)</code>", html)
    assert {"word_stats", "evaluator_optimizer", "research"} <= set(drawn)
    assert html.count('class="mermaid"') >= len(drawn)


def test_the_api_reference_has_a_page_per_public_subpackage(site):
    for page, module in API_PAGES.items():
        html = (site / "api" / page / "index.html").read_text()
        assert f'id="{module}"' in html, f"api/{page}.md does not document {module}"
    effects = (site / "api" / "effects" / "index.html").read_text()
    assert 'id="playbill.effects.free_ask"' in effects
    # docstring examples are shown as code, not as Markdown quotes
    assert "<blockquote>" not in effects


def test_mermaid_fences_render_as_mermaid(site):
    html = (site / "flow" / "index.html").read_text()
    assert '<pre class="mermaid"><code>flowchart TD' in html


def test_a_page_left_out_of_the_nav_or_a_broken_link_fails_the_strict_build(tmp_path):
    _require_mkdocs()
    # the project's own validation rules, on a two-page site without the slow plugins
    config = (ROOT / "mkdocs.yml").read_text()
    validation = re.search(r"^validation:\n(?:  .*\n)+", config, re.MULTILINE)
    assert validation, "mkdocs.yml has no validation section"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the guide](guide.md).\n")
    (docs / "guide.md").write_text("# Guide\n")
    minimal = tmp_path / "mkdocs.yml"
    minimal.write_text(f"site_name: t\n{validation.group(0)}nav:\n  - index.md\n")
    left_out = _mkdocs_build(minimal, tmp_path / "site")
    assert left_out.returncode != 0
    assert "guide.md" in left_out.stderr
    assert "not included in the" in left_out.stderr

    minimal.write_text(f"site_name: t\n{validation.group(0)}nav:\n  - index.md\n  - guide.md\n")
    assert _mkdocs_build(minimal, tmp_path / "site").returncode == 0
    (docs / "index.md").write_text("# Home\n\nSee [the guide](gide.md).\n")
    broken = _mkdocs_build(minimal, tmp_path / "site")
    assert broken.returncode != 0
    assert "gide.md" in broken.stderr
