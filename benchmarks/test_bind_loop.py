"""pytest-benchmark cases for the bind loop (``make bench``; run once as tests otherwise)."""

import pytest
from scenarios import SCENARIOS

from playbill.effects import Done

N = 100_000


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_playbill(benchmark, scenario):
    run = SCENARIOS[scenario][0](N)
    result = benchmark(run)
    assert result == Done(N) or result == Done(N + 1) or result == Done(N)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_minimal_trampoline(benchmark, scenario):
    run = SCENARIOS[scenario][1](N)
    assert benchmark(run) in (N, N + 1)
