"""Flows keep their types: mypy infers a pipeline's input and output, and rejects a step that
does not fit the output before it."""

import pathlib
import textwrap

from tests.typecheck import mypy_strict

SNIPPET = """
from playbill import Program, pure
from playbill.flow import step


def parse(text: str) -> list[str]:
    return text.split()


def later(n: int) -> Program[str]:
    return pure(str(n))


reveal_type(step(parse) >> step(len))
reveal_type(step(later))
reveal_type(step(parse).recover(lambda error: 0))
step(parse) >> step(lambda n: n + 1)
"""


def test_mypy_infers_and_checks_flow_types(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "pipeline.py"
    source.write_text(textwrap.dedent(SNIPPET))
    report = mypy_strict(source)
    assert report.count("error:") == 1, report
    assert 'Revealed type is "playbill.flow._nodes.Flow[str, int]"' in report
    assert 'Revealed type is "playbill.flow._nodes.Flow[int, str]"' in report
    assert 'Revealed type is "playbill.flow._nodes.Flow[str, list[str] | int]"' in report
    assert 'No overload variant of "__add__" of "list" matches argument type "int"' in report
