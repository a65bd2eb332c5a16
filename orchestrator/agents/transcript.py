"""verbose.jsonl -> a readable transcript (what `logs show` prints).

Renders Claude stream-json, Codex `exec --json` and Gemini stream-json events one by one, so the
runner can write `output.log` while the agent runs and `orchestrator logs show --follow` can tail
a running agent. Lines that are not JSON are shown as they are.

Every line is untrusted: it is read within outcome.load_event's size and depth limits, and each
field is checked for its shape where it is read (a `message` that is a string, `content` that
is a number), so no line of any stream can stop the runner or `logs show`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from orchestrator.agents.outcome import as_list, as_map, as_number, detect_format, load_event, maps_of

_TEXT = 2000      # characters of one assistant message
_TOOL_OUT = 800   # characters of one tool result


def _clip(text: Any, limit: int) -> str:
    s = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)[: limit + 1000]
    s = s.rstrip()
    return s if len(s) <= limit else s[:limit] + f" [... {len(s) - limit} more]"


def _indent(text: str, prefix: str = "    ") -> list[str]:
    return [prefix + line for line in text.splitlines()] or [prefix]


def _tool_input(name: str, data: Any) -> str:
    if isinstance(data, Mapping):
        for key in ("command", "file_path", "path", "pattern", "url", "query", "description"):
            if isinstance(data.get(key), str):
                return f"{name}: {_clip(data[key], 300)}"
    return f"{name} {_clip(data, 300)}"


def _tool_result_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(_clip(c.get("text", ""), _TOOL_OUT) if isinstance(c, Mapping) else _clip(c, _TOOL_OUT)
                         for c in content[:50])
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def _claude(e: Mapping[str, Any]) -> list[str]:
    kind, sub = e.get("type"), e.get("subtype")
    if kind == "system":
        if sub == "init":
            return [_clip(f"[init] model={e.get('model')} cwd={e.get('cwd')} tools={len(as_list(e.get('tools')))} "
                          f"permission={e.get('permissionMode')} version={e.get('claude_code_version', '?')}", 500)]
        if sub == "api_retry":
            return [_clip(f"[api retry {e.get('attempt')}/{e.get('max_retries')}] {e.get('error')} "
                          f"(status {e.get('error_status')}), waiting {e.get('retry_delay_ms')} ms", 500)]
        if sub == "status":
            if e.get("compact_result") == "failed":
                return [_clip(f"[compaction failed: {e.get('compact_error', '')}]", 500)]
            if e.get("status") == "compacting":
                return ["[compacting context]"]
            return []
        if sub == "compact_boundary":
            meta = as_map(e.get("compact_metadata"))
            return [_clip(f"[context compacted ({meta.get('trigger', '?')}): {meta.get('pre_tokens', '?')} "
                          "tokens before]", 500)]
        if sub == "permission_denied":
            return [_clip(f"[permission denied] {e.get('tool_name')}: {_clip(e.get('message', ''), 300)}", 500)]
        if sub in ("thinking_tokens", "session_state_changed"):
            return []
        return [_clip(f"[system/{sub}]", 200)]
    if kind == "assistant":
        msg = as_map(e.get("message"))
        prefix = "  (subagent) " if e.get("parent_tool_use_id") else ""
        out: list[str] = []
        if e.get("error"):
            out.append(_clip(f"{prefix}[api error: {e.get('error')}, status {e.get('api_error_status')}]", 500))
        for block in maps_of(msg.get("content")):
            btype = block.get("type")
            if btype == "text":
                out += _indent(_clip(block.get("text", ""), _TEXT), f"{prefix}assistant: ")
            elif btype == "thinking" and str(block.get("thinking", "")).strip():
                out += _indent(_clip(block.get("thinking", ""), 600), f"{prefix}thinking: ")
            elif btype == "tool_use":
                out.append(f"{prefix}-> {_tool_input(str(block.get('name')), block.get('input'))}")
        return out
    if kind == "user":
        msg = as_map(e.get("message"))
        content = msg.get("content")
        if isinstance(content, str):
            return _indent(_clip(content, _TEXT), "user: ")
        out = []
        for block in maps_of(content):
            if block.get("type") == "tool_result":
                mark = "<- (error) " if block.get("is_error") else "<- "
                text = _clip(_tool_result_text(block.get("content")), _TOOL_OUT)
                lines = text.splitlines() or [""]
                out.append(mark + lines[0])
                out += _indent("\n".join(lines[1:])) if len(lines) > 1 else []
            elif block.get("type") == "text":
                out += _indent(_clip(block.get("text", ""), _TEXT), "user: ")
        return out
    if kind == "result":
        cost = as_number(e.get("total_cost_usd"))
        head = (f"[result] {e.get('subtype')}{' (error)' if e.get('is_error') else ''}, "
                f"{e.get('num_turns')} turns, {e.get('duration_ms')} ms"
                + (f", ${cost:.4f}" if cost is not None else "")
                + (f", terminal_reason {e.get('terminal_reason')}" if e.get("terminal_reason") else ""))
        out = [_clip(head, 500)]
        if e.get("result"):
            out += _indent(_clip(e.get("result"), _TEXT))
        for err in as_list(e.get("errors"))[:20]:
            out.append(_clip(f"    error: {err}", 500))
        if as_list(e.get("permission_denials")):
            out.append(f"    {len(e['permission_denials'])} permission denial(s)")
        return out
    if kind == "rate_limit_event":
        info = as_map(e.get("rate_limit_info"))
        return [_clip(f"[rate limit: {info.get('status')}]", 200)]
    if kind == "stream_event":
        return []
    return [_clip(f"[{kind}]", 200)]


def _codex(e: Mapping[str, Any]) -> list[str]:
    return [_clip(line, _TEXT + 200) for line in _codex_lines(e)]


def _codex_lines(e: Mapping[str, Any]) -> list[str]:
    kind = e.get("type")
    if kind == "thread.started":
        return [f"[thread {e.get('thread_id')}]"]
    if kind == "turn.started":
        return ["[turn started]"]
    if kind == "turn.completed":
        u = as_map(e.get("usage"))
        return [f"[turn completed] {u.get('input_tokens')} input / {u.get('output_tokens')} output tokens"]
    if kind == "turn.failed":
        return [f"[turn failed] {as_map(e.get('error')).get('message', '')}"]
    if kind == "error":
        return [f"[error] {e.get('message', '')}"]
    if kind != "item.completed":
        return []
    item = as_map(e.get("item"))
    itype = item.get("type")
    if itype == "agent_message":
        return _indent(_clip(item.get("text", ""), _TEXT), "assistant: ")
    if itype == "reasoning":
        return _indent(_clip(item.get("text", ""), 600), "thinking: ")
    if itype == "command_execution":
        out = [f"-> $ {_clip(item.get('command', ''), 300)} (exit {item.get('exit_code')}, {item.get('status')})"]
        if item.get("aggregated_output"):
            out += _indent(_clip(item["aggregated_output"], _TOOL_OUT))
        return out
    if itype == "file_change":
        changes = ", ".join(f"{c.get('kind')} {c.get('path')}" for c in maps_of(item.get("changes"))[:50])
        return [f"-> files: {changes}"]
    if itype == "error":
        return [f"[warning] {item.get('message', '')}"]
    return [f"[{itype}]"]


def _gemini(e: Mapping[str, Any]) -> list[str]:
    return [_clip(line, _TEXT + 200) for line in _gemini_lines(e)]


def _gemini_lines(e: Mapping[str, Any]) -> list[str]:
    kind = e.get("type")
    if kind == "init":
        return [f"[init] model={e.get('model')}"]
    if kind == "message":
        return _indent(_clip(e.get("content", ""), _TEXT), f"{e.get('role', '?')}: ")
    if kind == "tool_use":
        return [f"-> {_tool_input(str(e.get('tool_name')), e.get('parameters'))}"]
    if kind == "tool_result":
        body = e.get("output") if e.get("status") == "success" else as_map(e.get("error")).get("message", "")
        return [f"<- ({e.get('status')}) {_clip(body or '', _TOOL_OUT)}"]
    if kind == "error":
        return [f"[{e.get('severity', 'error')}] {e.get('message', '')}"]
    if kind == "result":
        stats = as_map(e.get("stats"))
        msg = as_map(e.get("error")).get("message", "")
        return [f"[result] {e.get('status')} {stats.get('input_tokens')} input / "
                f"{stats.get('output_tokens')} output tokens" + (f": {msg}" if msg else "")]
    return [f"[{kind}]"]


RENDERERS = {"claude": _claude, "codex": _codex, "gemini": _gemini}


def render_line(line: str, fmt: str = "auto") -> tuple[list[str], str]:
    """Render one line of the stream; returns (lines, format). A known format sticks: pass the
    returned format back in for the next line."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return [], fmt
    event = load_event(text)
    if event is not None:
        if fmt in ("auto", "text"):
            detected = detect_format(event)
            fmt = detected if detected != "text" else fmt
        renderer = RENDERERS.get(fmt)
        if renderer is not None:
            return renderer(event), fmt
    return [text], fmt


def render(lines: Iterable[str], fmt: str = "auto") -> Iterator[str]:
    """A whole stream, line by line."""
    for line in lines:
        out, fmt = render_line(line, fmt)
        yield from out
