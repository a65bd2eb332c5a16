"""Helpers for the coordinator tests: repositories with a queue and a config, small agent
scripts, and reading back what happened."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import Task
from support.repo import git, write_queue

# An agent script gets: task id, attempt, budget; ORCHESTRATOR_TASK_CMD in its environment.
# It appends one JSON line per start/end to $AGENT_TRACE so tests can check no task ran twice
# at once, and the budget each attempt got.
AGENT_PRELUDE = '''
import json, os, shlex, subprocess, sys, time
task_id, attempt, budget = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TRACE = os.environ.get("AGENT_TRACE")
def trace(event):
    if TRACE:
        with open(TRACE, "a") as f:
            f.write(json.dumps({"task": task_id, "attempt": attempt, "budget": budget,
                                "event": event, "t": time.time(), "cwd": os.getcwd(),
                                "pid": os.getpid()}) + "\\n")
def task(*args):
    cmd = shlex.split(os.environ["ORCHESTRATOR_TASK_CMD"])
    return subprocess.run([*cmd, *args], capture_output=True, text=True, check=True).stdout
def commit(name, text):
    with open(name, "w") as f:
        f.write(text)
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"{task_id}: {name}"], check=True)
import atexit, signal
atexit.register(lambda: trace("end"))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
trace("start")
'''


def make_agent(path: Path, body: str) -> list[str]:
    """Write an agent script; return the agent.command argv template for it."""
    path.write_text(AGENT_PRELUDE + textwrap.dedent(body))
    return [sys.executable, str(path), "{task_id}", "{attempt}", "{budget}"]


def write_config(repo: Path, command: list[str], **dispatch: Any) -> None:
    lines = ["store: jsonl", "agent:", "  profile: command",
             f"  command: {json.dumps(command)}", "  timeout_minutes: 1",
             "  idle_timeout_minutes: 1", "  budgets: [low, medium, high]", "dispatch:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in dispatch.items()] or ["  max_parallel: 1"]
    (repo / ".orchestrator.yml").write_text("\n".join(lines) + "\n")


def setup_repo(repo: Path, records: Iterable[Mapping[str, Any]], command: list[str],
               **dispatch: Any) -> None:
    write_queue(repo, records)
    write_config(repo, command, **dispatch)
    (repo / ".gitignore").write_text("logs/\n.beads/*.lock\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "queue")


def run_cli(repo: Path, *args: str, env: Mapping[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import os
    exe = Path(sys.executable).parent / "orchestrator"
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(exe), "--repo", str(repo), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def tasks_of(repo: Path) -> dict[str, Task]:
    return JsonlStore(repo / ".beads" / "issues.jsonl").all()


def history_of(repo: Path, task_id: str) -> list[AttemptRecord]:
    return read_history(tasks_of(repo)[task_id])


def trace_of(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_never_twice_at_once(trace: list[dict[str, Any]]) -> None:
    """Each task's runs do not overlap: starts and ends alternate per task."""
    open_runs: dict[str, int] = {}
    for ev in sorted(trace, key=lambda e: e["t"]):
        if ev["event"] == "start":
            assert ev["task"] not in open_runs, f"{ev['task']} started while running"
            open_runs[ev["task"]] = ev["attempt"]
        elif ev["event"] == "end":
            open_runs.pop(ev["task"], None)


# An agent whose work is idempotent (tests/test_recovery.py, tests/test_coordinator_bd.py): the
# file is the same on every attempt and committed only when new, so "exactly once" is one commit
# touching it on the working branch, whatever was retried. KILL_AT=launch / closed: the agent
# SIGKILLs the coordinator (its parent) as it starts / after it closed KILL_TASK, the two crash
# points an agent reaches; AGENT_SLEEP holds it before it works.
IDEMPOTENT_WORK = '''
if os.environ.get("KILL_AT") == "launch" and task_id == os.environ.get("KILL_TASK"):
    os.kill(os.getppid(), signal.SIGKILL)
    sys.exit(0)
time.sleep(float(os.environ.get("AGENT_SLEEP", "0")))
with open(f"{task_id}.txt", "w") as f:
    f.write(f"work of {task_id}\\n")
if subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout:
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", f"{task_id}: its work"], check=True)
task("close", task_id, "--reason", "done")
if os.environ.get("KILL_AT") == "closed" and task_id == os.environ.get("KILL_TASK"):
    os.kill(os.getppid(), signal.SIGKILL)
'''
