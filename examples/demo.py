"""playbill demo: a workflow is a value — printed, tested and run without performing anything
real until an interpreter does.

    make demo
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from attrs import frozen
from hypothesis import settings

from playbill import Effect, Program, gather, perform, program, pure, sleep
from playbill.interpreters import stub
from playbill.testing import Raise, SequenceMismatch, perform_sequence
from playbill.testing.laws import ALL_LAWS, FLOW_LAWS, check_flow_law, check_law


# 1. Effects are values: a user effect is a frozen class; nothing here calls a network.
@frozen
class FetchQuote(Effect[float]):
    symbol: str


@frozen
class Log(Effect[None]):
    line: str


def quote(symbol: str) -> Program[float]:
    """A quote, retried once after a pause if the service fails, within 5 seconds."""
    first_try = perform(FetchQuote(symbol))
    retry = sleep(1).then(perform(FetchQuote(symbol)))
    return first_try.recover_with(lambda error: retry).timeout(5)


@program
def portfolio(symbols: tuple[str, ...]) -> Generator[Any, Any, float]:
    prices = yield gather(*(quote(symbol) for symbol in symbols))
    total = sum(prices)
    yield Log(f"portfolio of {len(symbols)} is worth {total:.2f}")
    return total


def title(text: str) -> None:
    print(f"\n\033[1m{text}\033[0m")


class _OneLine(logging.Formatter):
    """A failure the runtime logs, as one dimmed line of the demo's output (its traceback,
    which the log record carries for a real handler, left out)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"   \033[2mlog: {record.getMessage()}\033[0m"


def log_failures_in_one_line() -> None:
    """The runtime logs each supervised failure on the ``playbill`` logger, where Python's
    default prints it with its traceback; here each is one line, in order with the rest."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_OneLine())
    logger = logging.getLogger("playbill")
    logger.addHandler(handler)
    logger.propagate = False


def main() -> None:
    started = time.perf_counter()
    log_failures_in_one_line()
    title("1. A workflow is a value: built, printed, nothing performed")
    workflow = gather(quote("ACME"), quote("INITECH")).map(sum)
    print(workflow.pretty())

    title("2. Run by the stub interpreter: plain functions answer the effects")
    calls: dict[str, int] = {}

    def flaky_market(effect: FetchQuote) -> Any:
        calls[effect.symbol] = calls.get(effect.symbol, 0) + 1
        if effect.symbol == "INITECH" and calls[effect.symbol] == 1:
            raise ConnectionError("market data feed hiccup")
        if effect.symbol == "HOOLI":
            return sleep(3600).then(pure(1.0))  # a handler may return a program: a slow feed
        return {"ACME": 101.5, "INITECH": 42.25}[effect.symbol]

    handlers = {FetchQuote: flaky_market, Log: lambda effect: print("   log:", effect.line)}
    result = stub.execute(portfolio(("ACME", "INITECH")), handlers)
    print(f"   value {result.unwrap()}, virtual clock {result.clock}s (the retry paused 1s)")
    print("   effects:", ", ".join(repr(effect) for effect in result.effects))
    slow = stub.execute(portfolio(("ACME", "HOOLI")), handlers)
    print(f"   a feed that takes an hour: {slow.outcome} at {slow.clock}s of virtual time")

    title("3. Assert the exact effects, in order, in the style of effect.testing")
    expected = [
        (FetchQuote("ACME"), Raise(ConnectionError("down"))),
        (FetchQuote("ACME"), 100.0),  # forgot the 1 s pause before the retry
    ]
    try:
        perform_sequence(quote("ACME"), expected)
    except SequenceMismatch as mismatch:
        print("   " + str(mismatch).replace("\n", "\n   "))

    title("4. Stack-safe: a million binds, left-nested, in constant Python stack")
    chain: Program[int] = pure(0)
    for _ in range(1_000_000):
        chain = chain.flat_map(lambda x: pure(x + 1))
    began = time.perf_counter()
    value = stub.run(chain)
    print(f"   {value:,} binds ran in {time.perf_counter() - began:.2f}s")

    title("5. The same values, performed by asyncio: a supervised actor system, live events")
    sys.path.insert(0, str(Path(__file__).parent))
    import supervised_workers

    summary = asyncio.run(supervised_workers.main())
    print(f"   results: {summary['results']}")
    print(f"   dead letters: {summary['dead letters']} (counted, never silently lost)")

    title("6. A race asyncio hides: the simulator finds it, shrinks it, replays it")
    import bank_race

    began = time.perf_counter()
    schedule = bank_race.main()
    print(f"   (found, shrunk and replayed in {time.perf_counter() - began:.2f}s)")
    if schedule is not None:  # the string is all a colleague needs: the command line replays it
        command = [
            "replay", "examples/bank_race.py:two_deposits", schedule,
            "--actor", "/app/balance", "--kind", "receive",
        ]  # fmt: skip
        print(f"   $ playbill {' '.join(command[:2])} '{schedule}' {' '.join(command[3:])}")
        shown = subprocess.run(
            [sys.executable, "-m", "playbill", *command],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in shown.stdout.splitlines():
            print(f"   {line}")

    title("7. A bug that waits for distribution: no asyncio order has it, per_pair finds it")
    import open_then_deposit

    open_then_deposit.main()

    title("8. At-least-once delivery: a redelivered payment charges twice; found, then fixed")
    import double_charge

    double_charge.main()

    title("9. A deadlock asyncio reports as a timeout: the simulator names the cycle at once")
    import ask_cycle

    ask_cycle.main()

    title("10. A workflow as data: an evaluator-optimizer Flow, saved, drawn, run, explored")
    import evaluator_optimizer

    evaluator_optimizer.main()

    title("11. An agent with a model and tools: scripted offline, a real provider with a key")
    import research_agent

    research_agent.main(lambda line: print(f"   {line}"))

    title("12. A team of agents: a live event tree under asyncio, a lost note found and replayed")
    import research_team

    research_team.main()

    title("13. Mixture-of-Agents as a Flow: saved, drawn, live, explored with crashes")
    import moa_research

    moa_research.main(lambda line: print(f"   {line}"), model_for=moa_research.scripted)

    title("14. Durable: an approval waits for a person, its process is killed, another ends it")
    import approval

    began = time.perf_counter()
    approval.main(lambda line: print(f"   {line}"))
    print(f"   (two processes, one SQLite journal, in {time.perf_counter() - began:.2f}s)")

    title("15. Past one machine: two processes on Redis, one killed (SIGKILL) and restarted")
    import two_nodes

    two_nodes.main(lambda line: print(f"   {line}"))

    title("16. Lawful: every Program law on random programs, every Flow law across schedules")
    for law in ALL_LAWS:
        check_law(law, hypothesis_settings=settings(max_examples=100, deadline=None))
        print(f"   ✓ {law.name:<30} {law.statement}")
    for flow_law in FLOW_LAWS:
        check_flow_law(flow_law, hypothesis_settings=settings(max_examples=60, deadline=None))
        print(f"   ✓ {'flow ' + flow_law.name:<30} {flow_law.statement}")
    print(f"\ndone in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
