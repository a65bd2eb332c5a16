"""verbose.jsonl -> readable transcript, on every recorded fixture."""
from __future__ import annotations

import json

import pytest

from orchestrator.agents.transcript import render, render_line
from support.repo import FIXTURES

AGENT_FIXTURES = FIXTURES / "agents"
EXPECTED = json.loads((AGENT_FIXTURES / "expected.json").read_text())

# one line each transcript must show (what a human scanning the log needs)
MUST_SHOW = {
    "claude-success.jsonl": "-> Read: /home/runner/work/widget/widget/src/widget/parser.py",
    "claude-context-exhausted.jsonl": "[compaction failed: exhausted]",
    "claude-compacted-then-success.jsonl": "[context compacted (auto)",
    "claude-error-overloaded.jsonl": "[api retry 10/10] overloaded (status 529)",
    "claude-error-auth.jsonl": "[api error: authentication_failed, status 401]",
    "claude-max-turns.jsonl": "    error: Reached maximum number of turns (3)",
    "claude-permission-denied.jsonl": "permission denial(s)",
    "claude-killed-timeout.jsonl": "-> Bash: make -j8 all",
    "codex-success.jsonl": "assistant: parse('') now returns []; tests/test_parser.py passes.",
    "codex-context-exhausted.jsonl": "[turn failed] Codex ran out of room",
    "codex-rate-limited.jsonl": "[error] exceeded retry limit, last status: 429 Too Many Requests",
    "gemini-turn-limit.jsonl": "[result] error 88012 input / 3222 output tokens: Reached max session turns",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_transcripts(name: str) -> None:
    lines = list(render((AGENT_FIXTURES / name).read_text().splitlines()))
    assert lines
    text = "\n".join(lines)
    assert MUST_SHOW[name] in text, text
    assert '"session_id"' not in text or name == "claude-killed-timeout.jsonl"  # no raw JSON left


def test_plain_text_and_broken_lines_pass_through() -> None:
    assert render_line("plain output\n") == (["plain output"], "auto")
    assert render_line('{"type":"assistant","mess')[0] == ['{"type":"assistant","mess']
    out, fmt = render_line(json.dumps({"type": "thread.started", "thread_id": "t1"}))
    assert (out, fmt) == (["[thread t1]"], "codex")
