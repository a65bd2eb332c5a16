"""`orchestrator task ...`: the bd-compatible subset an agent needs, on any store.

Flags and `--json` shapes follow bd 1.x, so a prompt that says "run bd close X --reason R"
works as "orchestrator task close X --reason R" on the embedded JSONL store."""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.commands.show import show
from orchestrator.errors import UserError
from orchestrator.tasks import shapes
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore


def task_show(store: TaskStore, ids: Sequence[str], *, as_json: bool) -> int:
    return show(store, ids, as_json=as_json)


def task_close(store: TaskStore, ids: Sequence[str], *, reason: str, force: bool, actor: str,
               as_json: bool) -> int:
    """bd close: each refused ID is reported on stderr (bd's text) and skipped; exit 1 if
    nothing closed.
    An unknown ID (bd documents no rule for it in a multi-ID close) is reported as
    `orchestrator: no task ID` and makes the exit non-zero even when the others closed.
    Re-closing a closed task succeeds and changes nothing (bd 1.0.5): its reason is kept."""
    result = store.close(ids, reason=reason, force=force, actor=actor)
    unknown = {f"no task {tid}" for tid in result.missing}
    for message in result.refused:  # bd's guard refusals, as bd prints them
        print(f"orchestrator: {message}" if message in unknown else message, file=sys.stderr)
    if as_json:
        if result.closed:
            print(shapes.dumps([shapes.issue(t) for t in result.closed]))
    else:
        for t in result.closed:
            if t.id in result.already_closed:
                print(f"{t.id} was already closed: {t.close_reason or 'Closed'} (reason kept)")
            else:
                print(f"Closed {t.id}: {t.close_reason or 'Closed'}")
    return 1 if result.missing or not result.closed else 0


def task_update(store: TaskStore, ids: Sequence[str], changes: TaskChanges, *, claim: bool,
                actor: str, as_json: bool, reset_branch_in: Path | None = None) -> int:
    """`reset_branch_in`: the repository whose task branches (`--reset-branch`) are archived
    after the update, so a reopened task starts over instead of rebasing what was escalated."""
    updated = []
    if claim:
        updated = [store.claim(tid, actor=actor) for tid in ids]
    if changes != TaskChanges() or not claim:
        updated = store.update(ids, changes, actor=actor)
    notes = []  # on stderr: --json output stays bd's shape
    if reset_branch_in is not None:
        # here, not at the top: agents run `orchestrator task` often, and GitPython (gitops)
        # would double its start-up time for the one option that needs git
        from orchestrator import gitops
        for t in updated:
            branch = gitops.task_branch(t.id)
            archived = gitops.archive_task_branch(reset_branch_in, t.id)
            notes.append(f"{t.id}: branch {branch} archived as {archived}; the next attempt starts "
                         "from the working branch" if archived else f"{t.id}: no branch {branch} to reset")
    if as_json:
        print(shapes.dumps([shapes.issue(t) for t in updated]))
    else:
        for t in updated:
            print(f"Updated {t.id}: {t.status}" + (f" ({t.assignee})" if t.assignee else ""))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def task_create(store: TaskStore, new: NewTask, *, actor: str, silent: bool, as_json: bool) -> int:
    task = store.create(new, actor=actor)
    if as_json:
        print(shapes.dumps(shapes.as_object(shapes.issue(task))))
    elif silent:
        print(task.id)
    else:
        print(f"Created {task.id}: {task.title}")
    return 0


def task_dep(store: TaskStore, action: str, issue_id: str, depends_on_id: str, *,
             dep_type: str, actor: str, as_json: bool) -> int:
    if action == "add":
        store.dep_add(issue_id, depends_on_id, dep_type=dep_type, actor=actor)
        payload = {"issue_id": issue_id, "depends_on_id": depends_on_id, "status": "added",
                   "type": dep_type}
        text = f"Added dependency: {issue_id} depends on {depends_on_id} ({dep_type})"
    elif action in ("remove", "rm"):
        store.dep_remove(issue_id, depends_on_id, actor=actor)
        payload = {"issue_id": issue_id, "depends_on_id": depends_on_id, "status": "removed"}
        text = f"Removed dependency: {issue_id} no longer depends on {depends_on_id}"
    else:
        raise UserError(f"unknown dep action {action!r} (expected add or remove)")
    print(shapes.dumps(shapes.as_object(payload)) if as_json else text)
    return 0


def task_comment(store: TaskStore, task_id: str, text: str, *, author: str, as_json: bool) -> int:
    comment = store.comment(task_id, text, author=author)
    print(shapes.dumps(shapes.comment(comment)) if as_json else f"Comment added to {task_id}")
    return 0
