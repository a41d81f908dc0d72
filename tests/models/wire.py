"""A local HTTP server that speaks the providers' wire formats, for the provider tests.

Each test scripts the responses (`Reply`, in order): a JSON body, or server-sent events sent
in HTTP/1.1 chunked encoding, each event a chunk, with delays and an optional drop (the
connection closed without the last chunk, as a dropped stream is). The server listens on
127.0.0.1 on a free port, in a thread, and records every request it got.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted response. ``events`` (SSE) makes it a stream; ``body`` a JSON body (a
    str is sent as is, malformed or not). ``first_delay`` waits before the first event;
    ``drop_after`` closes the connection after that many events."""

    status: int = 200
    body: Any = None
    events: list[tuple[str | None, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    first_delay: float = 0.0
    drop_after: int | None = None


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                server.requests.append(
                    Seen(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw)
                    )
                )
                reply = (
                    server.replies.popleft()
                    if server.replies
                    else Reply(500, {"error": "unscripted"})
                )
                if reply.events is None:
                    self._json(reply)
                else:
                    self._stream(reply)

            def _json(self, reply: Reply) -> None:
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = payload.encode()
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.flush()
                if reply.first_delay:
                    time.sleep(reply.first_delay)
                for sent, (event, data) in enumerate(reply.events or []):
                    if reply.drop_after is not None and sent >= reply.drop_after:
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    text = data if isinstance(data, str) else json.dumps(data)
                    frame = (f"event: {event}\n" if event else "") + f"data: {text}\n\n"
                    encoded = frame.encode()
                    self.wfile.write(f"{len(encoded):x}\r\n".encode() + encoded + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hung up on a dropped or timed-out stream: expected

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# -- OpenAI Chat Completions -------------------------------------------------------------------


def openai_completion(
    text: str | None = "", *, tool_calls: list[dict[str, Any]] | None = None, finish: str = "stop"
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def openai_stream(*pieces: str, finish: str = "stop") -> list[tuple[str | None, Any]]:
    events: list[tuple[str | None, Any]] = [
        (None, openai_chunk({"role": "assistant", "content": ""}))
    ]
    events += [(None, openai_chunk({"content": piece})) for piece in pieces]
    events.append((None, openai_chunk({}, finish)))
    usage = openai_chunk({})
    usage["choices"] = []
    usage["usage"] = {
        "prompt_tokens": 7,
        "completion_tokens": len(pieces),
        "total_tokens": 7 + len(pieces),
    }
    events.append((None, usage))
    events.append((None, "[DONE]"))
    return events


def openai_error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# -- Anthropic Messages ------------------------------------------------------------------------


def anthropic_message(
    text: str = "", *, tool_uses: list[dict[str, Any]] | None = None, stop: str = "end_turn"
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [{"type": "tool_use", **use} for use in tool_uses or []]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 4},
    }


def _event(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **data}


def anthropic_stream(
    *pieces: str, tool_json: list[str] | None = None
) -> list[tuple[str | None, Any]]:
    start = anthropic_message()
    start["stop_reason"] = None
    start["usage"] = {"input_tokens": 9, "output_tokens": 1}
    events: list[tuple[str | None, Any]] = [
        _event("message_start", message=start),
        ("ping", {"type": "ping"}),
    ]
    events.append(
        _event("content_block_start", index=0, content_block={"type": "text", "text": ""})
    )
    events += [
        _event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
        for piece in pieces
    ]
    events.append(_event("content_block_stop", index=0))
    stop = "end_turn"
    if tool_json is not None:
        stop = "tool_use"
        events.append(
            _event(
                "content_block_start",
                index=1,
                content_block={"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}},
            )
        )
        events += [
            _event(
                "content_block_delta",
                index=1,
                delta={"type": "input_json_delta", "partial_json": part},
            )
            for part in tool_json
        ]
        events.append(_event("content_block_stop", index=1))
    events.append(
        _event(
            "message_delta",
            delta={"stop_reason": stop, "stop_sequence": None},
            usage={"output_tokens": 5},
        )
    )
    events.append(_event("message_stop"))
    return events


def anthropic_error(message: str, kind: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
