"""`orchestrator agent` with the real Claude Code CLI (the pinned npm package) against a
scripted Messages API on loopback: the agent closes its task through ORCHESTRATOR_TASK_CMD, and
the reference's error shapes are classified as the reference says.

The CLI is not downloaded here (no network in tests): install it first with
`npm install --no-save @anthropic-ai/claude-code@2.1.331` in the project root, or point
ORCHESTRATOR_TEST_CLAUDE at a `claude` executable.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.dispatch.history import read_history
from orchestrator.tasks.jsonl import JsonlStore

from anthropic_mock import MockAnthropic
from conftest import task_record, write_queue

CLAUDE_VERSION = "2.1.331"
PROJECT = Path(__file__).resolve().parent.parent


def _find_claude() -> str | None:
    for candidate in (os.environ.get("ORCHESTRATOR_TEST_CLAUDE"),
                      str(PROJECT / "node_modules" / ".bin" / "claude")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("claude")


CLAUDE = _find_claude()
pytestmark = pytest.mark.skipif(
    CLAUDE is None, reason=f"Claude Code CLI not installed: run `npm install --no-save "
                           f"@anthropic-ai/claude-code@{CLAUDE_VERSION}` in {PROJECT} (needs npm)")


@pytest.fixture
def claude_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_OAUTH_TOKEN", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "test" * 6)  # built here: not a real-looking token
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")  # the overload/rate-limit give-up comes at once
    return home


@pytest.mark.parametrize("scenario,kind,subclass,retryable", [
    ("success", "success", "", True),
    ("ptl", "context_exhausted", "prompt_too_long", True),
    ("overloaded", "error", "overloaded", True),
    ("auth", "error", "auth", False),
    ("max_turns", "max_turns", "", True),
])
def test_real_claude_cli_end_to_end(tmp_git_repo: Path, claude_env: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], scenario: str, kind: str,
                                    subclass: str, retryable: bool) -> None:
    write_queue(tmp_git_repo, [task_record("t-1", title="Add parser", description="Parse CSV.")])
    (tmp_git_repo / ".orchestrator.yml").write_text(
        f"agent:\n  command: [{json.dumps(CLAUDE)}]\n  model: claude-opus-4-6\n  max_turns: 2\n"
        "  timeout_minutes: 3\n  kill_grace_seconds: 2\n")
    with MockAnthropic(scenario) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        code = main(["--repo", str(tmp_git_repo), "agent", "--task", "t-1", "--json"])
    out = capsys.readouterr()
    run = json.loads(out.out)
    outcome = run["outcome"]
    assert (outcome["kind"], outcome["subclass"], outcome["retryable"]) == (kind, subclass, retryable), \
        (outcome, out.err)
    assert code == (0 if kind == "success" else 1)
    log_dir = Path(run["log_dir"])
    for name in ("output.log", "verbose.jsonl", "monitor.log", "prompt.md", "outcome.json"):
        assert (log_dir / name).is_file(), name
    verbose = (log_dir / "verbose.jsonl").read_text()
    assert '"type":"result"' in verbose.replace(" ", "")  # the real CLI's stream, kept raw
    assert "sk-ant-" + "test" * 6 not in verbose + (log_dir / "output.log").read_text()
    assert "[result]" in (log_dir / "output.log").read_text()
    main_requests = [r for r in api.requests if r["body"].get("tools")]
    assert main_requests, "the CLI never reached the mock"
    first = main_requests[0]["body"]
    assert first["model"] == "claude-opus-4-6"
    # attempt 1 of the budget ladder: --effort high, sent as the request's effort (reference §1.7)
    assert (first.get("output_config") or {}).get("effort") == "high", first.get("output_config")
    assert "# Your task: t-1: Add parser" in json.dumps(first["messages"])
    task = JsonlStore(tmp_git_repo / ".beads" / "issues.jsonl").show(["t-1"])[0]
    assert task.status == ("closed" if kind == "success" else "open")
    assert read_history(task)[-1].kind == kind
    if scenario == "success":
        assert task.close_reason == "closed by claude"
        assert outcome["cost_usd"] is not None and outcome["input_tokens"]
