"""Recovery after a hard stop, and the invariant it restores.

THE INVARIANT: a closed task's work is on the working branch; a task branch
(`orchestrator/<id>`) with commits the working branch does not have belongs to a task that is
not closed (open, claimed or blocked: its work is pending), or to a run still going.

A coordinator killed between "the agent closed its task" and "its commits landed" leaves a
closed task whose work is only on its task branch. Every run checks the invariant before it
plans (`orchestrator run` at its start, and every `plan_cycle`, which is also the GitHub plan
job) and repairs what breaks it: such a branch is landed as `apply_results` would have landed
it (vetted first: protected paths and secrets), or, when it cannot land, the task is reopened
(a conflict: its commits kept on a side branch) or handed to a human (work it may not land).
A closed task is never run again: its work lands without an agent. A task a human closed after
it was escalated to them is theirs: its branch is left alone.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from orchestrator import gitops
from orchestrator.coordinator.landing import queue_paths, vet_branch
from orchestrator.coordinator.ports import Ports
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import attempt_history
from orchestrator.tasks.history import AttemptRecord, read_history, render
from orchestrator.tasks.model import Status, Task, now_rfc3339
from orchestrator.tasks.store import TaskChanges

INVARIANT = ("a closed task's work is on the working branch; a task branch with unlanded "
             "commits belongs to a task that is not closed")


@dataclass(frozen=True)
class Violation:
    task_id: str
    branch: str
    commits: int          # commits on the branch the working branch does not have

    def __str__(self) -> str:
        return (f"{self.task_id} is closed but {self.commits} commit(s) of {self.branch} are not "
                "on the working branch")


def violations(ports: Ports, tasks: Mapping[str, Task],
               live: Collection[str] = ()) -> list[Violation]:
    """Closed tasks (not running) whose task branch has commits the working branch lacks."""
    if not ports.git:
        return []
    out = []
    for task_id, tip in gitops.task_branches(ports.repo).items():
        task = tasks.get(task_id)
        if task is None or task.status != Status.CLOSED or task_id in live:
            continue
        history = read_history(task)
        if history and history[-1].decision == policy.ESCALATE:
            continue  # a human closed it after it was handed over: the branch is theirs to judge
        n = gitops.unlanded_count(ports.repo, tip)
        if n:
            out.append(Violation(task_id, gitops.task_branch(task_id), n))
    return out


def restore_invariant(ports: Ports, tasks: Mapping[str, Task],
                      live: Collection[str] = ()) -> list[str]:
    """Land (or hand back) the work of every closed task that is not on the working branch.
    Returns the task IDs it changed."""
    changed = []
    for v in violations(ports, tasks, live):
        task = tasks[v.task_id]
        attempt = len(attempt_history(task)) + 1
        wt = gitops.branch_worktree(ports.repo, v.task_id)
        if wt.path.is_dir():  # a worktree left behind: what its agent left is part of the work
            gitops.commit_all(wt.path, f"{v.task_id}: work left uncommitted before its "
                              "coordinator stopped", verify=False)
        refused = vet_branch(ports.repo, wt, ports.config,
                             queue_paths(ports.repo, ports.store))
        if refused:
            _record(ports, v.task_id, attempt, "error", policy.ESCALATE,
                    f"Its agent closed it but its work was never landed, and may not be: "
                    f"{refused} The work is on branch {wt.branch}.")
            ports.store.update([v.task_id], TaskChanges(
                status=Status.BLOCKED, assignee="",
                add_labels=(ports.config.github.escalation_label,)), actor=ports.actor)
            ports.forge.alert(v.task_id, f"{v.task_id} needs a human: its unlanded work on "
                              f"{wt.branch} was refused: {refused}")
        else:
            landing = gitops.land_task_branch(ports.repo, wt)
            if landing.ok:
                gitops.remove_task_worktree(ports.repo, wt)
                _record(ports, v.task_id, attempt, "success", policy.DONE,
                        f"Recovered: its agent closed it before its coordinator stopped; "
                        f"{len(landing.commits)} commit(s) landed now.")
                ports.event(f"recover {v.task_id}: landed {len(landing.commits)} commit(s) "
                            "its stopped coordinator never landed")
            else:
                kept = f"{wt.branch}-conflict-{attempt}"
                gitops.rename_branch(ports.repo, wt.branch, kept)
                _record(ports, v.task_id, attempt, "success", policy.REQUEUE,
                        f"Recovered: its agent closed it but its commits did not land "
                        f"({landing.conflict}); they are kept on branch {kept}. The task is "
                        "reopened to redo them on the current tip.")
                ports.store.update([v.task_id], TaskChanges(status=Status.OPEN, assignee=""),
                                   actor=ports.actor)
                ports.event(f"recover {v.task_id}: its unlanded work conflicts; reopened "
                            f"(work kept on {kept})")
        changed.append(v.task_id)
    return changed


def drop_landed_branches(ports: Ports, tasks: Mapping[str, Task],
                         live: Collection[str] = ()) -> list[str]:
    """Delete the task branches (and worktrees) of closed tasks whose work is all on the working
    branch: a coordinator stopped between landing and cleaning up leaves them."""
    out: list[str] = []
    if not ports.git:
        return out
    for task_id, tip in gitops.task_branches(ports.repo).items():
        task = tasks.get(task_id)
        if task is None or task.status != Status.CLOSED or task_id in live:
            continue
        if gitops.unlanded_count(ports.repo, tip) == 0:
            gitops.remove_task_worktree(ports.repo, gitops.branch_worktree(ports.repo, task_id))
            out.append(task_id)
    return out


def drop_stale_leases(ports: Ports, tasks: Mapping[str, Task]) -> list[str]:
    """Remove every lease whose run is gone (a dead pid here, or past its expiry) on a task that
    is not claimed (a claimed task's stale lease is what gets it reclaimed: `reconcile` drops
    that one)."""
    out = []
    root = ports.leases.root
    for task_id in sorted(p.stem for p in root.glob("*.json")) if root.is_dir() else ():
        task = tasks.get(task_id)
        if task is not None and task.status == Status.IN_PROGRESS:
            continue
        ports.leases.drop_stale(task_id)
        if ports.leases.read(task_id) is None:
            out.append(task_id)
    return out


def _record(ports: Ports, task_id: str, attempt: int, kind: str, decision: str,
            digest: str) -> None:
    rec = AttemptRecord(attempt=attempt, kind=kind, decision=decision, digest=digest,
                        at=now_rfc3339())
    ports.store.comment(task_id, render(rec), author=ports.actor)
