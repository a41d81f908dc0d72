"""The suite's shared fixtures. Its Hypothesis profile (`dev`, or `ci` when CI is set, or
HYPOTHESIS_PROFILE) is loaded by playbill's own pytest plugin, which installing playbill
registers (the `pytest11` entry point): the suite uses it as users do."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


@pytest.fixture
def arun() -> Callable[[Awaitable[Any]], Any]:
    """Run a coroutine on a fresh event loop, failing the test after 20 s."""

    def runner(awaitable: Awaitable[Any]) -> Any:
        async def bounded() -> Any:
            return await asyncio.wait_for(awaitable, 20)

        return asyncio.run(bounded())

    return runner


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The documentation site, built once with ``mkdocs build --strict`` for the tests that
    read it (tests/test_docs_site.py) and load it in a browser (tests/test_browser.py)."""
    from tests.test_docs_site import ROOT, _mkdocs_build, _require_mkdocs

    _require_mkdocs()
    out = tmp_path_factory.mktemp("site")
    built = _mkdocs_build(ROOT / "mkdocs.yml", out)
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stderr}"
    return out
