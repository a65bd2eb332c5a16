"""The coordinator on a real bd database (bd built by .ci/install-bd): `orchestrator run` with a
scripted agent that updates its task through `bd` itself. One run covers a retry, a handoff,
a discovered blocker and an escalation; every attempt is recorded on its task (`bd show`
lists the comments) and no claim is left behind. And tests/test_recovery.py's crash points on
a bd database: killed at any of them, the next run loses nothing (one point in CI, all five with
ORCHESTRATOR_BD_CRASH_POINTS=all)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import BdConfig
from orchestrator.coordinator import crashpoints
from orchestrator.leases import lease_dir
from orchestrator.tasks.bd import BdStore
from orchestrator.tasks.history import read_history
from support.bd import BD_ENV, RealBd, bd_binary, install_on_path
from support.dispatch import (
    AGENT_PRELUDE,
    IDEMPOTENT_WORK,
    assert_never_twice_at_once,
    run_cli,
    trace_of,
)
from support.repo import git, task_record

AGENT = AGENT_PRELUDE + '''
def bd(*args):
    return task(*args)
if task_id == "t-retry" and attempt == 1:
    print("Traceback (most recent call last):\\nRuntimeError: boom", flush=True)
    sys.exit(1)
if task_id == "t-handoff" and "HANDOFF" not in json.loads(bd("show", task_id, "--json"))[0].get("notes", ""):
    bd("update", task_id, "--append-notes", "HANDOFF: first half done")
    print("Prompt is too long", flush=True)
    sys.exit(1)
if task_id == "t-blocked" and attempt == 1:
    new = json.loads(bd("create", "--title", "Fix the auth module first", "-p", "1", "--json"))["id"]
    bd("dep", "add", task_id, new)
    sys.exit(0)
if task_id == "t-stuck":
    print("Traceback (most recent call last):\\nRuntimeError: always", flush=True)
    sys.exit(1)
bd("close", task_id, "--reason", "done")
'''


def bd_repo(repo: Path, tmp_path: Path, monkeypatch: Any, records: list[dict[str, Any]],
            agent_body: str) -> tuple[RealBd, Path]:
    """`repo` with a bd database holding `records` and `.orchestrator.yml` for the bd store and
    an agent running `agent_body`; returns the database and the agent's trace file."""
    binary = bd_binary()
    bin_dir = install_on_path(binary, tmp_path / "bin")
    trace = tmp_path / "trace.jsonl"
    env = {**BD_ENV, "AGENT_TRACE": str(trace),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("BD_JSON_ENVELOPE")
    for key in ("BEADS_DIR", "BD_JSON_ENVELOPE", "BD_ACTOR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    bd = RealBd(binary, repo).init("t")
    bd.import_records(records)
    agent = tmp_path / "agent.py"
    agent.write_text(agent_body)
    command = [os.sys.executable, str(agent), "{task_id}", "{attempt}", "{budget}"]
    (repo / ".orchestrator.yml").write_text("\n".join([
        "store: bd", "bd:", f"  path: {bin_dir / 'bd'}", "  bootstrap: false", "  push: false",
        "agent:", "  profile: command", f"  command: {json.dumps(command)}",
        "  timeout_minutes: 2", "  idle_timeout_minutes: 2", "  budgets: [low, medium, high]",
        "dispatch:", "  max_parallel: 1", "  max_attempts: 2"]) + "\n")
    (repo / ".gitignore").write_text("logs/\n.beads/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "config")
    return bd, trace


def test_run_on_a_bd_database(tmp_git_repo: Path, tmp_path: Path, monkeypatch: Any) -> None:
    repo = tmp_git_repo
    # t-stuck sorts last (P3): the others drain before it is escalated and stops the run
    records = [task_record("t-retry", priority=1), task_record("t-handoff", priority=1),
               task_record("t-blocked", priority=1), task_record("t-stuck", priority=3)]
    bd, trace = bd_repo(repo, tmp_path, monkeypatch, records, AGENT)
    binary = bd.binary

    done = run_cli(repo, "run", timeout=900)
    assert done.returncode == 3, done.stdout + done.stderr  # stopped for a human: t-stuck
    assert_never_twice_at_once(trace_of(trace))

    exported = {r["id"]: r for r in bd.export()}
    store = BdStore(repo, BdConfig(path=str(binary)))
    tasks = {t.id: t for t in store.show(list(exported))}
    new = next(tid for tid in tasks if tid not in {r["id"] for r in records})
    assert {tid: t.status for tid, t in tasks.items()} == {
        "t-retry": "closed", "t-handoff": "closed", "t-blocked": "closed", new: "closed",
        "t-stuck": "blocked"}
    assert "needs-human" in tasks["t-stuck"].labels
    assert not [t for t in tasks.values() if t.status == "in_progress"]  # no claim left behind

    def decisions(tid: str) -> list[tuple[str, str]]:
        return [(r.kind, r.decision) for r in read_history(tasks[tid])]
    assert decisions("t-retry") == [("error", "retry"), ("success", "done")]
    assert decisions("t-handoff") == [("context_exhausted", "handoff"), ("success", "done")]
    assert decisions("t-blocked") == [("blocked_by_new_task", "wait"), ("success", "done")]
    assert decisions("t-stuck") == [("error", "retry"), ("error", "escalate")]
    assert "HANDOFF: first half done" in tasks["t-handoff"].notes
    order = [e["task"] for e in trace_of(trace) if e["event"] == "start"]
    assert order.index(new) < len(order) - 1 - order[::-1].index("t-blocked")


# tests/test_recovery.py's idempotent agent (support.dispatch.IDEMPOTENT_WORK), over bd.
WORK = AGENT_PRELUDE + IDEMPOTENT_WORK

# tests/test_recovery.py's five points. Each costs two runs over a bd database (about a minute
# on the shared 2-core CI machine), so CI runs one; ORCHESTRATOR_BD_CRASH_POINTS=all (or a
# comma-separated list) runs more.
CRASH_POINTS = ("claimed", "launch", "closed", "landed", "queue-committed")
_WANTED = os.environ.get("ORCHESTRATOR_BD_CRASH_POINTS", "claimed")
WANTED = CRASH_POINTS if _WANTED == "all" else tuple(_WANTED.split(","))


def _orphans_done(trace: Path) -> None:
    """The killed run's agents finish by themselves (their task command needs no
    coordinator); wait for them so the rerun sees what they did."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = [e["event"] for e in trace_of(trace)]
        if events.count("start") == events.count("end"):
            return
        time.sleep(0.1)


@pytest.mark.parametrize("point", [
    pytest.param(p, marks=() if p in WANTED else pytest.mark.skip(
        reason=f"crash point {p} on bd: set ORCHESTRATOR_BD_CRASH_POINTS=all"))
    for p in CRASH_POINTS])
def test_a_run_killed_at_any_step_on_bd_loses_nothing(tmp_git_repo: Path, tmp_path: Path,
                                                       monkeypatch: Any, point: str) -> None:
    """SIGKILLed at each of the coordinator's crash points over a bd database, the next run
    releases what the killed one held (a claim in bd, a lease, a worktree), lands a task its
    agent closed without running it again, and drains the queue: each task closed in bd with
    its work on main exactly once."""
    repo = tmp_git_repo
    ids = ["t-1", "t-2", "t-3"]
    bd, trace = bd_repo(repo, tmp_path, monkeypatch, [task_record(t) for t in ids], WORK)
    kill = {"ORCHESTRATOR_CRASH_AT": point} if point in crashpoints.POINTS \
        else {"KILL_AT": point, "KILL_TASK": "t-2"}
    killed = run_cli(repo, "run", env=kill, timeout=900)
    if point == "queue-committed":
        # bd keeps the queue in its own database: there is no queue-state commit to die after
        # (queue_state.commit_queue_state is the JSONL store's), so the run is never killed
        assert killed.returncode == 0, killed.stdout + killed.stderr
    else:
        assert killed.returncode == -9, killed.stdout + killed.stderr
    if point == "claimed":
        assert [r["id"] for r in bd.export() if r["status"] == "in_progress"] == ["t-1"]
    if point == "closed":  # the agent closed t-2 in bd; its work is on its branch only
        assert {r["id"]: r["status"] for r in bd.export()}["t-2"] == "closed"
        assert not git(repo, "log", "--format=%H", "main", "--", "t-2.txt").strip()
    _orphans_done(trace)

    done = run_cli(repo, "run", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    exported = {r["id"]: r for r in bd.export()}
    assert {t: exported[t]["status"] for t in ids} == {t: "closed" for t in ids}
    for tid in ids:
        assert len(git(repo, "log", "--format=%H", "main", "--", f"{tid}.txt").split()) == 1
        assert git(repo, "show", f"main:{tid}.txt") == f"work of {tid}\n"
    assert not git(repo, "branch", "--list", "orchestrator/*").strip()
    assert not list(lease_dir(repo).glob("*.json"))
    starts = [e["task"] for e in trace_of(trace) if e["event"] == "start"]
    if point == "closed":  # its agent closed it: the next run lands its work without an agent
        assert starts.count("t-2") == 1
        assert "recover t-2" in done.stdout
    elif point in ("claimed", "queue-committed"):  # no agent had started when it died
        assert starts == ids
