"""The coordinator end to end on a real git repository with the JSONL store and real
subprocess agents (small scripts that succeed, crash, hang, leave handoff notes, create a
blocker, or leave the task open): the task's final state, its recorded attempt history, the
budget each attempt got, and that no task ever ran twice at once."""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import config_for_repo
from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.loop import RunSummary, run_loop
from orchestrator.errors import UserError
from orchestrator.forge.local import LocalForge
from orchestrator.leases import lease_dir
from orchestrator.tasks.factory import open_store
from support.agents import default_sigint
from support.dispatch import (
    assert_never_twice_at_once,
    history_of,
    make_agent,
    run_cli,
    setup_repo,
    tasks_of,
    trace_of,
    write_config,
)
from support.repo import git, task_record


def _launcher() -> Any:
    from orchestrator.agents.session import run_task_agent
    return run_task_agent


SUCCEED = '''
commit(f"{task_id}.txt", f"{task_id} attempt {attempt}\\n")
task("close", task_id, "--reason", "done")
trace("end")
'''

FAIL_UNTIL = '''
if attempt < int(os.environ.get("FAIL_UNTIL", "99")):
    print("Traceback (most recent call last):\\nRuntimeError: boom", flush=True)
    sys.exit(1)
''' + SUCCEED

HANDOFF_ONCE = '''
notes = json.loads(task("show", task_id, "--json"))[0].get("notes", "")
if "HANDOFF" not in notes or (os.environ.get("ALWAYS_EXHAUST") == "1"):
    commit(f"{task_id}.part", f"first half, attempt {attempt}\\n")
    task("update", task_id, "--append-notes", f"HANDOFF attempt {attempt}: first half done")
    print("Prompt is too long", flush=True)
    sys.exit(1)
assert os.path.exists(f"{task_id}.part"), "the fresh agent must see the earlier work"
''' + SUCCEED

CREATE_BLOCKER = '''
if task_id == "t-1" and attempt == 1:
    new = task("create", "Fix the auth module first", "-p", "1", "--silent").strip()
    task("dep", "add", task_id, new)
    sys.exit(0)
''' + SUCCEED

LEAVE_OPEN = '''
print("I looked around and decided to stop.")
sys.exit(0)
'''

HANG = '''
print("working...", flush=True)
time.sleep(300)
'''

HANG_FIRST_TRY = '''
if attempt == 1:
    print("working...", flush=True)
    time.sleep(300)
''' + SUCCEED


@pytest.fixture
def env(tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("AGENT_TRACE", str(trace))
    return {"repo": tmp_git_repo, "trace": trace, "dir": tmp_path}


def drain(env: dict[str, Any], records: list[dict], body: str, *, once: bool = False,
          **dispatch: Any) -> tuple[RunSummary, LocalForge]:
    repo = env["repo"]
    command = make_agent(env["dir"] / "agent.py", body)
    setup_repo(repo, records, command, **dispatch)
    config = config_for_repo(repo, None)
    forge = LocalForge(repo / "logs" / "status.md")
    coord = Coordinator(repo=repo, store=open_store(repo, config), config=config, forge=forge,
                        actor="orchestrator", launcher=_launcher())
    summary = run_loop(coord, once=once)
    assert_never_twice_at_once(trace_of(env["trace"]))
    return summary, forge


def budgets(env: dict[str, Any], task_id: str) -> list[str]:
    return [e["budget"] for e in trace_of(env["trace"]) if e["task"] == task_id and e["event"] == "start"]


def test_success_lands_commits_and_closes_epics(env: dict[str, Any]) -> None:
    records = [task_record("e", issue_type="epic"), task_record("t-1", parent="e"),
               task_record("t-2", parent="e", blocks_on=["t-1"]), task_record("t-3")]
    summary, _ = drain(env, records, SUCCEED, max_parallel=2)
    assert summary.exit_code == 0 and summary.remaining == 0
    tasks = tasks_of(env["repo"])
    assert all(t.status == "closed" for t in tasks.values())
    assert tasks["e"].close_reason == "all children closed"
    for tid in ("t-1", "t-2", "t-3"):
        assert [(r.attempt, r.kind, r.decision, r.budget) for r in history_of(env["repo"], tid)] == \
            [(1, "success", "done", "low")]
        assert (env["repo"] / f"{tid}.txt").exists()  # landed on the working branch
    log = git(env["repo"], "log", "--format=%s")
    assert "t-1: t-1.txt" in log and "orchestrator: queue state" in log
    assert git(env["repo"], "status", "--porcelain", "--untracked-files=no") == ""
    assert "orchestrator/" not in git(env["repo"], "branch")  # task branches removed
    assert "| 4 | 0 | 0 | 0 | 0 | 0 | 0 | 4 |" in (env["repo"] / "logs" / "status.md").read_text()


def test_crash_is_retried_with_larger_budgets_then_succeeds(env: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_UNTIL", "3")
    summary, _ = drain(env, [task_record("t-1")], FAIL_UNTIL)
    assert summary.exit_code == 0
    hist = history_of(env["repo"], "t-1")
    assert [(r.kind, r.decision, r.budget) for r in hist] == [
        ("error", "retry", "low"), ("error", "retry", "medium"), ("success", "done", "high")]
    assert budgets(env, "t-1") == ["low", "medium", "high"]
    assert all(r.log_dir.startswith("logs/run/") for r in hist)


def test_three_failures_escalate_to_a_human(env: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    records = [task_record("t-1"), task_record("t-2", blocks_on=["t-1"])]
    summary, forge = drain(env, records, FAIL_UNTIL)
    assert summary.exit_code == 3 and summary.escalated == ("t-1",)
    t = tasks_of(env["repo"])["t-1"]
    assert t.status == "blocked" and "needs-human" in t.labels
    hist = history_of(env["repo"], "t-1")
    assert [(r.attempt, r.decision, r.budget) for r in hist] == [
        (1, "retry", "low"), (2, "retry", "medium"), (3, "escalate", "high")]
    assert "Logs: logs/run/" in t.comments[-1].text
    assert forge.alerts == ["t-1"]
    assert tasks_of(env["repo"])["t-2"].status == "open"  # never dispatched
    status = run_cli(env["repo"], "status").stdout
    assert "Waiting for a human" in status and "t-1" in status.split("Waiting for a human")[1]
    # a human resumes it: a fresh count, the first budget again, no longer labelled as waiting
    monkeypatch.setenv("FAIL_UNTIL", "2")
    run_cli(env["repo"], "task", "update", "t-1", "--status", "open")
    coord = _coordinator(env["repo"])
    assert run_loop(coord).exit_code == 0
    hist = history_of(env["repo"], "t-1")
    assert [(r.attempt, r.decision, r.budget) for r in hist][3:] == [
        (1, "retry", "low"), (2, "done", "medium")]
    assert "needs-human" not in tasks_of(env["repo"])["t-1"].labels


def _coordinator(repo: Path) -> Coordinator:
    config = config_for_repo(repo, None)
    return Coordinator(repo=repo, store=open_store(repo, config), config=config,
                       forge=LocalForge(None), actor="orchestrator", launcher=_launcher())


def test_on_escalation_continue_drains_independent_work(env: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_UNTIL", "99")
    body = 'os.environ["FAIL_UNTIL"] = "99" if task_id == "t-1" else "0"\n' + FAIL_UNTIL
    summary, _ = drain(env, [task_record("t-1"), task_record("t-2")], body,
                       on_escalation="continue", max_attempts=2)
    assert summary.exit_code == 3  # drained what it could, a human is still needed
    tasks = tasks_of(env["repo"])
    assert tasks["t-2"].status == "closed" and tasks["t-1"].status == "blocked"


def test_context_exhaustion_hands_off_with_the_notes_and_the_work(env: dict[str, Any]) -> None:
    summary, _ = drain(env, [task_record("t-1")], HANDOFF_ONCE)
    assert summary.exit_code == 0
    hist = history_of(env["repo"], "t-1")
    assert [(r.kind, r.decision, r.budget) for r in hist] == [
        ("context_exhausted", "handoff", "low"), ("success", "done", "low")]
    assert "HANDOFF attempt 1" in tasks_of(env["repo"])["t-1"].notes
    assert (env["repo"] / "t-1.part").exists()  # the first agent's work landed with the second's


def test_handoffs_are_capped(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALWAYS_EXHAUST", "1")
    summary, _ = drain(env, [task_record("t-1")], HANDOFF_ONCE, max_handoffs=2)
    assert summary.exit_code == 3
    hist = history_of(env["repo"], "t-1")
    assert [r.decision for r in hist] == ["handoff", "handoff", "escalate"]
    assert budgets(env, "t-1") == ["low", "low", "low"]  # handoffs are not failures


def test_discovered_blocker_goes_first_then_the_task_resumes(env: dict[str, Any]) -> None:
    summary, _ = drain(env, [task_record("t-1")], CREATE_BLOCKER)
    assert summary.exit_code == 0
    tasks = tasks_of(env["repo"])
    assert all(t.status == "closed" for t in tasks.values()) and len(tasks) == 2
    new = next(tid for tid in tasks if tid != "t-1")
    order = [e["task"] for e in trace_of(env["trace"]) if e["event"] == "start"]
    assert order == ["t-1", new, "t-1"]
    assert [(r.kind, r.decision) for r in history_of(env["repo"], "t-1")] == [
        ("blocked_by_new_task", "wait"), ("success", "done")]


def test_leaving_the_task_open_is_no_progress_and_retried(env: dict[str, Any]) -> None:
    summary, _ = drain(env, [task_record("t-1")], LEAVE_OPEN, max_attempts=2)
    assert summary.exit_code == 3
    assert [(r.kind, r.decision, r.budget) for r in history_of(env["repo"], "t-1")] == [
        ("no_progress", "retry", "low"), ("no_progress", "escalate", "medium")]


def test_stale_claim_is_reclaimed_as_an_interrupted_attempt(env: dict[str, Any]) -> None:
    repo = env["repo"]
    records = [task_record("t-1", status="in_progress", assignee="orchestrator")]
    # a lease left by a coordinator that died (its pid is gone)
    dead = subprocess.Popen(["true"])
    dead.wait()
    setup_repo(repo, records, make_agent(env["dir"] / "agent.py", SUCCEED))
    leases = lease_dir(repo)
    leases.mkdir(parents=True)
    (leases / "t-1.json").write_text(json.dumps({
        "task_id": "t-1", "pid": dead.pid, "host": socket.gethostname(),
        "started": "2026-01-01T00:00:00Z", "expires": "2999-01-01T00:00:00Z"}))
    coord = _coordinator(repo)
    assert run_loop(coord).exit_code == 0
    assert [(r.attempt, r.kind, r.decision) for r in history_of(repo, "t-1")] == [
        (1, "interrupted", "release"), (2, "success", "done")]


def test_a_live_lease_is_never_run_twice(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", status="in_progress", assignee="orchestrator")],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    leases = lease_dir(repo)
    leases.mkdir(parents=True)
    (leases / "t-1.json").write_text(json.dumps({
        "task_id": "t-1", "pid": os.getppid(), "host": socket.gethostname(),
        "started": "2026-01-01T00:00:00Z", "expires": "2999-01-01T00:00:00Z"}))
    summary = run_loop(_coordinator(repo), once=True)  # `run` would wait for that run to end
    assert summary.attempts == 0 and trace_of(env["trace"]) == []
    assert tasks_of(repo)["t-1"].status == "in_progress"


def test_landing_conflict_requeues_the_task_and_keeps_its_work(env: dict[str, Any]) -> None:
    # both tasks write the same file from the same base: the second to land conflicts
    body = '''
if task_id == "t-2" and attempt == 1:  # write only once t-1's version has landed
    main = os.environ["ORCHESTRATOR_REPO"]
    for _ in range(600):
        if subprocess.run(["git", "-C", main, "cat-file", "-e", "HEAD:shared.txt"]).returncode == 0:
            break
        time.sleep(0.05)
commit("shared.txt", f"{task_id} attempt {attempt}\\n")
task("close", task_id, "--reason", "done")
trace("end")
'''
    summary, _ = drain(env, [task_record("t-1"), task_record("t-2")], body, max_parallel=2)
    assert summary.exit_code == 0
    hist = history_of(env["repo"], "t-2")
    assert [(r.kind, r.decision) for r in hist] == [("success", "requeue"), ("success", "done")]
    assert "orchestrator/t-2-conflict-1" in hist[0].digest
    assert "orchestrator/t-2-conflict-1" in git(env["repo"], "branch")
    assert (env["repo"] / "shared.txt").read_text() == "t-2 attempt 2\n"


def test_interrupt_stops_agents_and_releases_claims(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", HANG))
    coord = _coordinator(repo)
    result: dict[str, Any] = {}

    def interrupt_when_started() -> None:
        while not trace_of(env["trace"]):
            time.sleep(0.05)
        import _thread
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    result["summary"] = run_loop(coord)
    assert result["summary"].exit_code == 130
    t = tasks_of(repo)["t-1"]
    assert t.status == "open"
    assert [(r.kind, r.decision) for r in history_of(repo, "t-1")] == [("interrupted", "release")]
    assert not list(lease_dir(repo).glob("*.json"))


def test_kill_switch_stops_before_launching(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", SUCCEED))
    (repo / ".beads" / "STOP").write_text("")
    summary = run_loop(_coordinator(repo))
    assert summary.exit_code == 3 and "kill switch" in summary.reason
    assert trace_of(env["trace"]) == []


@pytest.mark.parametrize("case, expect", [
    ("cycle", "dependency cycle"),
    ("no-agent", "agent command not found"),
    ("dirty", "uncommitted changes"),
    ("max-parallel", "--max-parallel must be at least 1"),
    ("bad-config", "dispatch.max_parallel must be at least 1"),
    ("bad-budget", "budget 'enormous' (agent.budgets or --budget) is not a claude budget"),
])
def test_bad_input_is_one_line_exit_2_nothing_claimed(env: dict[str, Any], case: str,
                                                      expect: str) -> None:
    repo = env["repo"]
    records = [task_record("t-1"), task_record("t-2")]
    command = make_agent(env["dir"] / "agent.py", SUCCEED)
    if case == "cycle":
        records = [task_record("t-1", blocks_on=["t-2"]), task_record("t-2", blocks_on=["t-1"])]
    if case == "no-agent":
        command = ["/nonexistent/agent", "{task_id}"]
    setup_repo(repo, records, command)
    args = ["run"]
    if case == "dirty":
        (repo / "README.md").write_text("changed\n")
    if case == "max-parallel":
        args = ["run", "--max-parallel", "0"]
    if case == "bad-config":
        (repo / ".orchestrator.yml").write_text("dispatch:\n  max_parallel: 0\n")
    if case == "bad-budget":
        (repo / ".orchestrator.yml").write_text("store: jsonl\nagent:\n  budgets: [high, enormous]\n")
    before = (repo / ".beads" / "issues.jsonl").read_text()
    done = run_cli(repo, *args)
    assert done.returncode == 2, done.stderr
    assert expect in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (repo / ".beads" / "issues.jsonl").read_text() == before  # nothing claimed
    assert trace_of(env["trace"]) == []


def test_plan_and_dry_run_change_nothing(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1"), task_record("t-2", blocks_on=["t-1"]),
                      task_record("s", status="in_progress", assignee="orchestrator")],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    before = (repo / ".beads" / "issues.jsonl").read_text()
    done = run_cli(repo, "plan", "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert [ln["task_id"] for ln in plan["launches"]] == ["s"] or \
        {ln["task_id"] for ln in plan["launches"]} <= {"t-1", "s"}
    assert plan["reclaim"][0]["task_id"] == "s" and plan["blocked"] == {"t-2": ["t-1"]}
    done = run_cli(repo, "cycle", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would reclaim s" in done.stdout and "would claim and launch" in done.stdout
    assert "would comment on s" in done.stdout
    assert (repo / ".beads" / "issues.jsonl").read_text() == before
    assert trace_of(env["trace"]) == []


def test_cycle_task_runs_only_that_task(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1"), task_record("t-2"), task_record("t-3", blocks_on=["t-1"])],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    for args, expect in ((["--task", "nope"], "no task nope in the queue"),
                         (["--task", "t-3"], "task t-3 is blocked by t-1")):
        done = run_cli(repo, "cycle", *args)
        assert done.returncode == 2 and expect in done.stderr
    done = run_cli(repo, "cycle", "--task", "t-2", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["closed"] == ["t-2"] and summary["attempts"] == 1
    assert "claim t-2; launch agent" in done.stderr  # events go to stderr with --json
    tasks = tasks_of(repo)
    assert (tasks["t-1"].status, tasks["t-2"].status) == ("open", "closed")


def test_run_command_prints_plain_lines_and_a_summary(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1"), task_record("t-2", blocks_on=["t-1"])],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ready queue: t-1"
    assert "\r" not in done.stdout and "\033" not in done.stdout  # not a terminal: no live line
    assert lines[-2].startswith("summary: drained (nothing is ready); 2 cycle(s), ")
    assert lines[-1] == "  2 agent run(s): 2 done; 0 task(s) not closed"
    assert "## Orchestrator status" in (repo / "logs" / "status.md").read_text()


def test_run_without_git_works_in_place_with_one_agent(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_TRACE", str(tmp_path / "trace.jsonl"))
    repo = tmp_path / "plain"
    repo.mkdir()
    from support.dispatch import write_config
    from support.repo import write_queue
    write_queue(repo, [task_record("t-1")])
    body = 'open(f"{task_id}.txt", "w").write("x")\ntask("close", task_id)\n'
    write_config(repo, make_agent(tmp_path / "agent.py", body))
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "t-1.txt").exists() and tasks_of(repo)["t-1"].status == "closed"
    write_config(repo, make_agent(tmp_path / "agent.py", body), max_parallel=2)
    done = run_cli(repo, "run")
    assert done.returncode == 2 and "needs a git repository" in done.stderr


def test_stall_guard_stops_a_loop_that_makes_no_progress(env: dict[str, Any],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_UNTIL", "99")
    summary, _ = drain(env, [task_record("t-1")], FAIL_UNTIL, max_attempts=9, stall_cycles=2)
    assert summary.exit_code == 3 and "no progress in 2 cycles" in summary.reason
    assert [r.decision for r in history_of(env["repo"], "t-1")] == ["retry", "retry"]
    assert tasks_of(env["repo"])["t-1"].status == "open"  # nothing lost: a later run goes on


@pytest.mark.parametrize("epic", [
    task_record("e", issue_type="epic", blocks_on=["x"]),  # an open blocker: bd refuses to close
    task_record("e", issue_type="epic", pinned=True),      # pinned: refused too
])
def test_a_container_the_store_will_not_close_does_not_spin_the_loop(
        env: dict[str, Any], epic: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("x", status="blocked"), epic,
                      task_record("c", status="closed", parent="e")],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    done = run_cli(repo, "run", timeout=60)  # it used to retry the close for ever
    assert done.returncode == 0, done.stdout + done.stderr
    assert tasks_of(repo)["e"].status == "open"


def test_a_relative_agent_command_is_found_in_the_repository(env: dict[str, Any]) -> None:
    repo = env["repo"]
    agent = make_agent(env["dir"] / "agent.py", SUCCEED)
    script = repo / "scripts" / "agent"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\nexec {shlex.join(agent[:2])} \"$@\"\n")
    script.chmod(0o755)
    setup_repo(repo, [task_record("t-1")], ["scripts/agent", *agent[2:]])
    done = run_cli(repo, "run")  # from this process's directory, not the repository
    assert done.returncode == 0, done.stdout + done.stderr
    assert tasks_of(repo)["t-1"].status == "closed"
    write_config(repo, ["scripts/missing", "{task_id}"])
    git(repo, "commit", "-qam", "a missing agent")
    done = run_cli(repo, "run")
    assert done.returncode == 2 and "agent command not found: scripts/missing" in done.stderr


@pytest.mark.parametrize("fail_until, cycles", [(0, 4), (2, 8)])  # 2: each fails once
def test_max_cycles_does_not_stop_a_healthy_run(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                                fail_until: int, cycles: int) -> None:
    monkeypatch.setenv("FAIL_UNTIL", str(fail_until))
    records = [task_record(f"t-{i}") for i in range(4)]
    summary, _ = drain(env, records, FAIL_UNTIL, max_cycles=2)
    assert summary.exit_code == 0 and summary.cycles == cycles and len(summary.closed) == 4


def test_max_cycles_counts_cycles_that_close_no_task(env: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL_UNTIL", "99")
    records = [task_record("t-1", priority=1), task_record("t-2", priority=2)]
    summary, _ = drain(env, records, FAIL_UNTIL, max_cycles=2, max_attempts=9, stall_cycles=9)
    assert summary.exit_code == 3 and "max_cycles" in summary.reason
    assert summary.cycles == 2 and [r.decision for r in history_of(env["repo"], "t-1")] == \
        ["retry", "retry"]


def test_a_crashed_run_leaves_nothing_behind_the_next_run_cannot_use(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", status="in_progress", assignee="orchestrator")],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    from orchestrator import gitops
    wt = gitops.create_task_worktree(repo, "t-1")
    (wt.path / "half.txt").write_text("uncommitted work of the crashed run\n")
    summary = run_loop(_coordinator(repo))
    assert summary.exit_code == 0
    assert [(r.kind, r.decision) for r in history_of(repo, "t-1")] == [
        ("interrupted", "release"), ("success", "done")]
    assert (repo / "half.txt").exists() and (repo / "t-1.txt").exists()  # nothing was lost


def test_tampering_with_protected_paths_escalates_at_once(env: dict[str, Any]) -> None:
    body = '''
os.makedirs(".github/workflows", exist_ok=True)
commit(".github/workflows/evil.yml", "on: push\\n")
task("close", task_id, "--reason", "done")
'''
    summary, forge = drain(env, [task_record("t-1")], body)
    assert summary.exit_code == 3 and forge.alerts == ["t-1"]
    hist = history_of(env["repo"], "t-1")
    assert [(r.kind, r.subclass, r.decision) for r in hist] == [("error", "tamper", "escalate")]
    assert ".github/workflows/evil.yml" in hist[0].digest
    t = tasks_of(env["repo"])["t-1"]
    assert t.status == "blocked" and "needs-human" in t.labels
    assert not (env["repo"] / ".github").exists()  # nothing landed
    assert "orchestrator/t-1" in git(env["repo"], "branch")  # the work is kept for review


def test_ctrl_c_on_the_run_command(env: dict[str, Any]) -> None:
    import signal
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1"), task_record("t-2")],
               make_agent(env["dir"] / "agent.py", HANG), max_parallel=2)
    exe = Path(sys.executable).parent / "orchestrator"
    proc = subprocess.Popen([str(exe), "--repo", str(repo), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 60
    while len(trace_of(env["trace"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    # the cycle under way and the runs it stopped are counted; the reason is not said twice
    assert "summary: interrupted; 1 cycle(s)" in out and "  2 agent run(s): 2 release" in out
    for ev in trace_of(env["trace"]):
        with pytest.raises(ProcessLookupError):
            os.kill(ev["pid"], 0)  # the agents were stopped with the coordinator
    for tid in ("t-1", "t-2"):
        t = tasks_of(repo)[tid]
        assert (t.status, t.assignee) == ("open", "")
        assert [(r.kind, r.decision) for r in history_of(repo, tid)] == [("interrupted", "release")]


def test_startup_cleanup_spares_a_worktree_another_coordinator_made_meanwhile(
        env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1"), task_record("t-2")],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    from orchestrator import gitops
    coord = _coordinator(repo)
    left = gitops.create_task_worktree(repo, "t-2")  # a crashed run's leftover
    # the other coordinator leases t-1 and makes its worktree just after our first look
    real_live_runs = Coordinator.live_runs
    made: list[gitops.TaskWorktree] = []

    def first_look_sees_nothing(self: Coordinator, tasks: Any) -> set[str]:
        if not made:
            assert coord.leases.acquire("t-1")  # held by a live pid (this test's)
            made.append(gitops.create_task_worktree(repo, "t-1"))
            return set()
        return real_live_runs(self, tasks)

    monkeypatch.setattr(Coordinator, "live_runs", first_look_sees_nothing)
    coord.prune_leftovers()
    assert made[0].path.is_dir()  # the other coordinator's run is untouched
    assert not left.path.exists()


def test_two_coordinators_on_one_queue_never_run_a_task_twice(env: dict[str, Any]) -> None:
    repo = env["repo"]
    body = '''
time.sleep(0.3)
commit(f"{task_id}.txt", "done\\n")
task("close", task_id, "--reason", "done")
trace("end")
'''
    records = [task_record(f"t-{i}") for i in range(6)]
    setup_repo(repo, records, make_agent(env["dir"] / "agent.py", body), max_parallel=2)
    exe = Path(sys.executable).parent / "orchestrator"
    procs = [subprocess.Popen([str(exe), "--repo", str(repo), "run"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    claims = [line.split()[1].rstrip(";") for out, _ in outs for line in out.splitlines()
              if line.startswith("claim ")]
    assert sorted(claims) == [f"t-{i}" for i in range(6)]  # between them, each claimed once
    trace = trace_of(env["trace"])
    assert_never_twice_at_once(trace)
    starts = [e["task"] for e in trace if e["event"] == "start"]
    assert sorted(starts) == [f"t-{i}" for i in range(6)]  # each task ran exactly once
    tasks = tasks_of(repo)
    assert all(t.status == "closed" for t in tasks.values())
    for i in range(6):
        assert [r.decision for r in history_of(repo, f"t-{i}")] == ["done"]
        assert (repo / f"t-{i}.txt").exists()


def test_a_hanging_agent_times_out_and_is_retried_with_a_larger_budget(env: dict[str, Any]) -> None:
    import dataclasses
    repo = env["repo"]
    body = HANG_FIRST_TRY
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", body))
    config = config_for_repo(repo, None)
    # the config file allows whole minutes only; a test's clock is shorter
    config = dataclasses.replace(config, agent=dataclasses.replace(config.agent,
                                                                   timeout_minutes=0.03))
    coord = Coordinator(repo=repo, store=open_store(repo, config), config=config,
                        forge=LocalForge(None), actor="orchestrator", launcher=_launcher())
    assert run_loop(coord).exit_code == 0
    assert [(r.kind, r.decision, r.budget) for r in history_of(repo, "t-1")] == [
        ("timeout", "retry", "low"), ("success", "done", "medium")]
    assert_never_twice_at_once(trace_of(env["trace"]))


def test_a_task_deleted_by_its_agent_stops_the_loop_with_an_alert(env: dict[str, Any]) -> None:
    repo = env["repo"]
    body = '''
path = os.path.join(os.environ["ORCHESTRATOR_REPO"], ".beads", "issues.jsonl")
lines = [l for l in open(path) if '"t-1"' not in l]
open(path, "w").writelines(lines)
'''
    setup_repo(repo, [task_record("t-1"), task_record("t-2")],
               make_agent(env["dir"] / "agent.py", body))
    coord = _coordinator(repo)
    with pytest.raises(UserError, match="^task t-1 disappeared from the queue during its run$"):
        run_loop(coord)
    assert coord.forge.alerts == ["t-1"]  # type: ignore[attr-defined]
    assert not list(lease_dir(repo).glob("*.json"))
    assert tasks_of(repo)["t-2"].status == "open"


def test_cost_cap_stops_launching_when_agents_report_cost(env: dict[str, Any]) -> None:
    # the agent speaks claude's stream-json (the command profile parses it) and reports $0.60
    body = '''
commit(f"{task_id}.txt", "done\\n")
task("close", task_id, "--reason", "done")
print(json.dumps({"type": "system", "subtype": "init", "session_id": "s", "model": "m",
                  "tools": [], "cwd": os.getcwd()}), flush=True)
print(json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                  "result": "done", "session_id": "s", "total_cost_usd": 0.6,
                  "usage": {"input_tokens": 10, "output_tokens": 5}}), flush=True)
trace("end")
'''
    records = [task_record(f"t-{i}") for i in range(4)]
    summary, _ = drain(env, records, body, max_cost_usd=1.0)
    assert summary.exit_code == 3 and "max_cost_usd" in summary.reason
    assert len(summary.closed) == 2 and round(summary.cost_usd, 2) == 1.2
    assert [r.cost_usd for r in history_of(env["repo"], summary.closed[0])] == [0.6]


def test_a_coordinator_killed_hard_leaves_no_second_agent_running(env: dict[str, Any]) -> None:
    repo = env["repo"]
    # the first try prints nothing: once its coordinator is gone its stdout is a broken pipe,
    # and a print would end it by itself before the next coordinator could find it
    body = "if attempt == 1:\n    time.sleep(300)\n" + SUCCEED
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", body))
    exe = Path(sys.executable).parent / "orchestrator"
    proc = subprocess.Popen([str(exe), "--repo", str(repo), "run"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not trace_of(env["trace"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no cleanup; its agent runs on in its own process group
    proc.wait()
    orphan = trace_of(env["trace"])[0]["pid"]
    os.kill(orphan, 0)  # still running
    summary = run_loop(_coordinator(repo))
    assert summary.exit_code == 0
    trace = trace_of(env["trace"])
    assert_never_twice_at_once(trace)  # the orphan ended before the new agent started
    assert [e["event"] for e in trace][:3] == ["start", "end", "start"]
    hist = history_of(repo, "t-1")
    assert [(r.kind, r.decision) for r in hist] == [("interrupted", "release"), ("success", "done")]
    assert "orphaned agent" in hist[0].digest
    with contextlib.suppress(ChildProcessError):
        os.waitpid(orphan, os.WNOHANG)
    try:
        state = Path(f"/proc/{orphan}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    assert state in ("gone", "Z")


def test_a_fresh_claim_without_a_lease_is_left_alone_until_the_lease_time(env: dict[str, Any]) -> None:
    from orchestrator.tasks.model import now_rfc3339
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", status="in_progress", assignee="orchestrator",
                                  started_at=now_rfc3339()),
                      task_record("t-2", status="in_progress", assignee="orchestrator",
                                  started_at="2026-01-01T00:00:00Z")],
               make_agent(env["dir"] / "agent.py", SUCCEED), max_parallel=2)
    summary = run_loop(_coordinator(repo), once=True)
    tasks = tasks_of(repo)
    assert tasks["t-1"].status == "in_progress" and history_of(repo, "t-1") == []
    assert tasks["t-2"].status == "closed"  # claimed long ago with no lease: reclaimed, run
    assert summary.attempts == 1


def test_plan_text_names_kind_attempt_budget_and_why(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1", title="Plan features for p2", priority=1),
                      task_record("t-2", title="Run full regression pack", blocks_on=["t-1"])],
               make_agent(env["dir"] / "agent.py", SUCCEED))
    done = run_cli(repo, "plan")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ready: t-1",
        "claim and launch t-1 (plan_features, attempt 1, budget low; first try): "
        "Plan features for p2",
    ]
    done = run_cli(repo, "cycle", "--dry-run", "--json")
    assert json.loads(done.stdout)["launches"][0]["kind"] == "plan_features"


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_run_releases_the_claim_and_names_itself_in_the_exit_code(
        env: dict[str, Any], sig: signal.Signals, code: int) -> None:
    """Ctrl-C and SIGTERM (a CI runner cancelling the job) stop `orchestrator run` alike."""
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", HANG))
    exe = Path(sys.executable).parent / "orchestrator"
    proc = subprocess.Popen([str(exe), "--repo", str(repo), "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        while not trace_of(env["trace"]):  # until the agent runs
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, (out, err)
    assert tasks_of(repo)["t-1"].status == "open"
    assert [(r.kind, r.decision) for r in history_of(repo, "t-1")] == [("interrupted", "release")]
    assert not list(lease_dir(repo).glob("*.json"))


def test_agents_work_under_the_configured_worktree_root(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", SUCCEED))
    with open(repo / ".orchestrator.yml", "a") as f:
        f.write("git:\n  worktree_root: ../task-worktrees\n")
    git(repo, "commit", "-qam", "worktrees beside the repository")
    assert run_loop(_coordinator(repo)).exit_code == 0
    (start,) = [e for e in trace_of(env["trace"]) if e["event"] == "start"]
    assert Path(start["cwd"]).resolve().parent == (repo.parent / "task-worktrees").resolve()
    assert tasks_of(repo)["t-1"].status == "closed" and (repo / "t-1.txt").is_file()
