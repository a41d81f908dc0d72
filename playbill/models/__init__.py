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

from playbill.models._calling import Model, call_model, model_handlers
from playbill.models._combinators import (
    MemoryCache,
    Price,
    ResponseCache,
    UsageMeter,
    is_retryable,
    request_key,
    with_cache,
    with_fallback,
    with_logging,
    with_rate_limit,
    with_retry,
    with_usage,
)
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
from playbill.models._memory import RingBufferMemory
from playbill.models._sqlite import SQLiteCache, SQLiteMemory
from playbill.models._structured import OutputValidationFailed, complete_structured
from playbill.models._testing import Chunks, FunctionModel, ScriptedModel, ScriptExhausted
from playbill.models._tools import (
    ChatResult,
    Tool,
    ToolError,
    ToolRegistry,
    ToolRoundsExceeded,
    run_tools,
    tool,
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
    "ChatResult",
    "Chunks",
    "Complete",
    "Completion",
    "ConnectionFailed",
    "FinishReason",
    "FunctionModel",
    "JsonObject",
    "JsonSchema",
    "MemoryCache",
    "Message",
    "Model",
    "ModelError",
    "ModelRequest",
    "ModelTimedOut",
    "OutputValidationFailed",
    "Overloaded",
    "Price",
    "RateLimited",
    "ResponseCache",
    "ResponseFormat",
    "RingBufferMemory",
    "Role",
    "SQLiteCache",
    "SQLiteMemory",
    "ScriptExhausted",
    "ScriptedModel",
    "StreamComplete",
    "StreamInterrupted",
    "SystemMessage",
    "TokenChunk",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "ToolRoundsExceeded",
    "ToolSpec",
    "Usage",
    "UsageMeter",
    "UserMessage",
    "call_model",
    "complete",
    "complete_structured",
    "is_retryable",
    "model_handlers",
    "request_key",
    "run_tools",
    "stream_complete",
    "tool",
    "with_cache",
    "with_fallback",
    "with_logging",
    "with_rate_limit",
    "with_retry",
    "with_usage",
]
