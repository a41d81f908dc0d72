"""An evaluator-optimizer loop as a Flow: a writer drafts, a critic scores, the loop goes round
until the score reaches the bar or the rounds run out, then a polisher finishes the text.

The flow is a value: saved as YAML, loaded back through a registry (nothing imported or
evaluated), drawn as Mermaid, run on asyncio with its events watched live, and explored under
the simulator with actor crashes switched on.

    python examples/evaluator_optimizer.py
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from playbill import Actor, ActorSystem, explore, free_spawn, program
from playbill.actors import Emitted
from playbill.flow import (
    Continue,
    Done,
    Flow,
    FlowEvent,
    Registry,
    actor,
    call,
    from_yaml,
    loop_with_state,
    step,
)
from playbill.interpreters.simulation import Faults

BAR = 8  # the score a draft needs
ROUNDS = 4  # at most this many drafts


class Writer(Actor):
    """Drafts a text for the task, taking the critic's last feedback into account."""

    def receive(self, message: Any) -> Any:
        task, state = message
        round_ = state["round"] + 1
        text = f"{task}: a first idea"
        if state["feedback"]:
            text = f"{task}: a clearer idea, with {state['feedback']}"
        return {"task": task, "draft": text, "round": round_, "score": 0, "feedback": ""}


class Critic(Actor):
    """Scores a draft out of 10 and says what is missing."""

    def __init__(self) -> None:
        self.reviews = 0

    def receive(self, draft: Any) -> Any:
        if draft == "how many reviews?":
            return self.reviews
        self.reviews += 1
        score = 3 * draft["round"] + (2 if "example" in draft["draft"] else 0)
        feedback = "" if "example" in draft["draft"] else "an example"
        return {**draft, "score": min(score, 10), "feedback": feedback}


def good_enough(review: dict[str, Any]) -> Any:
    """Done once the score reaches the bar; otherwise go round again from this review."""
    return Done(review) if review["score"] >= BAR else Continue(review)


def polish(review: dict[str, Any]) -> str:
    text = review["draft"]
    return (
        f"{text[0].upper()}{text[1:]}. (score {review['score']}/10 after {review['round']} rounds)"
    )


def blank_state() -> dict[str, Any]:
    return {"task": "", "draft": "", "round": 0, "score": 0, "feedback": ""}


def evaluator_optimizer() -> Flow[str, str]:
    """The flow: (writer >> critic >> good enough?) round and round, then the polisher."""
    one_round = actor(Writer) >> call("critic") >> step(good_enough)
    improve = loop_with_state(one_round, blank_state(), max_iter=ROUNDS, on_limit="last")
    return improve >> step(polish)


def registry() -> Registry:
    """Every name the saved flow uses, and nothing else."""
    names = Registry()
    for thing in (Writer, good_enough, polish):
        names.register(thing)
    return names


def run_with_critic(flow: Flow[str, str], task: str) -> Any:
    """The flow's program, with the long-lived critic it calls spawned first; gives the text
    and how many drafts the critic reviewed."""

    @program
    def main() -> Any:
        critic = yield free_spawn(Critic, name="critic")
        text = yield flow.to_program(task)
        reviews = yield critic.free_ask("how many reviews?")
        return text, reviews

    return main()


async def on_asyncio(flow: Flow[str, str], task: str) -> tuple[Any, list[FlowEvent]]:
    async with ActorSystem("app") as system:
        watching = system.events()
        outcome = await system.run(run_with_critic(flow, task))
        events = [
            event.event
            for event in watching.drain()
            if isinstance(event, Emitted) and isinstance(event.event, FlowEvent)
        ]
    return outcome, events


def main(printer: Callable[[str], None] = print) -> dict[str, Any]:
    flow = evaluator_optimizer()
    names = registry()
    document = flow.to_yaml(names)
    loaded = from_yaml(document, names)
    assert loaded == flow
    printer(f"   saved as {len(document.splitlines())} lines of YAML, loaded back equal:")
    for line in document.splitlines()[:13]:
        printer(f"     {line}")
    printer("     …")
    printer("   drawn as Mermaid:")
    for line in loaded.to_mermaid(names).splitlines():
        printer(f"     {line}")

    task = "explain actors"
    (text, reviews), events = asyncio.run(on_asyncio(loaded, task))
    rounds = sorted({e.span for e in events if e.kind == "started" and e.path.endswith("body")})
    printer(f"   asyncio: {text!r}")
    printer(
        f"   {len(events)} flow events watched live; {len(rounds)} rounds, {reviews} reviews "
        "by the long-lived critic"
    )

    def holds(result: Any) -> bool:
        final, _ = result.value
        return final.startswith("Explain actors") and f"score {BAR}" in final

    found = explore(
        run_with_critic(loaded, task),
        check=holds,
        runs=200,
        strategy="pct",
        faults=Faults(crash=0.2),
    )
    printer(
        f"   simulator: {found.runs} schedules explored (pct) with actor crashes switched on: "
        + ("the result held in every one" if not found.found else "FAILED: " + repr(found))
    )
    return {"text": text, "reviews": reviews, "events": len(events), "failed": found.found}


if __name__ == "__main__":
    main()
