"""The scripted Anthropic API itself, with a stdlib client (runs even where the real CLI can't)."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest

from support.anthropic_api import ScriptedAnthropicAPI, bash, hang, overloaded, prompt_too_long, rate_limited, text


def post(api: ScriptedAnthropicAPI, body: dict[str, Any], path: str = "/v1/messages?beta=true"
         ) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(api.url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json", "x-api-key": "k-test"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def sse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(lines["data"])
        assert data["type"] == lines["event"]
        out.append((lines["event"], data))
    return out


def assemble(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the message the way an SDK does from the stream."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for kind, ev in events:
        if kind == "message_start":
            message = ev["message"]
        elif kind == "content_block_start":
            message["content"].append(dict(ev["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][ev["index"]], ev["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] += delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[ev["index"]] = partial.get(ev["index"], "") + delta["partial_json"]
        elif kind == "content_block_stop" and ev["index"] in partial:
            message["content"][ev["index"]]["input"] = json.loads(partial.pop(ev["index"]))
        elif kind == "message_delta":
            message["stop_reason"] = ev["delta"]["stop_reason"]
            message["usage"]["output_tokens"] = ev["usage"]["output_tokens"]
    return message


MAIN = {"model": "claude-opus-5-5", "stream": True, "max_tokens": 128000, "tools": [{"name": "Bash"}],
        "thinking": {"type": "adaptive"}, "output_config": {"effort": "xhigh"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "do it"}]}]}


def test_stream_is_the_api_event_sequence_and_reassembles() -> None:
    with ScriptedAnthropicAPI([bash("orchestrator task close x-1 --reason ok", thinking="plan",
                                    preface="Closing now."), text("done")]) as api:
        status, headers, raw = post(api, MAIN)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert headers["request-id"].startswith("req_")
    events = sse_events(raw)
    kinds = [k for k, _ in events]
    assert kinds[:2] == ["message_start", "ping"] and kinds[-2:] == ["message_delta", "message_stop"]
    message = assemble(events)
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][0]["thinking"] == "plan" and message["content"][0]["signature"]
    assert message["content"][1]["text"] == "Closing now."
    tool = message["content"][2]
    assert tool["name"] == "Bash" and tool["id"].startswith("toolu_")
    assert tool["input"] == {"command": "orchestrator task close x-1 --reason ok",
                             "description": "Run a command"}
    assert message["stop_reason"] == "tool_use"


def test_script_advances_per_main_request_and_repeats_its_last_reply() -> None:
    with ScriptedAnthropicAPI([text("one"), text("two")]) as api:
        said = [assemble(sse_events(post(api, MAIN)[2]))["content"][0]["text"] for _ in range(3)]
        side = assemble(sse_events(post(api, {**MAIN, "tools": []})[2]))["content"][0]["text"]
    assert said == ["one", "two", "two"] and side == "ok"
    assert [r.is_main for r in api.requests] == [True, True, True, False]


def test_requests_are_recorded_with_thinking_and_effort() -> None:
    followup = {**MAIN, "messages": [*MAIN["messages"], {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "closed"}]}]}]}
    with ScriptedAnthropicAPI([text("ok")]) as api:
        post(api, MAIN)
        post(api, followup)
    first, second = api.main_requests
    assert (first.model, first.effort, first.max_tokens) == ("claude-opus-5-5", "xhigh", 128000)
    assert first.thinking == {"type": "adaptive"}
    assert first.headers["x-api-key"] == "k-test" and first.prompt_text() == "do it"
    assert first.tool_results() == [] and second.tool_results() == ["closed"]


@pytest.mark.parametrize("reply, status, etype, message", [
    (prompt_too_long(), 400, "invalid_request_error", "prompt is too long: 215443 tokens > 200000 maximum"),
    (overloaded(), 529, "overloaded_error", "Overloaded"),
    (rate_limited(), 429, "rate_limit_error", "This request would exceed the rate limit"),
])
def test_errors_have_the_api_shape(reply: Any, status: int, etype: str, message: str) -> None:
    with ScriptedAnthropicAPI([reply]) as api:
        got, headers, raw = post(api, MAIN)
    body = json.loads(raw)
    assert got == status and body["type"] == "error"
    assert body["error"]["type"] == etype and body["error"]["message"].startswith(message)
    assert body["request_id"].startswith("req_")
    if status == 429:
        assert headers["retry-after"] == "1"
    assert api.requests[0].status == status


def test_non_streaming_and_count_tokens_and_unknown_paths() -> None:
    with ScriptedAnthropicAPI([text("plain")]) as api:
        status, _, raw = post(api, {**MAIN, "stream": False})
        assert status == 200 and json.loads(raw)["content"] == [{"type": "text", "text": "plain"}]
        status, _, raw = post(api, MAIN, "/v1/messages/count_tokens")
        assert status == 200 and json.loads(raw) == {"input_tokens": 1234}
        status, _, _ = post(api, MAIN, "/v1/other")
        assert status == 404


def test_hang_answers_nothing_until_the_server_stops() -> None:
    api = ScriptedAnthropicAPI([hang()]).start()
    got: list[int] = []
    client = threading.Thread(target=lambda: got.append(post(api, MAIN)[0]))
    client.start()
    api.wait_for(1)
    assert got == []            # still waiting for an answer
    api.stop()
    client.join(timeout=30)
    assert got == [503]
