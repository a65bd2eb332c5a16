"""A scripted Anthropic Messages API on loopback, for driving the real Claude Code CLI in tests.

No model is involved. Each test gives the server a script: one `Reply` per main-loop request (a
request that carries `tools`; the agent's own turns), the last reply repeating once the script
runs out. Side requests without tools (title or topic generation, a compaction summary) get
`side`. Every request is recorded (`ScriptedAnthropicAPI.requests`) so a test can assert what the
CLI sent: the model, `thinking`, `output_config.effort`, `max_tokens`, the API key header, and
the tool results the agent fed back.

Wire format, as the real API (see docs/agents.md and the Messages streaming docs):
- success: `200 text/event-stream`, chunked, `request-id` header, events `message_start`, `ping`,
  then per content block `content_block_start` / `content_block_delta`* / `content_block_stop`,
  then `message_delta` (stop_reason, usage) and `message_stop`; each as `event: T\\ndata: JSON\\n\\n`.
  Tool input arrives as `input_json_delta` fragments, thinking as `thinking_delta` plus
  `signature_delta`.
- error: a JSON body `{"type":"error","error":{"type":...,"message":...},"request_id":...}` with
  the HTTP status (400 `invalid_request_error` "prompt is too long: N tokens > M maximum",
  529 `overloaded_error` "Overloaded", 429 `rate_limit_error` with `retry-after`, 401
  `authentication_error`).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):024d}"


# ----------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a streamed message (status 200) or an API error (status >= 400)."""

    status: int = 200
    blocks: tuple[Mapping[str, Any], ...] = ()
    stop_reason: str = "end_turn"
    input_tokens: int = 1200
    output_tokens: int = 40
    error_type: str = ""
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    hold: bool = False         # answer nothing until the server stops (a hung API)


def text(reply_text: str) -> Reply:
    return Reply(blocks=({"type": "text", "text": reply_text},), stop_reason="end_turn")


def bash(command: str, description: str = "Run a command", *, thinking: str = "",
         preface: str = "") -> Reply:
    """A tool call of the Bash tool, optionally after a thinking block and a line of text."""
    blocks: list[Mapping[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": thinking})
    if preface:
        blocks.append({"type": "text", "text": preface})
    blocks.append({"type": "tool_use", "id": _next_id("toolu_"), "name": "Bash",
                   "input": {"command": command, "description": description}})
    return Reply(blocks=tuple(blocks), stop_reason="tool_use")


def api_error(status: int, error_type: str, message: str, *,
              headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status=status, error_type=error_type, message=message,
                 headers=tuple((headers or {}).items()))


def hang() -> Reply:
    """No answer at all until the server stops: the CLI sits waiting (for timeout/interrupt tests)."""
    return Reply(status=503, error_type="api_error", message="server stopped", hold=True)


def prompt_too_long(tokens: int = 215443, limit: int = 200000) -> Reply:
    return api_error(400, "invalid_request_error", f"prompt is too long: {tokens} tokens > {limit} maximum")


def overloaded() -> Reply:
    return api_error(529, "overloaded_error", "Overloaded")


def rate_limited(retry_after_s: int = 1) -> Reply:
    return api_error(429, "rate_limit_error",
                     "This request would exceed the rate limit for your organization of 30,000 input "
                     "tokens per minute.", headers={"retry-after": str(retry_after_s)})


def unauthorized() -> Reply:
    return api_error(401, "authentication_error", "invalid x-api-key")


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    status: int = 0            # what the server answered

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?")[0].rstrip("/") == "/v1/messages"

    @property
    def is_main(self) -> bool:
        """A main-loop turn of the agent: it offers tools."""
        return self.is_messages and bool(self.body.get("tools"))

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def thinking(self) -> Mapping[str, Any] | None:
        value = self.body.get("thinking")
        return value if isinstance(value, Mapping) else None

    @property
    def effort(self) -> str | None:
        config = self.body.get("output_config")
        return config.get("effort") if isinstance(config, Mapping) else None

    @property
    def max_tokens(self) -> int | None:
        value = self.body.get("max_tokens")
        return value if isinstance(value, int) else None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(t.get("name", "") for t in self.body.get("tools") or () if isinstance(t, Mapping))

    def tool_results(self) -> list[str]:
        """The text of every tool_result in the conversation sent, oldest first."""
        out: list[str] = []
        for message in self.body.get("messages") or ():
            content = message.get("content") if isinstance(message, Mapping) else None
            if not isinstance(content, list):
                continue
            for block in content:
                if isinstance(block, Mapping) and block.get("type") == "tool_result":
                    out.append(_block_text(block.get("content")))
        return out

    def prompt_text(self) -> str:
        """The text of the first user message (the prompt the agent was given)."""
        for message in self.body.get("messages") or ():
            if isinstance(message, Mapping) and message.get("role") == "user":
                return _block_text(message.get("content"))
        return ""


def _block_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_block_text(b.get("text", b.get("content", ""))) if isinstance(b, Mapping)
                         else str(b) for b in content)
    return "" if content is None else str(content)


# ----------------------------------------------------------------------------- the stream


def _sse(event: Mapping[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def message_events(model: str, reply: Reply) -> Iterator[Mapping[str, Any]]:
    """The SSE events of one streamed message, in the real API's order."""
    yield {"type": "message_start", "message": {
        "id": _next_id("msg_"), "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"}}}
    yield {"type": "ping"}
    for index, block in enumerate(reply.blocks):
        kind = block["type"]
        if kind == "text":
            yield {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            words = block["text"].split(" ")
            for i in range(0, len(words), 4):   # a few deltas, as the API streams text
                piece = " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
                yield {"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": piece}}
        elif kind == "thinking":
            yield {"type": "content_block_start", "index": index,
                   "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            yield {"type": "content_block_delta", "index": index,
                   "delta": {"type": "thinking_delta", "thinking": block["thinking"]}}
            yield {"type": "content_block_delta", "index": index,
                   "delta": {"type": "signature_delta", "signature": "ErUBCkYIBRgCIkDscriptedSignature"}}
        elif kind == "tool_use":
            yield {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}
            payload = json.dumps(block["input"])
            cut = len(payload) // 2
            for piece in ("", payload[:cut], payload[cut:]):
                yield {"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}
        else:
            raise ValueError(f"unknown block type {kind!r}")
        yield {"type": "content_block_stop", "index": index}
    yield {"type": "message_delta", "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
           "usage": {"output_tokens": reply.output_tokens}}
    yield {"type": "message_stop"}


# ----------------------------------------------------------------------------- the server


@dataclass
class _State:
    script: tuple[Reply, ...]
    side: Reply
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    requests: list[Request] = field(default_factory=list)
    main_count: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-anthropic/1"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    # --- helpers

    def _record(self, body: Mapping[str, Any], status: int) -> None:
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                          body, status)
        with self.state.lock:
            self.state.requests.append(request)

    def _json(self, status: int, payload: Mapping[str, Any],
              headers: Sequence[tuple[str, str]] = ()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", _next_id("req_"))
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, reply: Reply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", _next_id("req_"))
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in message_events(model, reply):
            data = _sse(event)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _message(self, model: str, reply: Reply) -> None:
        """A non-streaming answer (the CLI streams its turns, but side calls may not)."""
        content = [dict(b) for b in reply.blocks]
        self._json(200, {"id": _next_id("msg_"), "type": "message", "role": "assistant", "model": model,
                         "content": content, "stop_reason": reply.stop_reason, "stop_sequence": None,
                         "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}})

    # --- verbs

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record({}, 404)
        self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/messages/count_tokens":
            self._record(body, 200)
            self._json(200, {"input_tokens": 1234})
            return
        if path != "/v1/messages":
            self._record(body, 404)
            self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}})
            return
        with self.state.lock:
            if body.get("tools"):
                script = self.state.script
                reply = script[min(self.state.main_count, len(script) - 1)]
                self.state.main_count += 1
            else:
                reply = self.state.side
        self._record(body, reply.status)
        if reply.hold:
            self.state.stopping.wait(timeout=120)
        if reply.status >= 400:
            self._json(reply.status, {"type": "error",
                                      "error": {"type": reply.error_type, "message": reply.message},
                                      "request_id": _next_id("req_")}, reply.headers)
        elif body.get("stream"):
            self._stream(str(body.get("model", "")), reply)
        else:
            self._message(str(body.get("model", "")), reply)


class ScriptedAnthropicAPI:
    """`with ScriptedAnthropicAPI([bash("..."), text("done")]) as api:` then point the CLI at `api.url`."""

    def __init__(self, script: Sequence[Reply], *, side: Reply | None = None) -> None:
        if not script:
            raise ValueError("a script needs at least one reply")
        self._state = _State(tuple(script), side or text("ok"))
        handler = type("ScriptedHandler", (_Handler,), {"state": self._state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="scripted-anthropic", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Request]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def main_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_main]

    def start(self) -> ScriptedAnthropicAPI:
        self._thread.start()
        return self

    def wait_for(self, count: int = 1, *, main: bool = True, timeout_s: float = 60) -> None:
        """Block until `count` (main) requests have arrived; AssertionError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while len(self.main_requests if main else self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the API got {len(self.requests)} requests, waited for {count}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> ScriptedAnthropicAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
