"""APPLY RESULTS: turn result records into queue state and landed commits. The single writer.

For each `ResultRecord` (from this process or from another machine's result.json):
apply the agent's task changes (idempotently: a local run's agent already wrote them to the
shared queue, a distributed run's did not), judge the run with `policy.decide`, land the task
branch on the working branch when the task is done (rebased; a conflict requeues the task and
keeps its commits on a side branch), record the attempt on the task, release its claim, and
tell the forge. Then the queue file is committed when it changed (`queue_state`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import gitops
from orchestrator.agents.outcome import Outcome
from orchestrator.coordinator.ports import Ports
from orchestrator.coordinator.queue_state import commit_queue_state
from orchestrator.coordinator.results import ResultRecord, TaskEffects
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import attempt_history
from orchestrator.errors import UserError
from orchestrator.forge.status import resume_hint
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.model import Status, Task, now_rfc3339
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore


@dataclass(frozen=True)
class Applied:
    """What happened to one finished run."""

    task_id: str
    decision: policy.Decision
    record: AttemptRecord
    landed: tuple[str, ...] = ()      # commits that landed on the working branch
    note: str = ""                    # landing conflict, ...


def apply_results(ports: Ports, results: Sequence[ResultRecord], *,
                  commit_queue: bool = True) -> list[Applied]:
    """Apply each result in order; a task that vanished from the queue is a UserError after
    the results before it were applied."""
    out = [apply_result(ports, r) for r in results]
    if commit_queue:
        commit_queue_state(ports)
    return out


def task_worktree(ports: Ports, result: ResultRecord) -> gitops.TaskWorktree | None:
    """The task branch a result's commits are on: a bundle is fetched into this repository;
    a local run's worktree is used as it is."""
    c = result.commits
    if not ports.git or not c.branch:
        return None
    if c.bundle:
        return gitops.fetch_task_bundle(ports.repo, Path(c.bundle), result.task_id)
    return gitops.TaskWorktree(result.task_id, Path(c.worktree), c.branch, c.base, c.update)


def apply_task_effects(store: TaskStore, task_id: str, effects: TaskEffects, *,
                       actor: str) -> None:
    """Make the queue show what the agent did; what it already shows is left alone."""
    if not effects.readable:
        return
    now = store.all()
    for t in effects.created:
        if t.id not in now:
            store.create(NewTask(title=t.title, issue_type=t.issue_type, priority=t.priority,
                                 description=t.description, design=t.design,
                                 acceptance_criteria=t.acceptance_criteria, notes=t.notes,
                                 labels=t.labels, id=t.id), actor=actor)
    edges = [(t.id, d.depends_on_id, d.type) for t in effects.created for d in t.dependencies]
    edges += [(d.issue_id, d.depends_on_id, d.type) for d in effects.deps_added]
    now = store.all()
    for issue, on, kind in edges:
        have = now.get(issue)
        if have is not None and on in now and not any(
                d.depends_on_id == on and d.type == kind for d in have.dependencies):
            store.dep_add(issue, on, dep_type=kind, actor=actor)
    mine = now.get(task_id)
    if mine is None:
        return
    seen = {(c.author, c.text) for c in mine.comments}
    for c in effects.comments:
        if (c.author, c.text) not in seen:
            store.comment(task_id, c.text, author=c.author)
    if effects.notes and effects.notes != mine.notes:
        store.update([task_id], TaskChanges(notes=effects.notes), actor=actor)
    if effects.status == Status.CLOSED and mine.status != Status.CLOSED:
        store.close([task_id], reason=effects.close_reason or "closed by its agent", actor=actor)


def apply_result(ports: Ports, result: ResultRecord) -> Applied:
    store, task_id = ports.store, result.task_id
    apply_task_effects(store, task_id, result.effects, actor=ports.actor)
    wt = task_worktree(ports, result)
    task = store.all().get(task_id)
    if task is None:  # the agent deleted it: nothing to record on, a human must look
        if wt is not None:
            gitops.remove_task_worktree(ports.repo, wt, keep_branch=True)
        ports.leases.release(task_id)
        ports.forge.alert(task_id, f"task {task_id} disappeared from the queue during its run; "
                          f"its work is on branch {gitops.task_branch(task_id)}; logs: "
                          f"{result.log_dir}")
        raise UserError(f"task {task_id} disappeared from the queue during its run")
    outcome = result.outcome
    decision = policy.decide(task, attempt_history(task), outcome, ports.config)
    action, note = decision.action, ""
    landed: tuple[str, ...] = ()
    if wt is not None:
        if action == policy.DONE:
            landing = gitops.land_task_branch(ports.repo, wt)
            if landing.ok:
                landed = landing.commits
                gitops.remove_task_worktree(ports.repo, wt)
            else:
                kept = _keep_conflicting_branch(ports, wt, result.attempt)
                note = (f"Its commits did not land ({landing.conflict}); they are kept on "
                        f"branch {kept}. The task is reopened to redo them on the current tip.")
                action = policy.REQUEUE
        else:
            gitops.remove_task_worktree(ports.repo, wt, keep_branch=True)
    record = AttemptRecord(
        attempt=decision.attempt, kind=outcome.kind, subclass=outcome.subclass,
        budget=result.budget, digest=_digest(ports.repo, result, wt, note, action, decision),
        log_dir=result.log_dir, at=result.started_at or now_rfc3339(), decision=action,
        cost_usd=outcome.cost_usd)
    store.comment(task_id, render(record), author=ports.actor)
    _set_state(ports, task, action, decision)
    ports.leases.release(task_id)
    applied = Applied(task_id, decision, record, landed, note)
    report_applied(ports, applied, outcome)
    return applied


def _digest(repo: Path, result: ResultRecord, wt: gitops.TaskWorktree | None, note: str,
            action: str, decision: policy.Decision) -> str:
    digest = result.outcome.digest or ""
    if result.commits.update.startswith("kept "):
        digest = (digest + " The attempt ran on its earlier branch, not rebased onto the "
                  f"current tip ({result.commits.update}).").strip()
    if note:
        digest = (digest + " " + note).strip()
    if wt is not None and (action == policy.ESCALATE or decision.releases) \
            and gitops.branch_commits(repo, wt):  # not a branch with nothing on it
        digest = (digest + f" Work so far is on branch {wt.branch}.").strip()
    return digest


def _set_state(ports: Ports, task: Task, action: str, decision: policy.Decision) -> None:
    if action == policy.REQUEUE or decision.releases:
        ports.store.update([task.id], TaskChanges(status=Status.OPEN, assignee=""),
                           actor=ports.actor)
    elif action == policy.ESCALATE:
        ports.store.update([task.id], TaskChanges(
            status=Status.BLOCKED, assignee="",
            add_labels=(ports.config.github.escalation_label,)), actor=ports.actor)


def _keep_conflicting_branch(ports: Ports, wt: gitops.TaskWorktree, attempt: int) -> str:
    """Move the task branch aside so the next try starts from the current tip."""
    kept = f"{wt.branch}-conflict-{attempt}"
    gitops.remove_task_worktree(ports.repo, wt, keep_branch=True)
    gitops.rename_branch(ports.repo, wt.branch, kept)
    return kept


def report_applied(ports: Ports, a: Applied, outcome: Outcome) -> None:
    d = a.decision
    what = outcome.kind + (f" ({outcome.subclass})" if outcome.subclass else "")
    reason = d.reason.removeprefix(what + "; ")  # the policy's reason repeats the outcome
    ports.event(f"{a.task_id} attempt {d.attempt} ended: {what}; next: {a.record.decision} "
                f"({reason})")
    if outcome.kind != "success" and outcome.digest:
        digest = outcome.digest if len(outcome.digest) <= 200 else outcome.digest[:199] + "…"
        ports.event(f"  {digest} Logs: {a.record.log_dir}")
    if a.landed:
        ports.event(f"land {a.task_id}: {len(a.landed)} commit(s) on the working branch "
                    f"({', '.join(c[:8] for c in a.landed)})")
    if a.note:
        ports.event(f"{policy.REQUEUE} {a.task_id}: {a.note}")
    if a.record.decision == policy.ESCALATE:
        msg = [f"{a.task_id} needs a human: {d.reason}."]
        if a.record.digest:
            msg.append(a.record.digest)
        if a.record.log_dir:
            msg.append(f"Logs: {a.record.log_dir}")
        msg.append(resume_hint(a.task_id, start_over=outcome.subclass == "tamper"))
        ports.forge.alert(a.task_id, "\n".join(msg))
