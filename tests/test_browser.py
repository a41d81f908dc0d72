"""The built site in a real browser: Debian's Chromium, headless, loads the home page, an API
page and a page of Mermaid drawings from 127.0.0.1, with no console error, and the drawings
render as SVG (Mermaid's script is served by the site itself: nothing is fetched from the
network). Skipped, saying how to install it, without Chromium (``make test`` installs it as
root)."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_docs_site import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: as root, `make chromium` (apt-get install chromium) installs it",
)
MERMAID = ROOT / "tools" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _load(url: str, profile: Path) -> tuple[str, list[str]]:
    """The page's DOM once its scripts ran, and the console's errors."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    errors = [line for line in console if re.search(r"error|uncaught|failed", line, re.I)]
    return done.stdout, errors


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("", "playbill"),
        ("api/flow/", "playbill.flow"),
    ],
)
def test_a_page_loads_in_chromium_without_console_errors(served, tmp_path, page, expected):
    dom, errors = _load(f"{served}/{page}", tmp_path)
    assert expected in dom
    assert errors == []


@pytest.mark.skipif(
    not MERMAID.is_file(), reason="Mermaid's script comes from `make mermaid` (needs npm)"
)
def test_the_mermaid_drawings_render_as_svg_in_chromium(served, tmp_path):
    dom, errors = _load(f"{served}/examples/", tmp_path)
    assert errors == []
    # the theme swaps each <pre class="mermaid"> for a <div class="mermaid"> holding the SVG
    # (in a closed shadow root, which a DOM dump does not show) only once Mermaid rendered it
    assert '<pre class="mermaid"' not in dom, "a drawing was not rendered"
    assert len(re.findall(r'<div class="mermaid"', dom)) >= 1, dom[:2000]
