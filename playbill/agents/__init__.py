"""The agent layer on actors: tasks with a lifecycle, streaming, progress events, span links,
runs you can watch and abort, and orchestration as Programs."""

from playbill.agents._agent import AgentActor, is_agent
from playbill.agents._cards import AgentCard, AgentListing, agent_card, find_agents
from playbill.agents._chat import ChatAgent
from playbill.agents._orchestration import (
    ask_agent,
    race_agents,
    sequence_agents,
    stream_agent,
    traverse_agents,
    zip_agents,
)
from playbill.agents._system import AgentRun, AgentSystem, TaskStream
from playbill.agents._values import (
    StreamEvent,
    StreamResult,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskLink,
    TaskResult,
    TaskSpan,
    TaskStatus,
    task_events,
    task_tree,
)

__all__ = [
    "AgentActor",
    "AgentCard",
    "AgentListing",
    "AgentRun",
    "AgentSystem",
    "ChatAgent",
    "StreamEvent",
    "StreamResult",
    "Task",
    "TaskEvent",
    "TaskEventKind",
    "TaskLink",
    "TaskResult",
    "TaskSpan",
    "TaskStatus",
    "TaskStream",
    "agent_card",
    "ask_agent",
    "find_agents",
    "is_agent",
    "race_agents",
    "sequence_agents",
    "stream_agent",
    "task_events",
    "task_tree",
    "traverse_agents",
    "zip_agents",
]
