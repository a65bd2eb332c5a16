"""A scripted Anthropic Messages API on loopback, for running the real Claude Code CLI with no
model (after reference mocks/anthropic_mock_server.py). Main-loop requests (those with tools)
follow the server's `scenario`; side requests (titles, summaries) get a short "ok".

Scenarios: success (a Bash tool call that closes the task with $ORCHESTRATOR_TASK_CMD, then a
final text), max_turns (a tool call every turn), and the reference's error shapes: ptl (400
prompt is too long), overloaded (529), auth (401).
"""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLOSE_COMMAND = '$ORCHESTRATOR_TASK_CMD close "$ORCHESTRATOR_TASK_ID" --reason "closed by claude"'
ERRORS = {
    "ptl": (400, "invalid_request_error", "prompt is too long: 215443 tokens > 200000 maximum"),
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "auth": (401, "authentication_error", "invalid x-api-key"),
}


def _events(model: str, blocks: list[dict[str, Any]], stop_reason: str) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = [{"type": "message_start", "message": {
        "id": "msg_mock" + uuid.uuid4().hex[:20], "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": 1}}}]
    for i, b in enumerate(blocks):
        if b["type"] == "text":
            evs.append({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}})
            evs.append({"type": "content_block_delta", "index": i,
                        "delta": {"type": "text_delta", "text": b["text"]}})
        else:
            evs.append({"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})
            evs.append({"type": "content_block_delta", "index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(b["input"])}})
        evs.append({"type": "content_block_stop", "index": i})
    evs.append({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 60}})
    evs.append({"type": "message_stop"})
    return evs


class MockAnthropic:
    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.requests: list[dict[str, Any]] = []
        self.main_turns = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> MockAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, body: dict[str, Any]) -> tuple[int, Any]:
        """(status, JSON error body) or (200, SSE events)."""
        model = str(body.get("model", "claude-opus-4-6"))
        if not body.get("tools"):
            return 200, _events(model, [{"type": "text", "text": "ok"}], "end_turn")
        with self._lock:
            self.main_turns += 1
            turn = self.main_turns
        if self.scenario in ERRORS:
            status, etype, msg = ERRORS[self.scenario]
            return status, {"type": "error", "error": {"type": etype, "message": msg}}
        if self.scenario == "max_turns" or (self.scenario == "success" and turn == 1):
            command = CLOSE_COMMAND if self.scenario == "success" else f"echo step {turn}"
            return 200, _events(model, [{"type": "tool_use", "id": f"toolu_mock{turn:02d}", "name": "Bash",
                                         "input": {"command": command, "description": "Run"}}], "tool_use")
        return 200, _events(model, [{"type": "text", "text": "Closed the task."}], "end_turn")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("request-id", "req_mock" + uuid.uuid4().hex[:16])
                self.send_header("content-length", str(len(data)))
                self.send_header("connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(404, "application/json", b"{}")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                mock.requests.append({"path": self.path, "body": body})
                if "/count_tokens" in self.path:
                    return self._send(200, "application/json", b'{"input_tokens": 1234}')
                if "/v1/messages" not in self.path:
                    return self._send(404, "application/json", b"{}")
                status, reply = mock._reply(body)
                if status != 200:
                    return self._send(status, "application/json", json.dumps(reply).encode())
                sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in reply)
                self._send(200, "text/event-stream", sse.encode())

        return Handler
