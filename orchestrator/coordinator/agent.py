"""RUN AGENTS: one agent on one claimed task, in its worktree, ending in a result record.

`run_agent` is what a worker thread of `orchestrator run` calls and what the GitHub workflow's
agent job calls: it runs the agent (`agents.session.run_task_agent`), commits what the agent
left uncommitted to the task branch, checks the protected paths, and returns the run as a
`ResultRecord`, also written as `result.json` beside the run's logs. It changes nothing in the
queue beyond what the agent itself did: applying the result is `apply.apply_results`' job.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from orchestrator import gitops, runlog
from orchestrator.agents.outcome import Outcome
from orchestrator.agents.session import AgentRun, run_task_agent
from orchestrator.config import Config
from orchestrator.coordinator import confine
from orchestrator.coordinator.landing import queue_paths
from orchestrator.coordinator.results import Commits, ResultRecord, task_effects
from orchestrator.dispatch.plan import Launch
from orchestrator.errors import UserError
from orchestrator.fileio import write_atomic
from orchestrator.tasks.history import AttemptRecord
from orchestrator.tasks.model import Task
from orchestrator.tasks.store import TaskStore

Launcher = Callable[..., AgentRun]   # orchestrator.agents.session.run_task_agent's signature
BUNDLE = "commits.bundle"


def default_launcher() -> Launcher:
    return run_task_agent


def relative(path: Path | str | None, repo: Path) -> str:
    """A path as the attempt record shows it: relative to the repository when inside it."""
    if not path:
        return ""
    p = Path(path)
    with contextlib.suppress(ValueError):
        return str(p.resolve().relative_to(repo))
    return str(p)


def _snapshot(store: TaskStore) -> Mapping[str, Task] | None:
    try:
        return store.all()
    except UserError:
        return None


def run_agent(launch: Launch, *, repo: Path, store: TaskStore, config: Config,
              worktree: gitops.TaskWorktree | None, task_cmd: str,
              history: Sequence[AttemptRecord] = (), stop: threading.Event | None = None,
              launcher: Launcher | None = None, extra_env: Mapping[str, str] | None = None,
              bundle: bool = False) -> ResultRecord:
    """Run one agent on the task `launch` names (already claimed) and return its result. A
    setup problem (unknown task, agent not found) is a UserError and no record is made. With
    bundle, the task branch's new commits go into a git bundle beside result.json."""
    repo = Path(repo).resolve()
    before = _snapshot(store) or {}
    refs = gitops.protected_refs(repo) if worktree is not None else {}
    since = gitops.ref_seq(repo) if worktree is not None else 0
    run = (launcher or default_launcher())(
        repo=repo, store=store, config=config, task_id=launch.task_id, attempt=launch.attempt,
        budget=launch.budget, workdir=worktree.path if worktree else None,
        history=tuple(history), stop=stop, extra_env=extra_env, task_cmd=task_cmd)
    effects = task_effects(launch.task_id, before, _snapshot(store))
    refused = confine.read_refused(Path(run.log_dir))
    if refused:
        effects = dataclasses.replace(effects, refused=refused)
    outcome = run.outcome
    commits = Commits()
    if worktree is not None:
        outcome, commits = _seal_worktree(repo, worktree, launch, outcome, config,
                                          queue_paths(repo, store))
        moved = gitops.guard_refs(repo, refs, since, launch.task_id)
        if moved:
            outcome = dataclasses.replace(
                outcome, kind="error", subclass="tamper", retryable=False,
                digest="The agent moved git refs it may not: " + "; ".join(moved) + ".")
    log_dir = Path(run.log_dir)
    if bundle and worktree is not None and \
            gitops.write_task_bundle(repo, worktree, log_dir / BUNDLE) is not None:
        commits = dataclasses.replace(commits, bundle=BUNDLE)
    record = ResultRecord(
        task_id=launch.task_id, attempt=launch.attempt, kind=launch.kind, budget=run.budget,
        log_dir=relative(log_dir, repo), started_at=run.started_at, outcome=outcome,
        effects=effects, commits=commits, profile=run.profile, duration_s=run.duration_s)
    write_atomic(log_dir / runlog.RESULT, json.dumps(record.to_json(), indent=2) + "\n")
    return record


def _seal_worktree(repo: Path, wt: gitops.TaskWorktree, launch: Launch, outcome: Outcome,
                   config: Config, protected: Sequence[str] = ()) -> tuple[Outcome, Commits]:
    """Commit the agent's leftovers to the task branch and judge what it may not change."""
    message = f"{launch.task_id}: work left uncommitted by attempt {launch.attempt}"
    refused = ""
    try:
        gitops.commit_all(wt.path, message)
    except UserError as e:
        # a git hook refused the leftovers: keep them on the task branch anyway (never lose
        # work), but do not count the run as a success
        refused = str(e)
        gitops.commit_all(wt.path, message + " (a git hook refused it)", verify=False)
    # the worktree's copy of the queue is not the live queue (the task command writes that):
    # an agent that edits the copy is tampering, not racing another lander
    tampered = gitops.tampered_paths(wt.path, wt.base,
                                     extra=(*config.git.tamper_paths, *protected))
    if tampered:
        outcome = dataclasses.replace(outcome, kind="error", subclass="tamper", retryable=False,
                                      digest="The agent changed protected paths: "
                                      + ", ".join(tampered) + ".")
    elif refused:
        outcome = dataclasses.replace(outcome, kind="error", subclass="hook", retryable=True,
                                      digest="A git hook refused the work the agent left "
                                      f"uncommitted: {refused}")
    commits = Commits(base=wt.base, head=gitops.head_commit(wt.path), branch=wt.branch,
                      worktree=str(wt.path), update=wt.update)
    return outcome, commits
