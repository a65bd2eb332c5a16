"""The real Claude Code CLI (`claude -p`, pinned) against the scripted API on loopback.

These pin down what the agents layer relies on, per docs in the reference (stream-json framing,
exit codes, the context/overload/max-turns shapes, what raises thinking), for the version we pin;
and they prove tests/support/anthropic_api.py speaks the API well enough for the real CLI.
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.anthropic_api import Reply, ScriptedAnthropicAPI, bash, overloaded, prompt_too_long, text
from support.claude import OFFLINE_ENV, PINNED_VERSION, claude_binary, claude_env, claude_version, dummy_api_key
from support.repo import task_record, write_queue


@dataclass(frozen=True)
class CliRun:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        results = [e for e in self.events if e.get("type") == "result"]
        assert len(results) == 1, f"expected one result event, got {len(results)}: {self.stderr}"
        return results[0]

    def of(self, type_: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events
                if e.get("type") == type_ and (subtype is None or e.get("subtype") == subtype)]


@pytest.fixture(scope="module")
def claude() -> Path:
    return claude_binary()


def run_claude(claude: Path, api: ScriptedAnthropicAPI, cwd: Path, home: Path, *args: str,
               prompt: str = "Close the task.") -> CliRun:
    env = claude_env(base_url=api.url, home=home, api_key=dummy_api_key())
    proc = subprocess.run([str(claude), "-p", prompt, "--output-format", "stream-json", "--verbose",
                           *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=180)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return CliRun(proc.returncode, events, proc.stderr)


def script_run(claude: Path, tmp_path: Path, script: Sequence[Reply], *args: str,
               side: Reply | None = None) -> tuple[CliRun, ScriptedAnthropicAPI]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    with ScriptedAnthropicAPI(script, side=side) as api:
        run = run_claude(claude, api, work, tmp_path / "home", *args)
    return run, api


def test_binary_lookup_skips_only_without_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from support import claude as claude_util
    monkeypatch.delenv("ORCHESTRATOR_TEST_CLAUDE", raising=False)
    monkeypatch.setattr(claude_util, "CI_BINARY", tmp_path / "absent" / "claude")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match="npm is unavailable"):
        claude_util.claude_binary()
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/npm")
    with pytest.raises(pytest.fail.Exception, match="npm is available but .* is missing"):
        claude_util.claude_binary()
    monkeypatch.setenv("ORCHESTRATOR_TEST_CLAUDE", str(tmp_path / "nope"))
    with pytest.raises(pytest.fail.Exception, match="not an executable file"):
        claude_util.claude_binary()


def test_pinned_version_runs_offline(claude: Path, tmp_path: Path) -> None:
    assert claude_version(claude, tmp_path / "home") == PINNED_VERSION


def test_success_tool_call_closes_task_in_real_repo(claude: Path, tmp_git_repo: Path,
                                                    tmp_path: Path) -> None:
    """The scripted model calls Bash `orchestrator task close`; the real CLI runs it in the repo."""
    queue = write_queue(tmp_git_repo, [task_record("demo-1", title="Say hello")])
    script = [bash("orchestrator task close demo-1 --reason 'said hello'", "Close the task",
                   thinking="The task is trivial; close it."),
              text("Closed demo-1.")]
    key = dummy_api_key()
    with ScriptedAnthropicAPI(script) as api:
        env = claude_env(base_url=api.url, home=tmp_path / "home", api_key=key)
        proc = subprocess.run([str(claude), "-p", "Close task demo-1.", "--output-format", "stream-json",
                               "--verbose", "--allowedTools", "Bash(orchestrator task *)"],
                              cwd=tmp_git_repo, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=180)
    run = CliRun(proc.returncode, [json.loads(x) for x in proc.stdout.splitlines() if x.strip()],
                 proc.stderr)

    assert run.returncode == 0, run.stderr
    init = run.of("system", "init")[0]
    assert init["claude_code_version"] == PINNED_VERSION
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY"
    assert init["cwd"] == str(tmp_git_repo)
    assert run.result["subtype"] == "success" and run.result["is_error"] is False
    assert run.result["result"] == "Closed demo-1."
    # one assistant line per content block: thinking, tool_use, then the final text
    blocks = [e["message"]["content"][0]["type"] for e in run.of("assistant")]
    assert blocks == ["thinking", "tool_use", "text"]
    (tool_result,) = [b for e in run.of("user") for b in e["message"]["content"]
                      if b.get("type") == "tool_result"]
    assert tool_result["is_error"] is False, tool_result

    records = [json.loads(line) for line in queue.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in records] == [("demo-1", "closed")]

    main = api.main_requests
    assert len(main) == 2
    assert all(r.headers.get("x-api-key") == key for r in api.requests if r.is_messages)
    assert "Bash" in main[0].tool_names and "Close task demo-1." in main[0].prompt_text()
    assert main[1].tool_results() == [tool_result["content"]]


def test_max_turns(claude: Path, tmp_path: Path) -> None:
    run, api = script_run(claude, tmp_path, [bash("echo again")], "--allowedTools", "Bash",
                          "--max-turns", "2")
    assert run.returncode == 1
    assert run.result["subtype"] == "error_max_turns" and run.result["is_error"] is True
    assert run.result["terminal_reason"] == "max_turns"
    assert run.result["errors"] == ["Reached maximum number of turns (2)"]
    assert len(api.main_requests) == 2


def test_context_exhausted_after_failed_compaction(claude: Path, tmp_path: Path) -> None:
    """Two turns, then every request (the compaction's too) is 'prompt is too long'."""
    run, _ = script_run(claude, tmp_path, [bash("echo one"), bash("echo two"), prompt_too_long()],
                        "--allowedTools", "Bash", side=prompt_too_long())
    assert run.returncode == 1
    statuses = run.of("system", "status")
    assert any(s.get("compact_result") == "failed" and s.get("compact_error") == "exhausted"
               for s in statuses), statuses
    synthetic = [e for e in run.of("assistant") if e["message"]["model"] == "<synthetic>"]
    assert synthetic and synthetic[-1]["error"] == "invalid_request"
    assert synthetic[-1]["api_error_status"] == 400
    result = run.result
    assert (result["subtype"], result["is_error"], result["terminal_reason"]) == \
        ("success", True, "prompt_too_long")
    assert result["result"].startswith("Prompt is too long")


def test_context_exhausted_single_exchange(claude: Path, tmp_path: Path) -> None:
    run, _ = script_run(claude, tmp_path, [prompt_too_long()], side=prompt_too_long())
    assert run.returncode == 1
    assert run.result["terminal_reason"] == "prompt_too_long"
    assert run.result["result"].startswith("Prompt is too long")
    assert "cannot be compacted" in run.result["result"]


def test_overloaded_retries_then_gives_up(claude: Path, tmp_path: Path) -> None:
    run, api = script_run(claude, tmp_path, [overloaded()], side=overloaded())
    retries = int(OFFLINE_ENV["CLAUDE_CODE_MAX_RETRIES"])
    assert run.returncode == 1
    events = run.of("system", "api_retry")
    assert [(e["attempt"], e["error_status"], e["error"]) for e in events] == \
        [(n, 529, "overloaded") for n in range(1, retries + 1)]
    assert len(api.main_requests) == retries + 1
    result = run.result
    assert (result["is_error"], result["terminal_reason"], result["api_error_status"]) == \
        (True, "api_error", 529)
    assert "529" in result["result"] and "Overloaded" in result["result"]


@pytest.mark.parametrize("args, effort", [((), "medium"), (("--effort", "high"), "high"),
                                           (("--effort", "xhigh"), "xhigh"),
                                           (("--effort", "max"), "max")])
def test_effort_flag_reaches_the_request(claude: Path, tmp_path: Path, args: tuple[str, ...],
                                         effort: str) -> None:
    """Reference §1.7: on the `opus` alias (adaptive thinking) --effort sets output_config.effort."""
    run, api = script_run(claude, tmp_path, [text("ok")], "--model", "opus", *args)
    assert run.returncode == 0, run.stderr
    (request,) = api.main_requests
    assert request.thinking is not None and request.thinking["type"] == "adaptive"
    assert request.effort == effort


@pytest.mark.parametrize("model, env, thinking, max_tokens", [
    # budget model: thinking on at max_tokens-1; raising CLAUDE_CODE_MAX_OUTPUT_TOKENS raises it
    ("claude-sonnet-4-5", {}, {"type": "enabled", "budget_tokens": 31999}, 32000),
    ("claude-sonnet-4-5", {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "48000"},
     {"type": "enabled", "budget_tokens": 47999}, 48000),
    ("claude-sonnet-4-5", {"MAX_THINKING_TOKENS": "16000"}, {"type": "enabled", "budget_tokens": 16000}, 32000),
    # adaptive opus-4-6: DISABLE_ADAPTIVE_THINKING makes MAX_THINKING_TOKENS count
    ("claude-opus-4-6", {"CLAUDE_CODE_DISABLE_ADAPTIVE_THINKING": "1", "MAX_THINKING_TOKENS": "16000",
                         "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000"},
     {"type": "enabled", "budget_tokens": 16000}, 32000),
    # the `opus` alias (claude-opus-5-5 on this version) ignores both: only --effort moves it
    ("opus", {"CLAUDE_CODE_DISABLE_ADAPTIVE_THINKING": "1", "MAX_THINKING_TOKENS": "16000",
              "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000"}, {"type": "adaptive"}, 32000),
])
def test_thinking_token_settings_reach_the_request(claude: Path, tmp_path: Path, model: str,
                                                   env: dict[str, str], thinking: dict[str, Any],
                                                   max_tokens: int) -> None:
    """Reference §1.7, for the pinned version: what the token-budget variables actually send."""
    work = tmp_path / "work"
    work.mkdir()
    with ScriptedAnthropicAPI([text("ok")]) as api:
        run_env = claude_env(base_url=api.url, home=tmp_path / "home", api_key=dummy_api_key(),
                             extra=env)
        proc = subprocess.run([str(claude), "-p", "hi", "--output-format", "stream-json", "--verbose",
                               "--model", model], cwd=work, env=run_env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    (request,) = api.main_requests
    assert request.thinking is not None
    assert {k: request.thinking.get(k) for k in thinking} == thinking
    assert request.max_tokens == max_tokens
