"""run_task_agent end to end: a real git repo, the JSONL store, and scripted agents that update
the queue with ORCHESTRATOR_TASK_CMD as the prompt tells them to."""
from __future__ import annotations

import dataclasses
import json
import sys
import threading
from pathlib import Path

import pytest

from orchestrator.agents.session import (
    AgentRun,
    budget_for_attempt,
    run_from_dict,
    run_task_agent,
)
from orchestrator.config import AgentConfig, Config
from orchestrator.errors import UserError
from orchestrator.tasks.history import AttemptRecord
from orchestrator.tasks.jsonl import JsonlStore
from support.agents import TASK_CMD_HELPER, claude_stream, write_script
from support.repo import git, task_record, write_queue


def config(script: Path, **agent: object) -> Config:
    base = dict(profile="command", command=[sys.executable, str(script), "{prompt_file}", "{budget}"])
    base.update(agent)
    return Config(agent=dataclasses.replace(AgentConfig(), **base))


@pytest.fixture
def repo(tmp_git_repo: Path) -> Path:
    write_queue(tmp_git_repo, [
        task_record("t-1", title="Add parser", status="in_progress", description="Parse CSV."),
        task_record("t-2", title="Add writer", status="in_progress"),
        task_record("t-3", title="Add reader", status="in_progress"),
        task_record("t-9", title="Later work", blocks_on=["t-1"]),
    ])
    return tmp_git_repo


def store(repo: Path) -> JsonlStore:
    return JsonlStore(repo / ".beads" / "issues.jsonl")


CLOSER = TASK_CMD_HELPER + """
import json
prompt = open(sys.argv[1]).read()
assert "# Your task: " + TASK in prompt
open(os.path.join(os.environ["ORCHESTRATOR_LOG_DIR"], "seen-env.json"), "w").write(json.dumps(
    {k: v for k, v in os.environ.items() if k.startswith("ORCHESTRATOR_")} | {"argv": sys.argv[1:]}))
print(task("close", TASK, "--reason", "parser added"))
"""


def test_success_closes_task_and_writes_all_logs(repo: Path) -> None:
    script = write_script(repo.parent / "closer.py", CLOSER)
    s = store(repo)
    run = run_task_agent(repo=repo, store=s, config=config(script), task_id="t-1", attempt=2)
    assert isinstance(run, AgentRun)
    assert run.outcome.kind == "success", run.outcome
    assert (run.task_id, run.attempt, run.profile, run.budget) == ("t-1", 2, "command", "xhigh")
    assert run.log_dir.parent == repo / "logs" / "run" and run.log_dir.name.endswith("_t-1")
    for name in ("output.log", "verbose.jsonl", "monitor.log", "prompt.md", "outcome.json"):
        assert (run.log_dir / name).is_file(), name
    assert s.show(["t-1"])[0].status == "closed"
    seen = json.loads((run.log_dir / "seen-env.json").read_text())
    assert seen["ORCHESTRATOR_TASK_ID"] == "t-1" and seen["ORCHESTRATOR_ATTEMPT"] == "2"
    assert seen["ORCHESTRATOR_TASK_CMD"] == "orchestrator task"
    assert seen["ORCHESTRATOR_PROMPT_FILE"] == str(run.log_dir / "prompt.md")
    assert seen["argv"] == [str(run.log_dir / "prompt.md"), "xhigh"]
    assert "Closed t-1" in (run.log_dir / "output.log").read_text()
    saved = run_from_dict(json.loads((run.log_dir / "outcome.json").read_text()))
    assert saved == run
    monitor = (run.log_dir / "monitor.log").read_text()
    assert "budget=xhigh" in monitor and "outcome kind=success" in monitor


def test_claude_stream_from_a_command_agent_is_parsed(repo: Path) -> None:
    lines = claude_stream("Closed it.")
    script = write_script(repo.parent / "claudeish.py", TASK_CMD_HELPER + f"""
task("close", TASK)
for line in {lines!r}:
    print(line)
""")
    run = run_task_agent(repo=repo, store=store(repo), config=config(script), task_id="t-1")
    assert run.outcome.kind == "success" and run.outcome.cost_usd == pytest.approx(0.0123)
    assert "assistant: Working on it." in (run.log_dir / "output.log").read_text()


@pytest.mark.parametrize("body,kind,subclass", [
    ("print('looked around, nothing to do')", "no_progress", ""),
    ("task('update', TASK, '--append-notes', 'HANDOFF: half done')", "context_exhausted", "handoff"),
    ("print('free_space: 2%'); sys.exit(1)", "context_exhausted", "marker"),
    ("new = task('create', '--title', 'Fix auth module', '--silent'); task('dep', 'add', TASK, new)",
     "blocked_by_new_task", ""),
    ("print('Invalid API key'); sys.exit(1)", "error", "auth"),
])
def test_outcomes_judged_with_the_queue(repo: Path, body: str, kind: str, subclass: str) -> None:
    script = write_script(repo.parent / "agent.py", TASK_CMD_HELPER + body + "\n")
    run = run_task_agent(repo=repo, store=store(repo), config=config(script), task_id="t-1")
    assert (run.outcome.kind, run.outcome.subclass) == (kind, subclass), run.outcome
    if kind == "blocked_by_new_task":
        assert len(run.outcome.new_blockers) == 1
    if subclass == "auth":
        assert run.outcome.retryable is False


def test_history_and_budget_reach_the_prompt(repo: Path) -> None:
    script = write_script(repo.parent / "noop.py", "print('hi')\n")
    history = [AttemptRecord(1, "error", "overloaded", budget="high", digest="API overloaded.")]
    run = run_task_agent(repo=repo, store=store(repo), config=config(script), task_id="t-1", attempt=2,
                         budget="max", history=history)
    prompt = (run.log_dir / "prompt.md").read_text()
    assert "This is attempt 2 (thinking budget max)" in prompt and "API overloaded." in prompt
    assert "- t-9: Later work (open)" in prompt and run.budget == "max"


def test_parallel_runs_in_threads_and_a_separate_worktree(repo: Path) -> None:
    """Three tasks at once, one of them in another worktree: its `orchestrator task` must
    still update the main repository's queue."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "queue")
    wt = repo.parent / "wt-t-3"
    git(repo, "worktree", "add", "-q", str(wt))
    script = write_script(repo.parent / "closer.py", CLOSER)
    s = store(repo)
    runs: dict[str, AgentRun] = {}

    def go(tid: str, workdir: Path | None) -> None:
        runs[tid] = run_task_agent(repo=repo, store=s, config=config(script), task_id=tid, workdir=workdir)

    threads = [threading.Thread(target=go, args=("t-1", None)), threading.Thread(target=go, args=("t-2", None)),
               threading.Thread(target=go, args=("t-3", wt))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {tid: r.outcome.kind for tid, r in runs.items()} == {"t-1": "success", "t-2": "success",
                                                                 "t-3": "success"}
    assert len({r.log_dir for r in runs.values()}) == 3
    assert all(t.status == "closed" for t in s.show(["t-1", "t-2", "t-3"]))
    seen = json.loads((runs["t-3"].log_dir / "seen-env.json").read_text())
    assert seen["ORCHESTRATOR_TASK_CMD"].startswith("orchestrator task --repo ")


def test_stop_event_ends_the_run_as_interrupted(repo: Path) -> None:
    script = write_script(repo.parent / "slow.py", "import time\nwhile True:\n    print('.', flush=True)\n"
                                                   "    time.sleep(0.1)\n")
    stop = threading.Event()
    stop.set()
    run = run_task_agent(repo=repo, store=store(repo), config=config(script, kill_grace_seconds=1),
                         task_id="t-1", stop=stop)
    assert run.outcome.kind == "interrupted"


def test_setup_errors_are_user_errors(repo: Path) -> None:
    script = write_script(repo.parent / "noop.py", "print('hi')\n")
    with pytest.raises(UserError, match="no task t-404"):
        run_task_agent(repo=repo, store=store(repo), config=config(script), task_id="t-404")
    with pytest.raises(UserError, match="no-such-agent: command not found"):
        run_task_agent(repo=repo, store=store(repo), config=config(script, command=["no-such-agent"]),
                       task_id="t-1")
    assert not (repo / "logs" / "run").exists() or not any((repo / "logs" / "run").iterdir())


def test_budget_ladder() -> None:
    cfg = Config()
    assert [budget_for_attempt(cfg, n) for n in (1, 2, 3, 4, 9)] == ["high", "xhigh", "max", "max", "max"]
    assert budget_for_attempt(Config(agent=dataclasses.replace(AgentConfig(), budgets=[])), 2) == ""


def test_unusable_logs_folder_is_a_user_error(repo: Path) -> None:
    (repo / "logs").write_text("not a folder\n")
    script = write_script(repo.parent / "noop.py", "print('hi')\n")
    with pytest.raises(UserError, match="cannot create the run log folder"):
        run_task_agent(repo=repo, store=store(repo), config=config(script), task_id="t-1")


def test_the_agents_task_command_is_built_in_one_place(tmp_path: Path) -> None:
    """`orchestrator agent` and the coordinator both build it with session.task_command."""
    from orchestrator.agents.session import task_command
    from orchestrator.tasks.jsonl import JsonlStore

    repo, wt = tmp_path / "repo", tmp_path / "wt"
    repo.mkdir()
    wt.mkdir()
    store = JsonlStore(repo / ".beads" / "issues.jsonl")
    assert task_command(store, repo, repo) == "orchestrator task"
    assert task_command(store, repo, wt) == f"orchestrator task --repo {repo}"
    assert task_command(store, repo, wt, config_path="c.yml", store_kind="jsonl") == (
        f"orchestrator task --repo {repo} --config {Path('c.yml').resolve()} --store jsonl")
