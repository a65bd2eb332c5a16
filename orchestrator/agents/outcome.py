"""Pure: how did one agent run end? From the exit code, the stream it printed, how the
orchestrator ended it (if it did) and the task's state before and after, to an `Outcome`.

Two steps, both pure:
- `read_stream(fmt, stdout, stderr, exit_code, ...)` reads what the agent said about itself
  (Claude stream-json, Codex `exec --json`, Gemini stream-json, or plain text) into `StreamFacts`;
- `classify(facts, ...)` adds what the queue says: the task was closed, notes were added, a new
  blocker appeared. Exit 0 alone is never success (a killed or
  interrupted claude exits 0 without a `result` event), and the task must be closed.

The rules: context exhaustion ( terminal_reason, the "Prompt is
too long" family, failed compaction; a compaction that worked is not a failure), then the
failure signatures of each CLI, checked in a fixed order (`classify`).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from orchestrator.tasks.model import Task

OUTCOME_KINDS = ("success", "context_exhausted", "max_turns", "timeout", "idle_timeout", "error",
                 "blocked_by_new_task", "no_progress", "interrupted")
KILL_KINDS = ("timeout", "idle_timeout", "interrupted")
STREAM_FORMATS = ("claude", "codex", "gemini", "text")


@dataclass(frozen=True)
class Outcome:
    kind: str                          # one of OUTCOME_KINDS
    subclass: str = ""                 # e.g. rate_limit, overloaded, auth, permission, tamper
    retryable: bool = True             # False: escalate at once (auth, tamper)
    digest: str = ""                   # one paragraph for the next attempt and for humans
    exit_code: int | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    critical_errors: tuple[str, ...] = ()
    new_blockers: tuple[str, ...] = ()  # open tasks the agent created/added that now block the task


@dataclass(frozen=True)
class StreamFacts:
    """What the agent's own output says, before looking at the queue."""

    format: str                       # claude | codex | gemini | text
    verdict: str                      # success | context_exhausted | max_turns | timeout | error
    subclass: str = ""                # on a text agent's exit-0 "success": an API failure it printed last
    retryable: bool = True
    detail: str = ""                  # the final text or the error message (one line, short)
    terminal: bool = False            # a terminal event (result / turn.completed|failed) was seen
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None
    compactions: int = 0              # successful compactions (informational)
    permission_denials: int = 0
    context_marker: bool = False      # a free_space / configured context pattern was seen
    critical_errors: tuple[str, ...] = ()
    last_message: str = ""            # the agent's last own words (for the next attempt's digest)


# Context exhaustion in text: Claude's result texts, the raw API 400,
# Codex, OpenAI, Gemini and Aider.
CONTEXT_PATTERNS = (
    r"^prompt is too long",
    r"prompt is too long.*cannot be compacted",
    r"conversation too long\. press esc twice",
    r"input length and `max_tokens` exceed context limit",
    r"prompt is too long: \d+ tokens? > \d+ maximum",
    r"ran out of room in the model's context window",
    r"context_length_exceeded",
    r"exceeds the maximum number of tokens allowed",
    r"has hit a token limit!",
    r"possibly exhausted context window",
)
# An agent wrapper's marker: a wrapper may log `free_space` when the context runs low;
# user patterns (agent.context_patterns) are added to it.
FREE_SPACE_MARKER = r"\bfree_space\b"
# Lines of an agent's stderr (or plain-text output) that are crashes, not warnings.
CRITICAL_PATTERNS = (
    r"Traceback \(most recent call last\)",
    r"^panic: ",
    r"^FATAL\b",
    r"Segmentation fault",
    r"\bout of memory\b",
    r"^thread '.*' panicked at",
)
KILLED_EXITS = (124, 137, 143)


def _ctx(text: str, extra: Sequence[str] = ()) -> bool:
    low = (text or "").lower()
    if any(re.search(p, low, re.MULTILINE) for p in CONTEXT_PATTERNS):
        return True
    return any(re.search(p, text or "", re.MULTILINE | re.IGNORECASE) for p in extra)


def _quotes(text: str, line: str) -> bool:
    """Whether `text` already shows `line`, perhaps cut short by _one_line or re-spaced: its
    first words are enough (a digest that quotes the same output line twice reads as noise)."""
    probe = " ".join(line.split())[:80].rstrip(".!?… ")
    return bool(probe) and probe in " ".join((text or "").split())


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# An agent's stream is untrusted input: what it prints is read within these limits, and every
# field is checked for its shape where it is used (as_map, as_list, as_number, _int), so no line can
# crash the coordinator; a stream with no readable event is a failed run, not a traceback.
MAX_EVENT_CHARS = 16 << 20   # the runner keeps stdout lines whole up to this size
MAX_EVENT_DEPTH = 64         # agents' events nest about 6 levels deep


def _nesting_ok(value: Any) -> bool:
    """At most MAX_EVENT_DEPTH levels of lists and objects (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_EVENT_DEPTH:
                return False
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return True


def load_json(text: str) -> Any:
    """One JSON value within the size and depth limits; ValueError when it is not one."""
    if len(text) > MAX_EVENT_CHARS:
        raise ValueError(f"longer than {MAX_EVENT_CHARS} characters")
    try:
        value = json.loads(text)
    except RecursionError:  # the C parser's own stack guard, on thousands of open brackets
        raise ValueError(f"nested more than {MAX_EVENT_DEPTH} levels deep") from None
    brackets = text.count("[") + text.count("{")
    if brackets > MAX_EVENT_DEPTH and not _nesting_ok(value):
        raise ValueError(f"nested more than {MAX_EVENT_DEPTH} levels deep")
    return value


def load_event(line: str) -> dict[str, Any] | None:
    """One stream line as a JSON object, or None (plain text, a truncated line, a line too long
    or too deep, a JSON value that is not an object)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = load_json(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def maps_of(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in as_list(value) if isinstance(v, Mapping)]


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL stream; other lines (a truncated last line of a killed
    process, plain text, a line over the limits) are skipped. `claude --output-format json
    --verbose` prints one array, accepted too."""
    text = stdout.strip()
    if text.startswith("["):
        try:
            data = load_json(text)
        except ValueError:
            data = None
        if isinstance(data, list):
            return [e for e in data if isinstance(e, dict)]
    return [e for e in map(load_event, stdout.splitlines()) if e is not None]


def detect_format(event: Mapping[str, Any] | None) -> str:
    """Which agent printed this JSON event: claude, codex, gemini, or text (not a known stream)."""
    if not event:
        return "text"
    kind = event.get("type")
    if not isinstance(kind, str):
        return "text"
    if kind.startswith(("thread.", "turn.", "item.")):
        return "codex"
    if "session_id" in event and kind in ("system", "assistant", "user", "result", "stream_event",
                                          "rate_limit_event"):
        return "claude"
    if "timestamp" in event and kind in ("init", "message", "tool_use", "tool_result", "error",
                                         "result"):
        return "gemini"
    return "text"


def sniff_format(stdout: str) -> str:
    """The stream format of an agent's stdout (for the `command` profile's `stream: auto`)."""
    return _sniff(parse_events(stdout))


def _sniff(events: Sequence[Mapping[str, Any]]) -> str:
    return next((f for f in map(detect_format, events[:5]) if f != "text"), "text")


def _api_error_subclass(status: Any, err: Any, text: str) -> tuple[str, bool]:
    """(subclass, retryable) of an API failure, from its status, error type or text."""
    low = (text or "").lower()
    if status == 429 or err == "rate_limit" or "request rejected (429)" in low \
            or "you've hit your" in low or "usage limit reached" in low \
            or "429 too many requests" in low or "rate limit" in low:
        return "rate_limit", True
    if status == 529 or err == "overloaded" or "overloaded" in low or "repeated 529" in low:
        return "overloaded", True
    if status in (401, 403) or err in ("authentication_failed", "oauth_org_not_allowed",
                                       "account_on_hold", "verification_required") \
            or "invalid api key" in low or "not logged in" in low or "please run /login" in low \
            or "401 unauthorized" in low or "oauth token" in low:
        return "auth", False
    if err == "billing_error" or "credit balance is too low" in low:
        return "billing", False
    if err == "model_not_found":
        return "model_not_found", False
    if (isinstance(status, int) and status >= 500) or err == "server_error" \
            or "request timed out" in low or "stream disconnected" in low:
        return "server", True
    return "api", True


def _critical(stderr: str) -> tuple[str, ...]:
    found = []
    for line in (stderr or "").splitlines():
        if any(re.search(p, line) for p in CRITICAL_PATTERNS):
            found.append(_one_line(line, 200))
    return tuple(dict.fromkeys(found))[:10]


_MAX_NUMBER = 10 ** 15  # more tokens or dollars than any run: a number past it is not believed


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) and abs(number) <= _MAX_NUMBER else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if abs(value) <= _MAX_NUMBER else None


def _bounded(value: int) -> int | None:
    return value if abs(value) <= _MAX_NUMBER else None


def _claude_usage(result: Mapping[str, Any]) -> tuple[float | None, int | None, int | None]:
    cost = as_number(result.get("total_cost_usd"))
    if cost is None:
        cost = as_number(result.get("cost_usd"))  # 1.0.x name
    model_usage = result.get("modelUsage")
    if isinstance(model_usage, Mapping) and model_usage:
        tin = tout = 0
        for m in model_usage.values():
            if isinstance(m, Mapping):
                tin += sum(_int(m.get(k)) or 0 for k in ("inputTokens", "cacheReadInputTokens",
                                                         "cacheCreationInputTokens"))
                tout += _int(m.get("outputTokens")) or 0
        return cost, _bounded(tin), _bounded(tout)
    usage = result.get("usage")
    if isinstance(usage, Mapping):
        tin = sum(_int(usage.get(k)) or 0 for k in ("input_tokens", "cache_read_input_tokens",
                                                    "cache_creation_input_tokens"))
        return cost, _bounded(tin), _int(usage.get("output_tokens"))
    return cost, None, None


def _read_claude(events: list[dict[str, Any]], stderr: str, exit_code: int | None,
                 marker: bool, stdout_lines: int = 0) -> StreamFacts:
    base: dict[str, Any] = dict(
        format="claude", context_marker=marker, critical_errors=_critical(stderr),
        compactions=sum(1 for e in events if e.get("type") == "system"
                        and e.get("subtype") == "compact_boundary"))
    results = [e for e in events if e.get("type") == "result"]
    if not results:
        if exit_code in KILLED_EXITS or (exit_code is not None and exit_code < 0):
            return StreamFacts(verdict="timeout", subclass="killed",
                               detail=f"killed from outside (exit {exit_code}); no result event", **base)
        if "requires --verbose" in stderr or "cannot be used with root/sudo" in stderr:
            return StreamFacts(verdict="error", subclass="cli_usage", retryable=False,
                               detail=_one_line(stderr), **base)
        interrupted = any(e.get("type") == "user" and "[Request interrupted by user]"
                          in json.dumps(e.get("message", {})) for e in events)
        if not events and stdout_lines:
            return StreamFacts(verdict="error", subclass="unreadable_transcript",
                               detail=f"no readable event in {stdout_lines} line(s) of output "
                                      f"(exit {exit_code})", **base)
        if interrupted:
            return StreamFacts(verdict="error", subclass="interrupted",
                               detail="interrupted (SIGINT): no result event", **base)
        tail = _one_line(stderr.strip().splitlines()[-1]) if stderr.strip() else ""
        return StreamFacts(verdict="error", subclass="crash",
                           detail=f"no result event (exit {exit_code})" + (f": {tail}" if tail else ""),
                           **base)
    r = results[-1]
    cost, tin, tout = _claude_usage(r)
    base.update(terminal=True, cost_usd=cost, input_tokens=tin, output_tokens=tout,
                num_turns=_int(r.get("num_turns")),
                permission_denials=len(as_list(r.get("permission_denials"))))
    sub, reason = str(r.get("subtype") or ""), str(r.get("terminal_reason") or "")
    text: str = r["result"] if isinstance(r.get("result"), str) else ""
    errors = " | ".join(str(x) for x in as_list(r.get("errors")))
    if sub == "error_max_turns" or reason == "max_turns":
        return StreamFacts(verdict="max_turns", detail=_one_line(errors or text or "max turns"), **base)
    if sub == "error_max_budget_usd" or reason == "budget_exhausted":
        return StreamFacts(verdict="error", subclass="budget", retryable=False,
                           detail=_one_line(errors or "budget exhausted"), **base)
    compact_failed = any(e.get("type") == "system" and e.get("subtype") == "status"
                         and e.get("compact_result") == "failed" for e in events)
    if reason in ("prompt_too_long", "blocking_limit") or \
            (r.get("is_error") and (_ctx(text) or _ctx(errors) or compact_failed)):
        return StreamFacts(verdict="context_exhausted", subclass=_one_line(str(reason or ""), 60),
                           detail=_one_line(text or errors or "prompt too long"), **base)
    if r.get("is_error") or sub != "success":
        last: Mapping[str, Any] = next((e for e in reversed(events)
                                        if e.get("type") == "assistant" and e.get("error")), {})
        status = r.get("api_error_status", last.get("api_error_status"))
        subc, retry = _api_error_subclass(status, last.get("error"), f"{text} {errors}")
        if sub == "error_during_execution" and subc == "api" and status is None:
            subc = "execution"
        return StreamFacts(verdict="error", subclass=subc, retryable=retry,
                           detail=_one_line(text or errors or str(sub)), **base)
    if not text.strip() and exit_code == 0:
        # 2.1.83 regression (anthropics/claude-code#38769): an empty result with exit 0;
        # trust it only together with the task's state, which `classify` checks.
        return StreamFacts(verdict="success", detail="(empty result text)", **base)
    return StreamFacts(verdict="success", detail=_one_line(text), **base)


def _read_codex(events: list[dict[str, Any]], stderr: str, exit_code: int | None,
                marker: bool, stdout_lines: int = 0) -> StreamFacts:
    base: dict[str, Any] = dict(format="codex", context_marker=marker,
                                critical_errors=_critical(stderr))
    failed = [e for e in events if e.get("type") == "turn.failed"]
    done = [e for e in events if e.get("type") == "turn.completed"]
    tin = tout = None
    if done:
        tin = _bounded(sum(_int(as_map(e.get("usage")).get("input_tokens")) or 0 for e in done))
        tout = _bounded(sum(_int(as_map(e.get("usage")).get("output_tokens")) or 0 for e in done))
    base.update(input_tokens=tin, output_tokens=tout, num_turns=len(done) + len(failed) or None,
                terminal=bool(done or failed))
    if done and not failed:
        msg = next((str(as_map(e.get("item")).get("text", "")) for e in reversed(events)
                    if e.get("type") == "item.completed"
                    and as_map(e.get("item")).get("type") == "agent_message"), "")
        return StreamFacts(verdict="success", detail=_one_line(msg), **base)
    if failed:
        msg = str(as_map(failed[-1].get("error")).get("message", ""))
    else:
        msg = next((str(e.get("message", "")) for e in reversed(events) if e.get("type") == "error"), "")
        if exit_code in KILLED_EXITS or (exit_code is not None and exit_code < 0):
            return StreamFacts(verdict="timeout", subclass="killed",
                               detail=f"killed from outside (exit {exit_code})", **base)
        if not events and stdout_lines:
            return StreamFacts(verdict="error", subclass="unreadable_transcript",
                               detail=f"no readable event in {stdout_lines} line(s) of output "
                                      f"(exit {exit_code})", **base)
    if _ctx(msg):
        return StreamFacts(verdict="context_exhausted", detail=_one_line(msg), **base)
    subc, retry = _api_error_subclass(None, None, f"{msg} {stderr}")
    if not failed:
        subc = "crash" if subc == "api" else subc
    return StreamFacts(verdict="error", subclass=subc, retryable=retry,
                       detail=_one_line(msg or f"no turn.completed (exit {exit_code})"), **base)


# gemini-cli exit codes (docs/cli/headless.md)
GEMINI_EXITS = {41: ("auth", False), 42: ("input", False), 44: ("sandbox", False),
                52: ("config", False), 54: ("tool", True), 130: ("interrupted", True)}


def _read_gemini(events: list[dict[str, Any]], stderr: str, exit_code: int | None,
                 marker: bool, stdout_lines: int = 0) -> StreamFacts:
    base: dict[str, Any] = dict(format="gemini", context_marker=marker,
                                critical_errors=_critical(stderr))
    res = next((e for e in reversed(events) if e.get("type") == "result"), None)
    if res is not None:
        stats = as_map(res.get("stats"))
        base.update(terminal=True, input_tokens=_int(stats.get("input_tokens")),
                    output_tokens=_int(stats.get("output_tokens")))
    if res and res.get("status") == "success":
        return StreamFacts(verdict="success", **base)
    if res is None and not events and stdout_lines and exit_code not in KILLED_EXITS \
            and not (exit_code is not None and exit_code < 0):
        return StreamFacts(verdict="error", subclass="unreadable_transcript",
                           detail=f"no readable event in {stdout_lines} line(s) of output "
                                  f"(exit {exit_code})", **base)
    err = as_map((res or {}).get("error"))
    msg = f"{err.get('message', '')} {stderr}".strip()
    if err.get("type") == "FatalTurnLimitedError" or exit_code == 53:
        return StreamFacts(verdict="max_turns", detail=_one_line(msg), **base)
    if _ctx(msg):
        return StreamFacts(verdict="context_exhausted", detail=_one_line(msg), **base)
    if res is None and (exit_code in KILLED_EXITS or (exit_code is not None and exit_code < 0)):
        return StreamFacts(verdict="timeout", subclass="killed", detail=f"exit {exit_code}", **base)
    if exit_code in GEMINI_EXITS:
        subc, retry = GEMINI_EXITS[exit_code]
        return StreamFacts(verdict="error", subclass=subc, retryable=retry, detail=_one_line(msg), **base)
    subc, retry = _api_error_subclass(None, None, msg)
    return StreamFacts(verdict="error", subclass=subc if res else "crash", retryable=retry,
                       detail=_one_line(msg or f"no result event (exit {exit_code})"), **base)


_TEXT_TAIL = 20  # last lines of a plain-text agent's stdout and stderr searched for an API failure


def _read_text(stdout: str, stderr: str, exit_code: int | None, marker: bool,
               extra: Sequence[str]) -> StreamFacts:
    """A plain-text agent (aider, a team's script): only the exit code and signatures."""
    blob = f"{stdout}\n{stderr}"
    # crashes only from stderr: stdout may quote failing test output the agent was fixing
    base: dict[str, Any] = dict(format="text", context_marker=marker,
                                critical_errors=_critical(stderr))
    last = next((ln for ln in reversed(blob.strip().splitlines()) if ln.strip()), "")
    if _ctx(blob):
        return StreamFacts(verdict="context_exhausted", detail=_one_line(last), **base)
    if any(re.search(p, blob, re.MULTILINE | re.IGNORECASE) for p in extra):
        return StreamFacts(verdict="context_exhausted", subclass="marker", detail=_one_line(last), **base)
    if exit_code == 0:
        # what the agent said last (stdout), not a warning it left on stderr
        said = next((ln for ln in reversed(stdout.strip().splitlines()) if ln.strip()), last)
        # aider and many scripts exit 0 even when the LLM call failed: an API
        # failure at the end of the output is kept, and counts if the task was left open
        tail = "\n".join([*stdout.strip().splitlines()[-_TEXT_TAIL:], *stderr.strip().splitlines()[-_TEXT_TAIL:]])
        subc, retry = _api_error_subclass(None, None, tail)
        if subc == "api":
            subc, retry = "", True
        return StreamFacts(verdict="success", subclass=subc, retryable=retry, detail=_one_line(said), **base)
    if exit_code in KILLED_EXITS or (exit_code is not None and exit_code < 0):
        return StreamFacts(verdict="timeout", subclass="killed",
                           detail=f"killed from outside (exit {exit_code})", **base)
    if re.search(r"max(imum)? (session )?turns", blob, re.IGNORECASE):
        return StreamFacts(verdict="max_turns", detail=_one_line(last), **base)
    subc, retry = _api_error_subclass(None, None, blob)
    if subc == "api":
        subc = "exit_code"
    return StreamFacts(verdict="error", subclass=subc, retryable=retry,
                       detail=_one_line(f"exit {exit_code}: {last}"), **base)


def _marker_text(fmt: str, events: list[dict[str, Any]], stdout: str, stderr: str) -> str:
    """Where context markers are looked for: never inside the files an agent read (a tool
    result mentioning `free_space` is not the agent running out of context), only in the
    agent's own messages, its final result, non-JSON lines and stderr."""
    if fmt == "text":
        return f"{stdout}\n{stderr}"
    parts = [stderr]
    parts += [ln for ln in stdout.splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
    for e in events:
        kind = e.get("type")
        if kind == "result":
            parts.append(str(e.get("result") or ""))
            parts += [str(x) for x in as_list(e.get("errors"))]
            parts.append(str(as_map(e.get("error")).get("message", "")))
        elif kind == "assistant":
            for block in maps_of(as_map(e.get("message")).get("content")):
                if block.get("type") == "text":
                    parts.append(str(block.get("text", "")))
        elif kind == "system":
            parts.append(str(e.get("message") or ""))
        elif kind in ("error", "turn.failed"):
            parts.append(json.dumps(e))
        elif kind == "item.completed" and as_map(e.get("item")).get("type") == "agent_message":
            parts.append(str(as_map(e.get("item")).get("text", "")))
        elif kind == "message" and e.get("role") == "assistant":
            parts.append(str(e.get("content", "")))
    return "\n".join(parts)


def _last_message(fmt: str, events: list[dict[str, Any]], stdout: str) -> str:
    for e in reversed(events):
        kind = e.get("type")
        if fmt == "claude" and kind == "assistant" and not e.get("parent_tool_use_id") \
                and as_map(e.get("message")).get("model") != "<synthetic>":
            texts = [str(b.get("text", "")) for b in maps_of(as_map(e.get("message")).get("content"))
                     if b.get("type") == "text"]
            if any(t.strip() for t in texts):
                return _one_line(" ".join(texts), 400)
        elif fmt == "codex" and kind == "item.completed" \
                and as_map(e.get("item")).get("type") == "agent_message":
            return _one_line(str(as_map(e.get("item")).get("text", "")), 400)
        elif fmt == "gemini" and kind == "message" and e.get("role") == "assistant":
            return _one_line(str(e.get("content", "")), 400)
    if fmt == "text":
        last = next((ln for ln in reversed(stdout.strip().splitlines()) if ln.strip()), "")
        return _one_line(last, 400)
    return ""


def read_stream(fmt: str, stdout: str, stderr: str = "", exit_code: int | None = None, *,
                context_patterns: Sequence[str] = ()) -> StreamFacts:
    """What the agent's output says. `fmt` is claude, codex, gemini, text or auto (sniffed
    from the first events: the `command` profile may run any of them)."""
    events = parse_events(stdout)
    if fmt == "auto":
        fmt = _sniff(events)
    if fmt not in STREAM_FORMATS:
        raise ValueError(f"unknown stream format {fmt!r}")
    patterns = (FREE_SPACE_MARKER, *context_patterns)
    marker_text = _marker_text(fmt, events, stdout, stderr)
    marker = any(re.search(p, marker_text, re.MULTILINE | re.IGNORECASE) for p in patterns)
    lines = sum(1 for ln in stdout.splitlines() if ln.strip())
    if fmt == "claude":
        facts = _read_claude(events, stderr, exit_code, marker, lines)
    elif fmt == "codex":
        facts = _read_codex(events, stderr, exit_code, marker, lines)
    elif fmt == "gemini":
        facts = _read_gemini(events, stderr, exit_code, marker, lines)
    else:
        facts = _read_text(stdout, stderr, exit_code, marker, patterns)
    return replace(facts, last_message=_last_message(fmt, events, stdout))


def _open(task: Task | None) -> bool:
    return task is not None and task.status not in ("closed", "pinned")


def new_blockers(task_id: str, before: Mapping[str, Task], after: Mapping[str, Task]) -> tuple[str, ...]:
    """Open tasks the task now depends on (blocks / conditional-blocks / waits-for) that it did
    not depend on, or that were closed, before the run."""
    now = after.get(task_id)
    if now is None:
        return ()
    was = before.get(task_id)
    old = {d.depends_on_id for d in (was.dependencies if was else ())
           if d.type in ("blocks", "conditional-blocks", "waits-for")
           and _open(before.get(d.depends_on_id))}
    out = []
    for d in now.dependencies:
        if d.type not in ("blocks", "conditional-blocks", "waits-for"):
            continue
        if d.depends_on_id in old or not _open(after.get(d.depends_on_id)):
            continue
        out.append(d.depends_on_id)
    return tuple(dict.fromkeys(out))


def _new_notes(before: Task | None, after: Task) -> bool:
    """The agent wrote something for its successor: notes changed, or a comment that is
    not one of the orchestrator's own attempt records."""
    if before is None:
        return bool(after.notes.strip())
    if after.notes.strip() != before.notes.strip() and after.notes.strip():
        return True
    old = {c.id for c in before.comments}
    return any(c.id not in old and "<!-- orchestrator:attempt " not in c.text for c in after.comments)


def _fmt_usage(facts: StreamFacts) -> str:
    bits = []
    if facts.num_turns:
        bits.append(f"{facts.num_turns} turns")
    if facts.cost_usd is not None:
        bits.append(f"${facts.cost_usd:.4f}")
    if facts.compactions:
        bits.append(f"{facts.compactions} compaction(s)")
    if facts.permission_denials:
        bits.append(f"{facts.permission_denials} permission denial(s)")
    return f" ({', '.join(bits)})" if bits else ""


ADVICE = {
    "success": "",
    "context_exhausted": "Continue from the handoff notes in a fresh session; read less at once "
                         "(grep, head) and write handoff notes early.",
    "max_turns": "It used all its turns: plan the remaining steps first and work in fewer, larger steps.",
    "timeout": "It ran out of wall-clock time: split the work, avoid long-running commands, "
               "run the narrowest tests.",
    "idle_timeout": "It printed nothing for too long: avoid commands that wait for input or run "
                    "for a long time without output (servers, watchers, interactive prompts).",
    "error": "",
    "blocked_by_new_task": "Wait for the new blocking task(s) to close, then resume.",
    "no_progress": "It exited without closing the task or leaving notes: finish the work and close "
                   "the task, or record why it cannot be done.",
    "interrupted": "The run was stopped by the orchestrator (shutdown); resume where it left off.",
}


def classify(facts: StreamFacts, *, task_id: str, exit_code: int | None, killed: str = "",
             before: Mapping[str, Task] | None = None, after: Mapping[str, Task] | None = None,
             ) -> Outcome:
    """The run's outcome. `killed` is how the orchestrator ended it ("" if it did not):
    timeout, idle_timeout or interrupted. `before`/`after` are the queue before and after the
    run (None: not known, judge by the stream alone, as the fixture tests do)."""
    usage = dict(cost_usd=facts.cost_usd, input_tokens=facts.input_tokens,
                 output_tokens=facts.output_tokens, exit_code=exit_code,
                 critical_errors=facts.critical_errors)
    judge_queue = after is not None
    task_after = (after or {}).get(task_id)
    task_before = (before or {}).get(task_id)
    closed = task_after is not None and not _open(task_after)

    def out(kind: str, subclass: str = "", retryable: bool = True, what: str = "",
            blockers: tuple[str, ...] = ()) -> Outcome:
        head = f"Attempt ended: {kind}" + (f" ({subclass})" if subclass else "")
        head += _fmt_usage(facts) + "."
        parts = [head]
        if what:
            parts.append(what if what.endswith((".", "!", "?", "…")) else what + ".")
        last = facts.last_message
        if last and not _quotes(what, last) and not _quotes(facts.detail, last):
            parts.append(f"Its last message: {last}" + ("" if last.endswith((".", "!", "?", "…")) else "."))
        if judge_queue and closed and kind != "success":
            parts.append("The task was closed during the run.")
        advice = ADVICE.get(kind, "")
        if kind == "error" and not retryable:
            advice = "A retry will not help: a human must fix the cause (credentials, billing, setup)."
        if advice:
            parts.append(advice)
        if facts.critical_errors:
            parts.append("Errors: " + "; ".join(facts.critical_errors[:3]) + ".")
        return Outcome(kind=kind, subclass=subclass, retryable=retryable, digest=" ".join(parts),
                       new_blockers=blockers, **usage)  # type: ignore[arg-type]

    if killed:
        if killed not in KILL_KINDS:
            raise ValueError(f"unknown kill reason {killed!r}")
        what = {"timeout": "The orchestrator stopped it at the wall-clock limit",
                "idle_timeout": "The orchestrator stopped it after a stretch with no output",
                "interrupted": "The orchestrator stopped it"}[killed]
        if facts.detail and facts.terminal:
            what += f"; last result: {facts.detail}"
        return out(killed, "", True, what)

    if judge_queue and task_after is None:
        return out("error", "task_missing", False, f"Task {task_id} is gone from the queue after the run")

    stream_ok = facts.verdict == "success" and exit_code == 0
    if stream_ok and (closed or not judge_queue):
        if judge_queue and facts.critical_errors:
            return out("error", "critical", True, "The task was closed but the agent's log shows "
                       "critical errors")
        return Outcome(kind="success", digest=f"Success{_fmt_usage(facts)}: {facts.detail}".rstrip(": "),
                       **usage)  # type: ignore[arg-type]

    blockers = new_blockers(task_id, before or {}, after or {}) if judge_queue and not closed else ()
    if blockers:
        return out("blocked_by_new_task", "", True,
                   f"The task now depends on new open task(s) {', '.join(blockers)}", blockers)

    if facts.verdict != "success":
        # the free_space marker / agent.context_patterns explain an otherwise unexplained failure
        if facts.verdict == "error" and facts.context_marker and \
                facts.subclass in ("crash", "exit_code", "api", "execution"):
            return out("context_exhausted", "marker", True, facts.detail)
        return out(facts.verdict, facts.subclass, facts.retryable, facts.detail)

    # the stream says success, but the exit code or the task disagree
    if exit_code != 0:
        return out("error", "exit_code", True, f"Exited {exit_code} after reporting success: {facts.detail}")
    if facts.subclass:  # a plain-text agent that exited 0 after an API failure (auth, rate limit)
        return out("error", facts.subclass, facts.retryable,
                   f"Exit 0 but the output ends with an API failure and the task is still open: {facts.detail}")
    if facts.context_marker:
        return out("context_exhausted", "marker", True,
                   "The log shows the context running out (free_space or a configured pattern)")
    if _new_notes(task_before, task_after):  # type: ignore[arg-type]
        return out("context_exhausted", "handoff", True,
                   "It left handoff notes and exited without closing the task")
    return out("no_progress", "", True, f"Exit 0 but the task is still {task_after.status}"  # type: ignore[union-attr]
               + (f"; last message: {facts.detail}" if facts.detail else ""))


def json_field(data: Mapping[str, Any], key: str, kind: str, default: Any) -> Any:
    """data[key] checked against `kind` (what classify and run_to_dict write); ValueError
    naming the key otherwise."""
    value = data.get(key, default)
    ok = {
        "str": lambda v: isinstance(v, str) and len(v) <= 100_000,
        "bool": lambda v: isinstance(v, bool),
        "int?": lambda v: v is None or (_int(v) is not None),
        "number?": lambda v: v is None or as_number(v) is not None,
        "number": lambda v: as_number(v) is not None,
        "strings": lambda v: isinstance(v, (list, tuple)) and len(v) <= 1000
        and all(isinstance(x, str) and len(x) <= 10_000 for x in v),
    }[kind]
    if not ok(value):
        shown = json.dumps(value)[:60] if isinstance(value, (str, int, float, bool, type(None))) \
            else f"a JSON {type(value).__name__}"
        what = {"str": "a string", "bool": "true or false", "int?": "an integer or null",
                "number?": "a number or null", "number": "a number",
                "strings": "a list of strings"}[kind]
        raise ValueError(f"{key} must be {what}, got {shown}")
    return value


def outcome_from_dict(data: Any) -> Outcome:
    """Read back an `Outcome` written as JSON (outcome.json). Anyone who can write the log
    folder can write that file: a value of the wrong shape is a ValueError naming its key
    (as `outcome.<key>`), never a half-built Outcome."""
    if not isinstance(data, Mapping):
        raise ValueError("outcome must be a JSON object")
    try:
        kind = json_field(data, "kind", "str", None)
        if kind not in OUTCOME_KINDS:
            raise ValueError(f"kind must be one of {', '.join(OUTCOME_KINDS)}, got {json.dumps(kind)[:60]}")
        return Outcome(
            kind=kind, subclass=json_field(data, "subclass", "str", ""),
            retryable=json_field(data, "retryable", "bool", True),
            digest=json_field(data, "digest", "str", ""),
            exit_code=json_field(data, "exit_code", "int?", None),
            cost_usd=json_field(data, "cost_usd", "number?", None),
            input_tokens=json_field(data, "input_tokens", "int?", None),
            output_tokens=json_field(data, "output_tokens", "int?", None),
            critical_errors=tuple(json_field(data, "critical_errors", "strings", ())),
            new_blockers=tuple(json_field(data, "new_blockers", "strings", ())),
        )
    except ValueError as e:
        raise ValueError(f"outcome.{e}") from None
