"""`ChatAgent`: an agent that holds a conversation with a model — its own handler stack, its
tools, a memory of the past turns and a system prompt — and streams the reply's tokens as
its chunk events."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any, ClassVar, cast

from playbill.agents._agent import AgentActor
from playbill.effects import Done, Emit, InvalidArgument, Machine, Next, Program, program
from playbill.models import (
    Model,
    ModelRequest,
    RingBufferMemory,
    SQLiteMemory,
    SystemMessage,
    TokenChunk,
    Tool,
    ToolRegistry,
    UserMessage,
    call_model,
    run_tools,
)

__all__ = ["ChatAgent"]


def _setting(cls: type, name: str) -> Any:
    """A class attribute as it was written: a function set as ``model = with_retry(...)``
    is the model, not a method to bind."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            value = klass.__dict__[name]
            return value.__func__ if isinstance(value, staticmethod) else value
    return None


class ChatAgent(AgentActor[str, str]):
    """An agent that answers each task's input (what the user says) by talking with a model:
    the system prompt, the turns it remembers and the input go to ``model``; the tools the
    model calls are run (`run_tools`: unknown tools and bad arguments go back to it); the
    reply's text is the output; the turn is remembered. With ``stream`` (the default), each
    token the model streams is a ``chunk`` event of the task (its text).

    Configure it by subclassing: ``model`` is the handler stack it asks (a `ScriptedModel`,
    a provider, any combinators around them — its own, so each agent may have its own), or
    override ``make_model(self)`` to build one per actor; ``model_name`` the model it asks
    for; ``system_prompt``; ``tools`` (functions or `Tool`\\ s, which may be Programs that
    ask other agents); ``memory_size`` the messages a `RingBufferMemory` keeps (override
    ``make_memory(self)`` for another memory, such as a `SQLiteMemory` that survives a
    restart); ``max_rounds``, ``temperature`` and
    ``max_tokens`` as for `run_tools`.

    >>> from playbill import simulate
    >>> from playbill.agents import TaskEventKind, ask_agent, task_events
    >>> from playbill.models import ScriptedModel
    >>> class Echo(ChatAgent):
    ...     model = ScriptedModel(["Hello there"])
    ...     system_prompt = "Be brief."
    >>> result = simulate(ask_agent(Echo, "hi"))
    >>> events = task_events(result.events)
    >>> result.value, [event.data for event in events if event.kind is TaskEventKind.CHUNK]
    ('Hello there', ['Hello', ' there'])
    """

    model: ClassVar[Model | None] = None
    model_name: ClassVar[str] = "default"
    system_prompt: ClassVar[str | None] = None
    tools: ClassVar[Iterable[Callable[..., Any] | Tool]] = ()
    memory_size: ClassVar[int] = 50
    max_rounds: ClassVar[int] = 8
    stream: ClassVar[bool] = True
    temperature: ClassVar[float | None] = None
    max_tokens: ClassVar[int | None] = None

    def __init__(self) -> None:
        self.chat_model = self.make_model()
        if not callable(self.chat_model):
            raise InvalidArgument(
                f"{type(self).__qualname__}.model must be a model (a ScriptedModel, a "
                "provider, a combinator stack), got "
                f"{self.chat_model!r}; set model = ... in the class, or override make_model()"
            )
        self.registry = ToolRegistry(_setting(type(self), "tools") or ())
        self.memory = self.make_memory()

    def make_model(self) -> Model:
        """The model this actor asks: the class's ``model``; override to build one per
        actor (a fresh `ScriptedModel` per simulated run)."""
        return cast(Model, _setting(type(self), "model"))

    def make_memory(self) -> RingBufferMemory | SQLiteMemory:
        """The memory of this actor's conversation: a `RingBufferMemory` of ``memory_size``
        messages after the system prompt. Override to keep it elsewhere: a `SQLiteMemory`
        survives a restart (read and written through `blocking`)."""
        prompt = self.system_prompt
        return RingBufferMemory(
            self.memory_size, system=SystemMessage(prompt) if prompt is not None else None
        )

    @program
    def execute(self, input: str) -> Generator[Any, Any, str]:
        if not isinstance(input, str):
            raise InvalidArgument(
                f"{type(self).__qualname__} takes what the user says as a str, got {input!r} "
                f"({type(input).__name__})"
            )
        before = (*(yield self.memory.recall()), UserMessage(input))
        talk = run_tools(
            before,
            self.model_name,
            self.registry,
            max_rounds=self.max_rounds,
            stream=self.stream,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )
        result = yield _answered(talk, self)
        yield self.memory.remember(UserMessage(input), *result.messages[len(before) :])
        return cast(str, result.text)


@program
def _answered(body: Program[Any], agent: ChatAgent) -> Generator[Any, Any, Any]:
    """``body`` with its model requests answered by the agent's model, and the token chunks
    that model publishes turned into the agent's chunk events: a handler written as a
    program, so it runs on every interpreter."""
    step = Machine(body).start()
    while True:
        if type(step) is Next:
            effect = step.effect
            replacement: Any
            if isinstance(effect, ModelRequest):
                replacement = _answered(call_model(agent.chat_model, effect), agent)
            elif type(effect) is Emit and type(effect.event) is TokenChunk:
                replacement = agent.chunk(effect.event.text)
            else:
                replacement = effect
            try:
                value = yield replacement
            except GeneratorExit:
                raise
            except BaseException as error:  # a failure or a cancellation, for the body
                step = step.throw(error)
            else:
                step = step.resume(value)
        elif type(step) is Done:
            return step.value
        else:
            raise step.error
