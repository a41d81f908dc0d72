"""The simulator still runs every conformance program exactly as recorded in the golden traces
(each case, seeds 0-2, both deliveries, with and without faults: see `golden`)."""

import pytest

from tests.conformance import golden
from tests.conformance.programs import CASES, Case


def test_the_recording_covers_exactly_the_runs_of_the_suite() -> None:
    summaries, texts = golden.stored()
    recorded = set(summaries) - {"_meta"}
    expected = {run.key for run in golden.runs()}
    assert summaries["_meta"] == golden.meta(), golden.RE_RECORD
    assert recorded == expected, (
        f"not recorded: {sorted(expected - recorded)}\n"
        f"recorded, but no such run now: {sorted(recorded - expected)}\n{golden.RE_RECORD}"
    )
    assert set(texts) == recorded, f"{golden.GOLDEN_TEXT.name} is out of date. {golden.RE_RECORD}"
    stale = [
        key for key in sorted(recorded) if golden.digest(texts[key]) != summaries[key]["sha256"]
    ]
    assert not stale, f"texts that do not match their digest: {stale}. {golden.RE_RECORD}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_runs_match_the_golden_traces(case: Case) -> None:
    problems = golden.compare([case])
    if problems:
        pytest.fail(
            f"{len(problems)} simulated run(s) of {case.name} differ from the golden traces:\n"
            + "\n".join(problems)
            + "\n\n"
            + golden.RE_RECORD,
            pytrace=False,
        )
