"""An `Intercept` with an ending has the type of its ending: mypy infers ``on_value``'s result
as the program's, and checks ``on_error``'s program against it."""

import pathlib
import textwrap

from tests.typecheck import mypy_strict

SNIPPET = """
from typing import Any

from playbill import Program, pure
from playbill.effects import Effect, Intercept


def same(effect: Effect[Any]) -> Effect[Any]:
    return effect


reveal_type(Intercept(pure(1), same))
reveal_type(Intercept(pure(1), same, on_value=str))
reveal_type(Intercept(pure(1), same, on_error=lambda error: pure(0)))
as_text: Program[str] = Intercept(pure(1), same, on_value=str)
wrong: Program[int] = Intercept(pure(1), same, on_value=str)
recovered: Program[int] = Intercept(pure(1), same, on_error=lambda error: pure("no"))
"""


def test_mypy_infers_an_intercept_ending_type(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "ending.py"
    source.write_text(textwrap.dedent(SNIPPET))
    report = mypy_strict(source)
    assert report.count('Revealed type is "playbill.effects._program.Intercept[int]"') == 2
    assert 'Revealed type is "playbill.effects._program.Intercept[str]"' in report
    assert report.count("error:") == 2, report
    assert 'Argument "on_value" to "Intercept" has incompatible type' in report
    assert 'Argument 1 to "pure" has incompatible type "str"; expected "int"' in report
