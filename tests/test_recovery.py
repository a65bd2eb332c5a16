"""Nothing is lost when `orchestrator run` is killed hard (SIGKILL: no cleanup) at any step:
the next run restores the recovery invariant (docs/security.md: a closed task's work is on the
working branch) before it plans, and every task's work lands exactly once."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.leases import lease_dir
from support.dispatch import IDEMPOTENT_WORK as WORK
from support.dispatch import make_agent, run_cli, setup_repo, tasks_of, trace_of
from support.repo import git, task_record


@pytest.fixture
def env(tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("AGENT_TRACE", str(trace))
    return {"repo": tmp_git_repo, "trace": trace, "dir": tmp_path}


def _killed_run(repo: Path, env: dict[str, str]) -> int:
    done = run_cli(repo, "run", env=env)
    return done.returncode


def _wait_for_orphans(trace: Path) -> None:
    """Agents of the killed run finish by themselves (their task command needs no coordinator)
    or are stopped by the next run; either way, nothing of theirs may be lost."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = trace_of(trace)
        starts = sum(1 for e in events if e["event"] == "start")
        ends = sum(1 for e in events if e["event"] == "end")
        if starts == ends:
            return
        time.sleep(0.05)


def assert_all_work_landed_once(repo: Path, ids: list[str]) -> None:
    tasks = tasks_of(repo)
    assert {t: tasks[t].status for t in ids} == {t: "closed" for t in ids}
    for tid in ids:
        touching = git(repo, "log", "--format=%H", "main", "--", f"{tid}.txt").split()
        assert len(touching) == 1, f"{tid}: {len(touching)} commits on main"
        assert git(repo, "show", f"main:{tid}.txt") == f"work of {tid}\n"
    assert not git(repo, "branch", "--list", "orchestrator/*").strip()
    assert not list(lease_dir(repo).glob("*.json"))
    assert not git(repo, "status", "--porcelain", "--untracked-files=no").strip()


@pytest.mark.parametrize("point", ["claimed", "launch", "closed", "landed", "queue-committed"])
def test_a_run_killed_at_any_step_loses_nothing_and_runs_no_finished_task_again(
        env: dict[str, Any], point: str) -> None:
    repo = env["repo"]
    ids = ["t-1", "t-2", "t-3"]
    setup_repo(repo, [task_record(t) for t in ids], make_agent(env["dir"] / "agent.py", WORK))
    kill = {"ORCHESTRATOR_CRASH_AT": point} if point in ("claimed", "landed", "queue-committed") \
        else {"KILL_AT": point, "KILL_TASK": "t-2"}
    assert _killed_run(repo, kill) == -9
    _wait_for_orphans(env["trace"])
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_all_work_landed_once(repo, ids)
    starts = [e["task"] for e in trace_of(env["trace"]) if e["event"] == "start"]
    if point == "closed":  # its agent closed it: the next run lands its work without an agent
        assert starts.count("t-2") == 1
        assert "recover t-2" in done.stdout


def test_twenty_tasks_four_at_once_killed_mid_run(env: dict[str, Any]) -> None:
    """The issue's scenario: the coordinator dies with agents running; some close their task
    after it is gone. The rerun lands every task's work exactly once."""
    repo = env["repo"]
    ids = [f"t-{i:02d}" for i in range(1, 21)]
    setup_repo(repo, [task_record(t) for t in ids], make_agent(env["dir"] / "agent.py", WORK),
               max_parallel=4)
    assert _killed_run(repo, {"KILL_AT": "closed", "KILL_TASK": "t-07",
                              "AGENT_SLEEP": "0.2"}) == -9
    _wait_for_orphans(env["trace"])
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_all_work_landed_once(repo, ids)
    closed_by_agent_then_run = [
        t for t in ids if [e["event"] for e in trace_of(env["trace"])
                           if e["task"] == t].count("start") > 1
        and "recover " + t in done.stdout]
    assert not closed_by_agent_then_run


def _work_on_branch(repo: Path, path: str, text: str, message: str) -> None:
    """A commit on t-1's branch that main does not have: work an agent left unlanded."""
    git(repo, "checkout", "-q", "-b", "orchestrator/t-1")
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", message)
    git(repo, "checkout", "-q", "main")


def test_the_invariant_is_checked_by_every_plan(env: dict[str, Any]) -> None:
    """A closed task whose branch was never landed (made by hand here) is landed by the next
    planning step, before anything is launched; `plan` only reports, as it changes nothing."""
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", status="closed"), task_record("t-2")],
               make_agent(env["dir"] / "agent.py", WORK))
    _work_on_branch(repo, "t-1.txt", "work of t-1\n", "t-1: its work")
    done = run_cli(repo, "cycle")
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(repo, "show", "main:t-1.txt") == "work of t-1\n"
    assert [e["task"] for e in trace_of(env["trace"]) if e["event"] == "start"] == ["t-2"]


def test_unlanded_work_that_may_not_land_goes_to_a_human(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", status="closed")],
               make_agent(env["dir"] / "agent.py", WORK))
    _work_on_branch(repo, ".github/workflows/ci.yml", "on: push\n", "t-1: a workflow")
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stdout + done.stderr
    assert tasks_of(repo)["t-1"].status == "blocked"
    assert not (repo / ".github").exists()
    assert git(repo, "branch", "--list", "orchestrator/t-1").strip()




def test_a_task_a_human_closed_after_its_escalation_keeps_its_branch_unlanded(
        env: dict[str, Any]) -> None:
    from orchestrator.tasks.history import AttemptRecord, render
    from orchestrator.tasks.jsonl import JsonlStore
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", WORK))
    store = JsonlStore(repo / ".beads" / "issues.jsonl")
    store.comment("t-1", render(AttemptRecord(attempt=3, kind="error", decision="escalate",
                                              digest="three failures")), author="orchestrator")
    store.close(["t-1"], reason="won't do", actor="human")
    git(repo, "commit", "-q", "-am", "a human closed t-1")
    _work_on_branch(repo, "t-1.txt", "half-done work\n", "t-1: half done")
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (repo / "t-1.txt").exists()
    assert git(repo, "rev-parse", "orchestrator/t-1").strip()
