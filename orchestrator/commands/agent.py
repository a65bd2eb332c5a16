"""`orchestrator agent --task ID`: run one agent on one task (a manual single task).

Claims the task if it is open, runs the agent, records the attempt on the task as a comment
(`orchestrator.tasks.history`), releases the claim when the task is not done, and prints the
outcome. Exit 0 on success, 1 otherwise.
"""
from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.agents.session import AgentRun, run_task_agent, run_to_dict, task_command
from orchestrator.config import Config
from orchestrator.dispatch.policy import since_last_reset
from orchestrator.errors import UserError
from orchestrator.tasks.history import AttemptRecord, read_history, render
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import TaskChanges, TaskStore


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C or SIGTERM ends the agent's process group and the run is recorded as interrupted."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _relative(path: Path, repo: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo.resolve()))
    except ValueError:
        return str(path)


def describe(run: AgentRun, repo: Path) -> str:
    o = run.outcome
    bits = [f"attempt {run.attempt}", f"profile {run.profile}"]
    if run.budget:
        bits.append(f"budget {run.budget}")
    bits.append(f"{run.duration_s:.1f}s")
    if o.cost_usd is not None:
        bits.append(f"${o.cost_usd:.4f}")
    head = f"{run.task_id}: {o.kind}" + (f" ({o.subclass})" if o.subclass else "") + f" [{', '.join(bits)}]"
    lines = [head, o.digest]
    if o.new_blockers:
        lines.append("new blockers: " + ", ".join(o.new_blockers))
    lines.append(f"logs: {_relative(run.log_dir, repo)}")
    return "\n".join(line for line in lines if line)


def agent(repo: Path, store: TaskStore, config: Config, *, task_id: str, attempt: int | None,
          profile: str | None, budget: str | None, actor: str, as_json: bool,
          config_path: str | None = None, store_kind: str | None = None) -> int:
    if attempt is not None and attempt < 1:  # before the claim: a refused run holds no task
        raise UserError(f"--attempt {attempt}: must be 1 or more")
    task = store.show([task_id])[0]
    if task.status == Status.CLOSED:
        raise UserError(f"task {task_id} is closed; reopen it first "
                        f"({store.task_cmd} update {task_id} --status open)")
    claimed = False
    if task.status == Status.OPEN:
        task = store.claim(task_id, actor=actor)
        claimed = True
    elif task.status != Status.IN_PROGRESS:
        raise UserError(f"task {task_id} is {task.status}, not open or in_progress")
    elif task.assignee and task.assignee != actor:  # one agent per task
        raise UserError(f"task {task_id} is in progress, claimed by {task.assignee}: another agent "
                        f"may be on it (to take it over: {store.task_cmd} update {task_id} "
                        f"--status open --assignee \"\")")
    history = since_last_reset(read_history(task))
    attempt = attempt or len(history) + 1
    try:
        with _stop_on_signals() as stop:
            cmd = task_command(store, repo, repo, config_path=config_path, store_kind=store_kind)
            run = run_task_agent(repo=repo, store=store, config=config, task_id=task_id,
                                 attempt=attempt, budget=budget, profile=profile, history=history,
                                 stop=stop, task_cmd=cmd)
    except UserError:
        if claimed:  # nothing ran: give the task back
            store.update([task_id], TaskChanges(status=Status.OPEN, assignee=""), actor=actor)
        raise
    o = run.outcome
    record = AttemptRecord(attempt=run.attempt, kind=o.kind, subclass=o.subclass, budget=run.budget,
                           digest=o.digest, log_dir=_relative(run.log_dir, repo), at=run.started_at,
                           cost_usd=o.cost_usd)
    store.comment(task_id, render(record), author=actor)
    released = False
    if o.kind != "success":
        now = store.show([task_id])[0]
        if now.status == Status.IN_PROGRESS:  # not done: back in the queue, unassigned, so
            # anyone may claim it next (a claim refuses a task assigned to another actor)
            store.update([task_id], TaskChanges(status=Status.OPEN, assignee=""), actor=actor)
            released = True
    if as_json:
        print(json.dumps(run_to_dict(run) | {"released": released}, indent=2))
    else:
        print(describe(run, repo))
        if released:
            print(f"{task_id} is open again for the next attempt.")
    return 0 if o.kind == "success" else 1
