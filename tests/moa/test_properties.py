"""Laws of a MoA layer under the simulator, across schedules: the quorum outcome for every
pattern of proposer failures, stragglers cancelled, no orphan actor after a success, a failure,
a timeout or a crash, and a result that does not depend on which proposer finishes first."""

from __future__ import annotations

import itertools

import pytest

from playbill import TimedOut, explore
from playbill.flow import QuorumNotReached, step
from playbill.interpreters.simulation import Faults
from playbill.moa import LayerOutput, moa_layer, moa_tree
from tests.moa.support import AlsoBroken, Broken, Fast, Joiner, Late, Steady, orphans

GOOD = (Fast, Steady, Late)
BAD = (Broken, AlsoBroken, Broken)


def count_successes(proposals):
    return (len(proposals.successes), len(proposals.failures), proposals.outputs)


PATTERNS = [
    (pattern, k) for pattern in itertools.product((True, False), repeat=3) for k in (1, 2, 3)
]


@pytest.mark.parametrize(("pattern", "k"), PATTERNS)
@pytest.mark.parametrize("delivery", ["causal", "per_pair"])
def test_the_quorum_holds_exactly_when_k_proposers_succeed(pattern, k, delivery):
    proposers = [GOOD[i] if good else BAD[i] for i, good in enumerate(pattern)]
    layer = moa_layer(proposers, step(count_successes), min_success=k)

    def check(result):
        assert orphans(result.events) == ()
        if sum(pattern) >= k:
            successes, _, outputs = result.value
            assert successes == k
            order = [name.__name__ for name in GOOD]
            assert list(outputs) == sorted(outputs, key=lambda o: order.index(o.split(":")[0]))
        else:
            assert isinstance(result.error, QuorumNotReached), result.error
        assert result.clock < 1  # decided without waiting on anyone slow

    explore(layer.to_program("q"), check, runs=15, seed=k, delivery=delivery).assert_passed()


def test_the_outcome_does_not_depend_on_who_finishes_first_when_all_must_answer():
    layer = moa_layer([Late, Fast, Steady], Joiner, min_success=3)
    expected = "Late:q | Fast:q | Steady:q (0 failed)"
    explore(
        layer.to_program("q"), lambda result: result.value == expected, runs=40, seed=3
    ).assert_passed()


def test_no_orphan_actor_after_a_timeout_across_schedules():
    from tests.moa.support import Straggler

    layer = moa_layer([Straggler, Fast], Joiner, min_success=2, timeout=1)

    def check(result):
        assert isinstance(result.error, TimedOut)
        assert orphans(result.events) == ()
        assert result.clock == pytest.approx(1)

    explore(layer.to_program("q"), check, runs=30, seed=5).assert_passed()


def test_with_crashing_proposers_the_layer_completes_or_fails_cleanly():
    layer = moa_layer([Fast, Steady, Late], Joiner, min_success=2)

    def check(result):
        assert result.status in ("completed", "failed")
        assert orphans(result.events) == ()
        if result.status == "completed":
            assert result.value.count(":q") == 2  # the quorum: two proposals, never fewer

    explore(
        layer.to_program("q"), check, runs=60, seed=11, faults=Faults(crash=0.3)
    ).assert_passed()


def test_a_directive_is_never_seen_two_layers_on_across_schedules():
    seen = []

    def proposer(given):
        seen.append(given.directive)
        return given.value

    def directing(proposals):
        return LayerOutput(proposals.outputs[0], directive="only-next")

    tree = moa_tree(
        [
            moa_layer([step(proposer)], step(directing)),
            moa_layer(
                [step(proposer), step(proposer)], step(lambda p: p.outputs[0]), min_success=2
            ),
            moa_layer([step(proposer)], step(lambda p: p.outputs[0])),
        ]
    )

    def check(result):
        directives = list(seen)
        seen.clear()
        assert result.value == "q"
        assert directives[0] is None
        assert sorted(directives[1:3], key=str) == ["only-next", "only-next"]
        assert directives[3] is None

    explore(tree.to_program("q"), check, runs=30, seed=2, delivery="per_pair").assert_passed()
