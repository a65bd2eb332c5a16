"""The outcome classifier: every recorded fixture as its expected.json says, then our own
transcripts for each outcome kind, judged together with the task's state."""
from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.agents.outcome import (
    OUTCOME_KINDS,
    Outcome,
    classify,
    new_blockers,
    outcome_from_dict,
    read_stream,
    sniff_format,
)
from orchestrator.tasks.model import Task, task_from_record
from support.repo import FIXTURES, task_record

AGENT_FIXTURES = FIXTURES / "agents"
EXPECTED = json.loads((AGENT_FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture_is_classified_as_expected(name: str) -> None:
    exp = EXPECTED[name]
    stdout = (AGENT_FIXTURES / name).read_text()
    facts = read_stream(exp["agent"], stdout, "", exp["exit_code"])
    got = classify(facts, task_id="x", exit_code=exp["exit_code"])
    assert got.kind == exp["class"], got
    if "subclass" in exp:
        assert got.subclass == exp["subclass"]
    if "retryable" in exp:
        assert got.retryable is exp["retryable"]
    assert got.digest
    # the command profile sniffs the format: the same verdict without being told the agent
    assert sniff_format(stdout) == exp["agent"]
    auto = classify(read_stream("auto", stdout, "", exp["exit_code"]), task_id="x",
                    exit_code=exp["exit_code"])
    assert (auto.kind, auto.subclass) == (got.kind, got.subclass)


def test_fixture_cost_and_tokens_are_read() -> None:
    facts = read_stream("claude", (AGENT_FIXTURES / "claude-success.jsonl").read_text(), "", 0)
    assert facts.cost_usd == pytest.approx(0.039535)
    assert facts.input_tokens == 17 + 78464 + 1804 and facts.output_tokens == 612
    codex = read_stream("codex", (AGENT_FIXTURES / "codex-success.jsonl").read_text(), "", 0)
    assert (codex.input_tokens, codex.output_tokens, codex.cost_usd) == (48211, 1733, None)
    gemini = read_stream("gemini", (AGENT_FIXTURES / "gemini-turn-limit.jsonl").read_text(), "", 53)
    assert (gemini.input_tokens, gemini.output_tokens) == (88012, 3222)


def test_successful_compaction_is_counted_not_failed() -> None:
    facts = read_stream("claude", (AGENT_FIXTURES / "claude-compacted-then-success.jsonl").read_text(),
                        "", 0)
    assert facts.verdict == "success" and facts.compactions >= 1


def test_killed_fixture_with_orchestrator_kill_reason() -> None:
    stdout = (AGENT_FIXTURES / "claude-killed-timeout.jsonl").read_text()
    got = classify(read_stream("claude", stdout, "", -15), task_id="x", exit_code=-15, killed="timeout")
    assert got.kind == "timeout" and got.retryable


# -- our own transcripts -------------------------------------------------------------------

SID = "0b5e2f3c-0000-4000-8000-000000000001"


def ev(**fields: Any) -> str:
    return json.dumps({**fields, "session_id": SID, "uuid": "u"})


def init() -> str:
    return ev(type="system", subtype="init", model="claude-opus-4-6", tools=["Bash"], cwd="/w")


def text(t: str, **extra: Any) -> str:
    return ev(type="assistant", message={"role": "assistant", "content": [{"type": "text", "text": t}]},
              parent_tool_use_id=None, **extra)


def tool_result(content: str) -> str:
    return ev(type="user", message={"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": content, "is_error": False}]})


def result(subtype: str = "success", is_error: bool = False, text_: str = "Done.", **extra: Any) -> str:
    fields: dict[str, Any] = dict(type="result", subtype=subtype, is_error=is_error, num_turns=3,
                                  total_cost_usd=0.5, duration_ms=1000,
                                  modelUsage={"claude-opus-4-6": {"inputTokens": 10, "outputTokens": 20,
                                                                  "cacheReadInputTokens": 5,
                                                                  "cacheCreationInputTokens": 0,
                                                                  "costUSD": 0.5}})
    if subtype == "success":
        fields["result"] = text_
    fields.update(extra)
    return ev(**fields)


def stream(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def queue(*records: dict[str, Any]) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


BEFORE = queue(task_record("t-1", status="in_progress"))
CLOSED = queue(task_record("t-1", status="closed"))
OPEN = queue(task_record("t-1", status="in_progress"))


def judge(out: str, exit_code: int | None = 0, *, after: dict[str, Task] = CLOSED,
          before: dict[str, Task] = BEFORE, fmt: str = "claude", stderr: str = "",
          killed: str = "", patterns: tuple[str, ...] = ()) -> Outcome:
    facts = read_stream(fmt, out, stderr, exit_code, context_patterns=patterns)
    return classify(facts, task_id="t-1", exit_code=exit_code, killed=killed, before=before, after=after)


def test_success_needs_result_exit_0_and_closed_task() -> None:
    got = judge(stream(init(), text("Fixed."), result()))
    assert got.kind == "success" and got.cost_usd == 0.5
    assert (got.input_tokens, got.output_tokens) == (15, 20)


def test_exit_0_without_result_is_never_success() -> None:
    # a claude killed by SIGINT exits 0 with no result event (reference §1.4)
    out = stream(init(), text("Working"), ev(type="user", message={"role": "user", "content": [
        {"type": "text", "text": "[Request interrupted by user]"}]}))
    got = judge(out, 0)
    assert got.kind == "error" and got.subclass == "interrupted"
    assert judge(stream(init(), text("Working")), 0).kind == "error"


def test_result_success_but_task_still_open_is_no_progress() -> None:
    got = judge(stream(init(), result(text_="I looked around.")), 0, after=OPEN)
    assert got.kind == "no_progress" and got.retryable
    assert "still in_progress" in got.digest


def test_result_success_with_new_notes_is_a_handoff() -> None:
    after = queue(task_record("t-1", status="in_progress", notes="HANDOFF: parser done, tests next"))
    got = judge(stream(init(), result()), 0, after=after)
    assert (got.kind, got.subclass) == ("context_exhausted", "handoff")


def test_closed_but_nonzero_exit_is_not_success() -> None:
    got = judge("all good\n", 3, fmt="text")
    assert got.kind == "error" and "closed during the run" in got.digest


@pytest.mark.parametrize("lines", [
    [result(is_error=True, text_="Prompt is too long", terminal_reason="blocking_limit")],
    # a pre-terminal_reason CLI: only the text rule works
    [result(is_error=True, text_="Prompt is too long")],
    [result(is_error=True, text_="Prompt is too long · this conversation is a single exchange and "
                                 "cannot be compacted — try again")],
    [ev(type="system", subtype="status", status=None, compact_result="failed", compact_error="exhausted"),
     result(is_error=True, text_="Execution error")],
], ids=["blocking_limit", "text-rule", "single-exchange", "compaction-failed"])
def test_context_exhaustion_rules(lines: list[str]) -> None:
    got = judge(stream(init(), *lines), 1, after=OPEN)
    assert got.kind == "context_exhausted" and got.retryable


def test_free_space_marker_and_configured_patterns() -> None:
    seed_style = "working...\nfree_space: 3%\ncontext nearly gone, stopping\n"
    assert judge(seed_style, 0, fmt="text", after=OPEN).kind == "context_exhausted"
    assert judge("fine\nTOKENS LEFT: 0\n", 1, fmt="text", after=OPEN,
                 patterns=(r"tokens left: 0",)).kind == "context_exhausted"
    # a claude stream ending without result whose stderr carries the marker
    got = judge(stream(init(), text("hm")), 1, after=OPEN, stderr="monitor: free_space=1200\n")
    assert got.kind == "context_exhausted"


def test_marker_inside_a_file_the_agent_read_does_not_count() -> None:
    out = stream(init(), tool_result("def free_space(): ..."), result(text_="Looked at it."))
    assert judge(out, 0, after=OPEN).kind == "no_progress"


def test_max_turns_and_budget() -> None:
    got = judge(stream(init(), result("error_max_turns", True, errors=["Reached maximum number of turns (5)"],
                                      terminal_reason="max_turns")), 1, after=OPEN)
    assert got.kind == "max_turns"
    got = judge(stream(init(), result("error_max_budget_usd", True, errors=["Reached maximum budget ($1)"])),
                1, after=OPEN)
    assert (got.kind, got.subclass, got.retryable) == ("error", "budget", False)


@pytest.mark.parametrize("status,err,text_,subclass,retryable", [
    (429, "rate_limit", "API Error: Request rejected (429) · slow down", "rate_limit", True),
    (529, "server_error", "API Error: 529 Overloaded. This is a server-side issue", "overloaded", True),
    (401, "authentication_failed", "Invalid API key · Fix external API key", "auth", False),
    (400, "billing_error", "Credit balance is too low", "billing", False),
    (500, "server_error", "API Error: 500 Internal server error", "server", True),
])
def test_api_error_subclasses(status: int, err: str, text_: str, subclass: str, retryable: bool) -> None:
    out = stream(init(), text(text_, error=err, api_error_status=status),
                 result(is_error=True, text_=text_, terminal_reason="api_error", api_error_status=status))
    got = judge(out, 1, after=OPEN)
    assert (got.kind, got.subclass, got.retryable) == ("error", subclass, retryable)
    if not retryable:
        assert "will not help" in got.digest


def test_cli_usage_error_is_not_retryable() -> None:
    got = judge("", 1, after=OPEN,
                stderr="Error: When using --print, --output-format=stream-json requires --verbose\n")
    assert (got.kind, got.subclass, got.retryable) == ("error", "cli_usage", False)


@pytest.mark.parametrize("killed", ["timeout", "idle_timeout", "interrupted"])
def test_orchestrator_kills(killed: str) -> None:
    got = judge(stream(init(), text("still going")), -15, after=OPEN, killed=killed)
    assert got.kind == killed and got.retryable and got.exit_code == -15


def test_blocked_by_new_task() -> None:
    before = queue(task_record("t-1", status="in_progress", blocks_on=["t-0"]),
                   task_record("t-0", status="open"), task_record("t-9", status="closed"))
    after = queue(task_record("t-1", status="in_progress", blocks_on=["t-0", "t-2", "t-9"]),
                  task_record("t-0", status="open"), task_record("t-2", status="open"),
                  task_record("t-9", status="closed"))
    # t-0 blocked it before, t-9 is closed: only t-2 is new
    assert new_blockers("t-1", before, after) == ("t-2",)
    got = judge(stream(init(), result()), 0, before=before, after=after)
    assert got.kind == "blocked_by_new_task" and got.new_blockers == ("t-2",)
    # even when the run then failed, the new blocker explains the state
    got = judge(stream(init(), result("error_max_turns", True, terminal_reason="max_turns")), 1,
                before=before, after=after)
    assert got.kind == "blocked_by_new_task"


def test_task_gone_after_run() -> None:
    got = judge(stream(init(), result()), 0, after={})
    assert (got.kind, got.subclass, got.retryable) == ("error", "task_missing", False)


def test_critical_errors_are_recorded() -> None:
    got = judge(stream(init(), result()), 0, stderr="Traceback (most recent call last):\n  boom\n")
    assert got.kind == "error" and got.subclass == "critical"
    assert got.critical_errors == ("Traceback (most recent call last):",)


def test_codex_and_gemini_own_transcripts() -> None:
    codex_auth = stream(json.dumps({"type": "thread.started", "thread_id": "t"}),
                        json.dumps({"type": "turn.failed", "error": {
                            "message": "unexpected status 401 Unauthorized: Incorrect API key provided"}}))
    got = judge(codex_auth, 1, fmt="codex", after=OPEN)
    assert (got.kind, got.subclass, got.retryable) == ("error", "auth", False)
    codex_hung = stream(json.dumps({"type": "thread.started", "thread_id": "t"}),
                        json.dumps({"type": "turn.started"}))
    assert judge(codex_hung, 137, fmt="codex", after=OPEN).kind == "timeout"
    gem_ok = stream(json.dumps({"type": "init", "timestamp": "t", "session_id": "s", "model": "g"}),
                    json.dumps({"type": "result", "timestamp": "t", "status": "success", "stats": {}}))
    assert judge(gem_ok, 0, fmt="gemini").kind == "success"
    assert judge(gem_ok.replace('"success"', '"error"'), 41, fmt="gemini", after=OPEN).subclass == "auth"


def test_outcome_round_trips_through_json() -> None:
    got = judge(stream(init(), result()), 0)
    from dataclasses import asdict
    assert outcome_from_dict(json.loads(json.dumps(asdict(got)))) == got
    assert set(OUTCOME_KINDS) >= {got.kind}


def test_digest_is_one_paragraph() -> None:
    for out in (judge(stream(init(), result()), 0, after=OPEN),
                judge(stream(init(), text("x")), -9, after=OPEN, killed="timeout")):
        assert "\n" not in out.digest and out.digest


def test_configured_pattern_explains_a_claude_error_result() -> None:
    out = stream(init(), result(is_error=True, text_="Gateway said: CONTEXT BUDGET SPENT"))
    assert judge(out, 1, after=OPEN).kind == "error"
    got = judge(out, 1, after=OPEN, patterns=(r"context budget spent",))
    assert (got.kind, got.subclass) == ("context_exhausted", "marker")


def test_digest_quotes_the_agents_last_words() -> None:
    out = stream(init(), text("I fixed the parser; next is the writer."),
                 result("error_max_turns", True, errors=["Reached maximum number of turns (5)"],
                        terminal_reason="max_turns"))
    got = judge(out, 1, after=OPEN)
    assert "Its last message: I fixed the parser; next is the writer." in got.digest


def test_text_agent_success_detail_is_its_own_last_line_not_a_stderr_warning() -> None:
    facts = read_stream("text", "working\nwrote hello.txt\n", "warning: deprecated flag\n", 0)
    assert facts.detail == "wrote hello.txt"
    assert judge("working\nwrote hello.txt\n", 0, fmt="text", stderr="warning: x\n").digest \
        == "Success: wrote hello.txt"


@pytest.mark.parametrize("tail,subclass,retryable", [
    ("litellm.AuthenticationError: Invalid API key provided", "auth", False),
    ("litellm.RateLimitError: 429 Too Many Requests\nRetrying in 8.0 seconds...", "rate_limit", True),
])
def test_text_agent_exit_0_after_an_api_failure(tail: str, subclass: str, retryable: bool) -> None:
    # aider exits 0 even when the LLM call failed (reference §3): with the task left open, the
    # failure at the end of its output decides, so an auth error is escalated, not retried
    out = "Aider v0.86.2\nModel: claude-sonnet-4-5\n" + tail + "\n"
    got = judge(out, 0, fmt="text", after=OPEN)
    assert (got.kind, got.subclass, got.retryable) == ("error", subclass, retryable)
    # the task closed: the work is done whatever was printed
    assert judge(out, 0, fmt="text").kind == "success"
    # an API word early in a long output (the agent's own work) is not a failure
    busy = "fixed the 401 Unauthorized handler\n" + "ran tests\n" * 30
    assert judge(busy, 0, fmt="text", after=OPEN).kind == "no_progress"


def test_a_long_last_output_line_is_quoted_once_in_the_digest() -> None:
    line = "the agent said " + "word " * 80  # longer than the detail keeps: it ends in "…"
    facts = read_stream("text", f"starting\n{line}\n", "", 1)
    digest = classify(facts, task_id="t-1", exit_code=1).digest
    assert digest.count("the agent said") == 1 and "Its last message" not in digest
