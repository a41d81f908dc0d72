"""Models as effects: a model call is a value (`Complete`, `StreamComplete`), so a
conversation is a `Program` that runs under every interpreter, and a provider is a handler.

This package depends on `playbill.effects` only, so the agent layer builds on it.

>>> from playbill.interpreters import stub
>>> from playbill.models import Complete, Completion, complete
>>> answer = {Complete: lambda request: Completion("Paris", model=request.model)}
>>> reply = stub.run(complete(["Capital of France?"], "small"), answer)
>>> reply.text, reply.model
('Paris', 'small')
"""

from playbill.models._effects import (
    Complete,
    ModelRequest,
    StreamComplete,
    complete,
    stream_complete,
)
from playbill.models._errors import (
    ApiKey,
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    ModelError,
    ModelTimedOut,
    Overloaded,
    RateLimited,
    StreamInterrupted,
)
from playbill.models._values import (
    AssistantMessage,
    Completion,
    FinishReason,
    JsonObject,
    JsonSchema,
    Message,
    ResponseFormat,
    Role,
    SystemMessage,
    TokenChunk,
    ToolCall,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
)

__all__ = [
    "ApiKey",
    "AssistantMessage",
    "AuthenticationFailed",
    "BadRequest",
    "Complete",
    "Completion",
    "ConnectionFailed",
    "FinishReason",
    "JsonObject",
    "JsonSchema",
    "Message",
    "ModelError",
    "ModelRequest",
    "ModelTimedOut",
    "Overloaded",
    "RateLimited",
    "ResponseFormat",
    "Role",
    "StreamComplete",
    "StreamInterrupted",
    "SystemMessage",
    "TokenChunk",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Usage",
    "UserMessage",
    "complete",
    "stream_complete",
]
