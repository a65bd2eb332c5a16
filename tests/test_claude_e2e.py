"""End to end: `orchestrator agent --task ID` runs the REAL Claude Code CLI (pinned, from npm) on a
real git repo with the JSONL store, against the scripted Anthropic API on loopback.

For each case: the three log files exist, the task's state after the run is right (closed by the
agent's own `orchestrator task close` tool call on success, released to open otherwise), the exit
code, outcome.json's classification, the attempt comment on the task, and the thinking the API
received for the attempt's budget (effort on the adaptive `opus` alias, budget_tokens on a
budget model). The `orchestrator` is the installed console script, run as a subprocess; the
claude it launches is the pinned npm package (tests/support/claude.py), found on PATH.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import Task
from support.anthropic_api import Reply, Request, ScriptedAnthropicAPI, bash, hang, overloaded, prompt_too_long, text, unauthorized
from support.claude import OFFLINE_ENV, PINNED_VERSION, claude_binary, claude_env, dummy_api_key
from support.repo import git, task_record, write_queue

ORCHESTRATOR = Path(sys.executable).parent / "orchestrator"   # the installed console script
TASK = "e2e-1"
LOG_FILES = ("output.log", "verbose.jsonl", "monitor.log")
# The default permission mode (bypassPermissions; as root the profile must add IS_SANDBOX=1 or
# claude refuses to start), or acceptEdits with an allow rule for the queue command.
CONFIG = """\
store: jsonl
agent:
  profile: claude
  model: {model}
  budgets: [high, xhigh, max]
  max_turns: {max_turns}
  timeout_minutes: 5
  idle_timeout_minutes: 3
"""
ALLOW_RULE = """\
  permission_mode: acceptEdits
  allowed_tools: ["Bash(orchestrator task *)"]
"""


@dataclass(frozen=True)
class AgentResult:
    proc: subprocess.CompletedProcess[str]
    run_dir: Path
    run: dict[str, Any]        # outcome.json: the AgentRun (task_id, attempt, budget, ...)
    task: Task
    requests: list[Request]

    @property
    def outcome(self) -> dict[str, Any]:
        return self.run["outcome"]

    @property
    def main_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_main]

    @property
    def attempts(self) -> list[AttemptRecord]:
        return read_history(self.task)


@pytest.fixture(scope="module")
def claude() -> Path:
    return claude_binary()


@pytest.fixture
def repo(tmp_git_repo: Path) -> Path:
    write_queue(tmp_git_repo, [task_record(TASK, title="Write hello.txt",
                                           description="Create hello.txt saying hello.")])
    set_config(tmp_git_repo, max_turns=10)
    git(tmp_git_repo, "add", "-A")
    git(tmp_git_repo, "commit", "-q", "-m", "queue and config")
    return tmp_git_repo


def set_config(repo: Path, *, max_turns: int, allow_rule: bool = False, model: str = "opus") -> None:
    body = CONFIG.format(max_turns=max_turns, model=model) + (ALLOW_RULE if allow_rule else "")
    (repo / ".orchestrator.yml").write_text(body)


def run_agent(claude: Path, repo: Path, home: Path, script: Sequence[Reply], *args: str,
              side: Reply | None = None, interrupt: bool = False) -> AgentResult:
    """Run `orchestrator agent --task TASK` against `script`; with `interrupt`, send the command
    SIGTERM once the CLI's first turn has reached the API (as a user's Ctrl-C or a CI cancel)."""
    before = set((repo / "logs" / "run").glob("*")) if (repo / "logs" / "run").exists() else set()
    bin_dir = home.parent / "bin"   # the profile runs `claude` from PATH: link ours in as that name
    bin_dir.mkdir(parents=True, exist_ok=True)
    if not (bin_dir / "claude").exists():
        (bin_dir / "claude").symlink_to(claude.resolve())
    with ScriptedAnthropicAPI(script, side=side) as api:
        env = claude_env(base_url=api.url, home=home, api_key=dummy_api_key(), path_dirs=(bin_dir,))
        popen = subprocess.Popen([str(ORCHESTRATOR), "--repo", str(repo), "agent", "--task", TASK, *args],
                                 cwd=repo, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            if interrupt:
                api.wait_for(1)
                popen.send_signal(signal.SIGTERM)
            out, err = popen.communicate(timeout=300)
        finally:
            if popen.poll() is None:
                popen.kill()
                popen.wait()
        proc = subprocess.CompletedProcess(popen.args, popen.returncode, out, err)
    # logs/run/<UTC timestamp>_<task-id>/, with a .N suffix when two runs start in the same second
    new = sorted(set((repo / "logs" / "run").glob(f"*_{TASK}*")) - before)
    assert len(new) == 1, f"expected one new run dir, got {new}\n{proc.stdout}\n{proc.stderr}"
    run_dir = new[0]
    for name in LOG_FILES:
        assert (run_dir / name).is_file(), f"{name} missing in {run_dir}: {proc.stderr}"
    assert (run_dir / "verbose.jsonl").stat().st_size > 0
    run = json.loads((run_dir / "outcome.json").read_text())
    assert (run["task_id"], run["profile"]) == (TASK, "claude")
    (task,) = JsonlStore(repo / ".beads" / "issues.jsonl").show([TASK])
    return AgentResult(proc, run_dir, run, task, api.requests)


def orchestrator(repo: Path, *args: str) -> str:
    proc = subprocess.run([str(ORCHESTRATOR), "--repo", str(repo), *args], cwd=repo, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def stream(result: AgentResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (result.run_dir / "verbose.jsonl").read_text().splitlines()
            if line.strip()]


def assert_real_cli_ran(result: AgentResult) -> None:
    events = stream(result)
    init = next(e for e in events if e.get("type") == "system" and e.get("subtype") == "init")
    assert init["claude_code_version"] == PINNED_VERSION
    assert init["apiKeySource"] == "ANTHROPIC_API_KEY"
    assert result.main_requests, "the CLI never reached the scripted API"
    assert all(r.headers.get("x-api-key") == dummy_api_key() for r in result.requests if r.is_messages)


def assert_failed_and_released(result: AgentResult, kind: str, budget: str = "high") -> None:
    """A failed run: exit 1, the task back to open for the next try, the attempt recorded."""
    assert result.proc.returncode == 1, result.proc.stderr
    assert result.outcome["kind"] == kind
    assert result.task.status == "open"
    assert [(a.attempt, a.kind, a.budget) for a in result.attempts] == [(1, kind, budget)]


def test_success_agent_closes_task_itself(claude: Path, repo: Path, tmp_path: Path) -> None:
    script = [bash(f"orchestrator task close {TASK} --reason 'wrote hello.txt'", "Close the task",
                   thinking="Write the file, then close the task."),
              text(f"Done: {TASK} is closed.")]
    result = run_agent(claude, repo, tmp_path / "home", script)

    assert result.proc.returncode == 0, result.proc.stderr
    assert_real_cli_ran(result)
    assert result.task.status == "closed" and result.task.close_reason == "wrote hello.txt"
    assert (result.outcome["kind"], result.outcome["exit_code"]) == ("success", 0)
    assert result.outcome["cost_usd"] is not None and result.outcome["cost_usd"] > 0
    # the tool call ran the `orchestrator` the agent found on PATH, on this repo's queue
    (bash_result,) = result.main_requests[1].tool_results()
    assert bash_result.startswith(f"Closed {TASK}"), bash_result
    # the prompt carried the task and how to close it; attempt 1 got the ladder's first budget
    prompt = result.main_requests[0].prompt_text()
    assert TASK in prompt and "Write hello.txt" in prompt and "orchestrator task close" in prompt
    assert (result.run["attempt"], result.run["budget"]) == (1, "high")
    assert {r.effort for r in result.main_requests} == {"high"}
    assert [(a.attempt, a.kind, a.budget) for a in result.attempts] == [(1, "success", "high")]
    monitor = (result.run_dir / "monitor.log").read_text()
    assert "--effort high" in monitor and "kind=success" in monitor
    assert "Closed e2e-1" in (result.run_dir / "output.log").read_text()
    for name in ("output.log", "monitor.log", "verbose.jsonl"):
        assert dummy_api_key() not in (result.run_dir / name).read_text()
    # the log commands read the real CLI's run
    listed = json.loads(orchestrator(repo, "logs", "list", "--json"))
    assert [(r["task_id"], r["attempt"], r["outcome"], r["budget"]) for r in listed] == \
        [(TASK, 1, "success", "high")]
    shown = orchestrator(repo, "logs", "show", TASK)
    assert f"-> Bash: orchestrator task close {TASK} --reason 'wrote hello.txt'" in shown
    assert f"<- Closed {TASK}: wrote hello.txt" in shown and "version=" + PINNED_VERSION in shown


def test_secrets_the_agent_prints_are_scrubbed_from_logs(claude: Path, repo: Path,
                                                         tmp_path: Path) -> None:
    script = [bash('echo "key=$ANTHROPIC_API_KEY"', "Print the key"),
              bash(f"orchestrator task close {TASK} --reason done", "Close the task"), text("Done.")]
    result = run_agent(claude, repo, tmp_path / "home", script)

    assert result.outcome["kind"] == "success", result.proc.stderr
    # the CLI really printed it (the server saw it in the tool result) ...
    assert result.main_requests[1].tool_results() == [f"key={dummy_api_key()}"]
    # ... and no log kept it
    for path in result.run_dir.iterdir():
        assert dummy_api_key() not in path.read_text(errors="replace"), path.name
    assert "key=" in (result.run_dir / "verbose.jsonl").read_text()


def test_context_exhausted(claude: Path, repo: Path, tmp_path: Path) -> None:
    """Two turns, then 'prompt is too long' on every request: compaction fails, the run ends."""
    script = [bash("echo reading big file one"), bash("echo reading big file two"), prompt_too_long()]
    result = run_agent(claude, repo, tmp_path / "home", script, side=prompt_too_long())

    assert_real_cli_ran(result)
    assert any(e.get("compact_result") == "failed" for e in stream(result))
    assert result.outcome["exit_code"] == 1
    assert_failed_and_released(result, "context_exhausted")


def test_context_exhausted_hands_off_notes_to_the_next_run(claude: Path, repo: Path,
                                                           tmp_path: Path) -> None:
    """The agent writes its HANDOFF note, then runs out of context; the next run's prompt has it."""
    note = "HANDOFF: read both fixtures; next write hello.txt"
    script = [bash(f"orchestrator task update {TASK} --append-notes '{note}'", "Hand off"),
              prompt_too_long()]
    first = run_agent(claude, repo, tmp_path / "home", script, side=prompt_too_long())
    assert first.outcome["kind"] == "context_exhausted"
    assert note in first.task.notes and first.task.status == "open"

    second = run_agent(claude, repo, tmp_path / "home",
                       [bash(f"orchestrator task close {TASK} --reason done"), text("Done.")])
    assert second.outcome["kind"] == "success" and second.task.status == "closed"
    assert note in second.main_requests[0].prompt_text()


def test_blocked_by_new_task(claude: Path, repo: Path, tmp_path: Path) -> None:
    """The prompt's recipe for a blocker, run by the real CLI's Bash tool."""
    recipe = (f'NEW=$(orchestrator task create --title "Decide the greeting" --type task --priority 1 '
              f'--description "Which words?" --silent) && orchestrator task dep add {TASK} "$NEW" && '
              f'orchestrator task update {TASK} --append-notes "Blocked by $NEW: wording" && echo "$NEW"')
    result = run_agent(claude, repo, tmp_path / "home", [bash(recipe, "Create a blocker"),
                                                         text("Blocked on a new task.")])

    (new_id,) = [t.id for t in JsonlStore(repo / ".beads" / "issues.jsonl").list(statuses=("open",))
                 if t.id != TASK]
    (output,) = result.main_requests[1].tool_results()
    assert output.endswith(f"\n{new_id}") and f"{TASK} depends on {new_id}" in output
    assert result.outcome["kind"] == "blocked_by_new_task"
    assert result.outcome["new_blockers"] == [new_id]
    assert result.task.status != "closed" and f"Blocked by {new_id}" in result.task.notes


def test_overloaded_is_a_retryable_error(claude: Path, repo: Path, tmp_path: Path) -> None:
    result = run_agent(claude, repo, tmp_path / "home", [overloaded()], side=overloaded())

    assert_real_cli_ran(result)
    retries = [e for e in stream(result) if e.get("subtype") == "api_retry"]
    assert len(retries) == int(OFFLINE_ENV["CLAUDE_CODE_MAX_RETRIES"])
    assert (result.outcome["subclass"], result.outcome["retryable"]) == ("overloaded", True)
    assert_failed_and_released(result, "error")
    assert result.attempts[0].subclass == "overloaded"


def test_auth_error_is_not_retryable(claude: Path, repo: Path, tmp_path: Path) -> None:
    result = run_agent(claude, repo, tmp_path / "home", [unauthorized()], side=unauthorized())

    assert_real_cli_ran(result)
    assert (result.outcome["subclass"], result.outcome["retryable"]) == ("auth", False)
    assert_failed_and_released(result, "error")


def test_max_turns(claude: Path, repo: Path, tmp_path: Path) -> None:
    set_config(repo, max_turns=2)
    result = run_agent(claude, repo, tmp_path / "home", [bash("echo still working")])

    assert_real_cli_ran(result)
    assert "--max-turns 2" in (result.run_dir / "monitor.log").read_text()
    assert len(result.main_requests) == 2
    assert_failed_and_released(result, "max_turns")


def test_interrupt_ends_the_cli_and_releases_the_task(claude: Path, repo: Path, tmp_path: Path) -> None:
    """SIGTERM to `orchestrator agent` while claude waits on a hung API: the agent's whole process
    group ends, the run is `interrupted`, the attempt is recorded and the task is open again."""
    result = run_agent(claude, repo, tmp_path / "home", [hang()], side=hang(), interrupt=True)

    assert_real_cli_ran(result)
    assert_failed_and_released(result, "interrupted")
    monitor = (result.run_dir / "monitor.log").read_text()
    match = re.search(r"pgid=(\d+)", monitor)
    assert match, monitor
    with pytest.raises(ProcessLookupError):
        os.killpg(int(match.group(1)), 0)
    assert not any(e.get("type") == "result" for e in stream(result))


@pytest.mark.parametrize("limits,kind", [
    ({"timeout_minutes": "0.1", "idle_timeout_minutes": "5"}, "timeout"),
    ({"timeout_minutes": "5", "idle_timeout_minutes": "0.1"}, "idle_timeout"),
])
def test_time_limits_end_the_cli_and_release_the_task(claude: Path, repo: Path, tmp_path: Path,
                                                        limits: dict[str, str], kind: str) -> None:
    """claude waits on a hung API and prints nothing: the wall-clock or the idle limit (6 s here)
    ends its whole process group, and the run is judged by which limit fired."""
    config = (repo / ".orchestrator.yml").read_text()
    config = config.replace("timeout_minutes: 5", f"timeout_minutes: {limits['timeout_minutes']}", 1)
    config = config.replace("idle_timeout_minutes: 3", f"idle_timeout_minutes: {limits['idle_timeout_minutes']}")
    (repo / ".orchestrator.yml").write_text(config)
    result = run_agent(claude, repo, tmp_path / "home", [hang()], side=hang())

    assert_real_cli_ran(result)
    assert_failed_and_released(result, kind)
    monitor = (result.run_dir / "monitor.log").read_text()
    match = re.search(r"pgid=(\d+)", monitor)
    assert match, monitor
    with pytest.raises(ProcessLookupError):
        os.killpg(int(match.group(1)), 0)


def test_second_attempt_raises_effort(claude: Path, repo: Path, tmp_path: Path) -> None:
    """Budget ladder [high, xhigh, max]: a first run that leaves the task open (no_progress), then
    a plain rerun, which counts itself attempt 2 from the recorded history and sends effort xhigh.
    The second run also takes the acceptEdits + allowed-tools path."""
    first = run_agent(claude, repo, tmp_path / "home", [text("I looked around; nothing to do.")])
    assert first.proc.returncode == 1
    assert (first.run["attempt"], first.run["budget"], first.outcome["kind"]) == (1, "high", "no_progress")
    assert first.task.status == "open"

    set_config(repo, max_turns=10, allow_rule=True)
    script = [bash(f"orchestrator task close {TASK} --reason 'second try'", "Close the task"),
              text("Closed.")]
    second = run_agent(claude, repo, tmp_path / "home", script)

    assert second.proc.returncode == 0, second.proc.stderr
    assert (second.run["attempt"], second.run["budget"], second.outcome["kind"]) == (2, "xhigh", "success")
    assert second.task.status == "closed"
    assert {r.effort for r in first.main_requests} == {"high"}
    assert {r.effort for r in second.main_requests} == {"xhigh"}
    assert all(r.thinking and r.thinking.get("type") == "adaptive"
               for r in first.main_requests + second.main_requests)
    assert "--effort xhigh" in (second.run_dir / "monitor.log").read_text()
    assert [(a.attempt, a.kind, a.budget) for a in second.attempts] == \
        [(1, "no_progress", "high"), (2, "success", "xhigh")]
    # the second prompt said so and carried the first attempt's digest
    prompt = second.main_requests[0].prompt_text()
    assert "attempt 2 (thinking budget xhigh)" in prompt
    assert "Attempt 1: no_progress, budget high" in prompt


@pytest.mark.parametrize("attempt, budget, budget_tokens, max_tokens",
                         [(1, "high", 31999, 32000), (2, "xhigh", 47999, 48000), (3, "max", 63999, 64000)])
def test_budget_model_ladder_raises_thinking_tokens(claude: Path, repo: Path, tmp_path: Path,
                                                    attempt: int, budget: str, budget_tokens: int,
                                                    max_tokens: int) -> None:
    """On a budget-thinking model (claude-sonnet-4-5) the same ladder raises max_tokens, and with
    it the thinking budget (max_tokens - 1) the request carries."""
    set_config(repo, max_turns=10, model="claude-sonnet-4-5")
    script = [bash(f"orchestrator task close {TASK} --reason done", "Close the task"), text("Done.")]
    result = run_agent(claude, repo, tmp_path / "home", script, "--attempt", str(attempt))

    assert result.outcome["kind"] == "success", result.proc.stderr
    assert (result.run["attempt"], result.run["budget"]) == (attempt, budget)
    for request in result.main_requests:
        assert request.model == "claude-sonnet-4-5"
        assert request.thinking is not None
        assert (request.thinking["type"], request.thinking["budget_tokens"]) == ("enabled", budget_tokens)
        assert request.max_tokens == max_tokens
