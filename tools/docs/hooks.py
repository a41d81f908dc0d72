"""mkdocs hooks for the site (mkdocs.yml `hooks:`): the examples gallery is generated from
examples/ at build time, so every example is on the site with its current source, and each
example that builds a flow shows it drawn as Mermaid (drawn by playbill, as `playbill draw`
does). Nothing here is written into docs/."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
# the tree being documented, not whichever playbill happens to be installed
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
GALLERY = "examples.md"
# the demo is where a reader starts; the rest follow by name
FIRST = "demo"


def example_modules() -> list[Path]:
    """The examples, the demo first, then by name."""
    found = sorted(EXAMPLES.glob("*.py"), key=lambda path: (path.stem != FIRST, path.stem))
    return [path for path in found if not path.stem.startswith("_")]


def _flow_drawings(stem: str) -> list[tuple[str, str]]:
    """(function name, Mermaid) for each no-argument function of the example that is
    annotated to return a Flow, drawn with the example's `registry()` when it has one."""
    from playbill.flow import Flow

    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    module = importlib.import_module(stem)
    registry = getattr(module, "registry", None)
    names = registry() if callable(registry) else None
    drawings = []
    for name, function in sorted(vars(module).items()):
        if not inspect.isfunction(function) or function.__module__ != stem:
            continue
        annotation = inspect.signature(function).return_annotation
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        if "Flow" not in str(text) or inspect.signature(function).parameters:
            continue
        flow = function()
        if isinstance(flow, Flow):
            drawings.append((name, flow.to_mermaid(names)))
    return drawings


def gallery() -> str:
    """The gallery page's Markdown."""
    parts = [
        "# Examples",
        "",
        "Every example in `examples/` of the repository, with its source. Each runs on its own",
        "(`python examples/NAME.py`, the demo with `make demo`), offline, and the suite runs them",
        "(`tests/test_examples.py`, `tests/test_cli.py`). The flows an example builds are drawn",
        "as `playbill draw` draws them.",
        "",
    ]
    for path in example_modules():
        source = path.read_text(encoding="utf-8")
        docstring = ast.get_docstring(ast.parse(source)) or ""
        parts += [f"## {path.name} {{#{path.stem}}}", "", docstring, ""]
        for name, chart in _flow_drawings(path.stem):
            parts += [f"The flow `{name}()`, drawn:", "", "```mermaid", chart.rstrip(), "```", ""]
        saved = path.with_suffix(".yaml")
        if saved.exists():
            parts += [
                f"The flow saved as `examples/{saved.name}`:",
                "",
                "````yaml",
                saved.read_text(encoding="utf-8").rstrip(),
                "````",
                "",
            ]
        parts += [
            f'??? example "examples/{path.name}"',
            "",
            "    ````python",
            *[f"    {line}" if line else "" for line in source.rstrip().splitlines()],
            "    ````",
            "",
        ]
    return "\n".join(parts)


# Mermaid for the site, from the npm install the suite's Mermaid check makes (`make mermaid`):
# the material theme uses a `mermaid` already loaded, and otherwise fetches it from unpkg.com,
# which an offline reader (or the browser check) cannot reach.
MERMAID = ROOT / "tools" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
MERMAID_ON_SITE = "javascripts/mermaid.min.js"


def on_config(config: MkDocsConfig, **kwargs: Any) -> MkDocsConfig:
    if MERMAID.is_file() and MERMAID_ON_SITE not in config.extra_javascript:
        config.extra_javascript.append(MERMAID_ON_SITE)
    return config


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    files.append(File.generated(config, GALLERY, content=gallery()))
    if MERMAID.is_file():
        files.append(File.generated(config, MERMAID_ON_SITE, content=MERMAID.read_bytes()))
    return files
