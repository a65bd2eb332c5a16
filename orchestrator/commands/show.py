"""`orchestrator show ID...`: one task in full (bd show)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.tasks import shapes
from orchestrator.tasks.history import MARKER
from orchestrator.tasks.model import Task
from orchestrator.tasks.store import TaskStore


def render(task: Task, tasks: Mapping[str, Task]) -> str:
    lines = [f"{task.id}: {task.title}",
             f"Status: {task.status}   Priority: P{task.priority}   Type: {task.issue_type}"
             + (f"   Assignee: {task.assignee}" if task.assignee else "")]
    if task.labels:
        lines.append(f"Labels: {', '.join(task.labels)}")
    for heading, text in (("Description", task.description), ("Design", task.design),
                          ("Acceptance criteria", task.acceptance_criteria),
                          ("Notes", task.notes)):
        if text:
            lines += ["", f"{heading}:", *(f"  {x}" for x in text.splitlines())]
    if task.dependencies:
        lines += ["", "Depends on:"]
        for d in task.dependencies:
            target = tasks.get(d.depends_on_id)
            state = f" [{target.status}] {target.title}" if target else ""
            lines.append(f"  {d.depends_on_id} ({d.type}){state}")
    dependents = [(o, d) for o in tasks.values() for d in o.dependencies if d.depends_on_id == task.id]
    if dependents:
        lines += ["", "Needed by:"]
        lines += [f"  {o.id} ({d.type}) [{o.status}] {o.title}" for o, d in dependents]
    if task.comments:
        lines += ["", "Comments:"]
        for c in task.comments:
            lines.append(f"  {c.created_at} {c.author}:")
            # the attempt record's machine line is for the coordinator (kept in --json and
            # the store); the human lines above it say the same
            lines += [f"    {x}" for x in c.text.splitlines() if not x.startswith(MARKER)]
    return "\n".join(lines)


def show(store: TaskStore, ids: Sequence[str], *, as_json: bool) -> int:
    found = store.show(ids)
    # the neighbours (dependencies and dependents) come from one listing of every task
    tasks = {**{t.id: t for t in store.list(statuses=("all",))}, **{t.id: t for t in found}}
    if as_json:
        print(shapes.dumps([shapes.details(t, tasks) for t in found]))
    else:
        print("\n\n".join(render(t, tasks) for t in found))
    return 0
