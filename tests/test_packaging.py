"""The package as users get it: the sdist and the wheel build (the wheel from the sdist, as
`python -m build` does), the wheel installs into a fresh venv, and what it holds is what a
user needs — `py.typed`, the `playbill` package — and nothing of the repository's own
(tests, benchmarks, examples).

The fresh venv gets the wheel with `--no-deps`; its three runtime dependencies (attrs,
returns, PyYAML) are borrowed from this interpreter's site-packages through a `.pth` line
*after* the venv's own, so the import is fast and offline, and `playbill` can only come from
the wheel (a path line in a `.pth` file adds the directory, not the editable install's own
`.pth`, which would point back at the source tree). Building fetches the build backend
(hatchling) into an isolated environment; pip caches it after the first run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _clean_environment() -> dict[str, str]:
    environment = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTEST_CURRENT_TEST", "VIRTUAL_ENV"):
        environment.pop(name, None)
    return environment


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel, built once for this module."""
    pytest.importorskip("build", reason="the packaging test needs `build`: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=out)
    (sdist,) = out.glob("playbill-*.tar.gz")
    (wheel,) = out.glob("playbill-*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def installed(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its python."""
    _, wheel = built
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    purelib = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=home
        ).strip()
    )
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         "--no-index", wheel, cwd=home)  # fmt: skip
    (purelib / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_holds_py_typed_and_only_the_package(built):
    _, wheel = built
    names = zipfile.ZipFile(wheel).namelist()
    assert "playbill/py.typed" in names
    top_level = {name.split("/")[0] for name in names}
    assert {"tests", "benchmarks", "examples", "docs"}.isdisjoint(top_level), sorted(top_level)
    (metadata,) = top_level - {"playbill"}
    assert metadata.endswith(".dist-info"), sorted(top_level)


def test_the_version_comes_from_one_place(built):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project, "the version lives in playbill/__init__.py only"
    assert project["dynamic"] == ["version"]
    namespace: dict[str, object] = {}
    for line in (ROOT / "playbill" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            exec(line, namespace)
    sdist, wheel = built
    assert wheel.name.startswith(f"playbill-{namespace['__version__']}-")
    assert sdist.name == f"playbill-{namespace['__version__']}.tar.gz"


def test_the_installed_wheel_imports_from_the_venv_with_its_metadata_version(installed):
    report = _run(
        installed,
        "-c",
        "import importlib.metadata, playbill, playbill.interpreters.stub as stub;"
        "print(playbill.__file__);"
        "print(playbill.__version__);"
        "print(importlib.metadata.version('playbill'));"
        "print(stub.run(playbill.pure(41).map(lambda n: n + 1)))",
        cwd=installed.parent,
    ).split("\n")
    location, version, metadata_version, answer = report[:4]
    assert Path(location).is_relative_to(installed.parent.parent), location
    assert version == metadata_version
    assert answer == "42"


def test_the_installed_wheel_is_typed(installed):
    _run(
        installed,
        "-c",
        "import pathlib, playbill; assert (pathlib.Path(playbill.__file__).parent / 'py.typed')"
        ".is_file()",
        cwd=installed.parent,
    )


def test_the_changelog_follows_keep_a_changelog():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert text.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/en/1.1.0/)" in text
    releases = re.findall(r"^## (.*)$", text, re.MULTILINE)
    assert releases[0] == "[Unreleased]", releases[:3]
    for release in releases[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\S*\] - \d{4}-\d{2}-\d{2}", release), release
    for release in releases:
        label = release.split("]")[0] + "]"
        assert re.search(rf"^{re.escape(label)}: \S+$", text, re.MULTILINE), f"no link for {label}"
