"""`orchestrator show ID...`: one task in full (bd show)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.tasks import graph, shapes
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
    every = store.all()
    wanted = {t.id for t in found}
    # dependents (children included) are listed in `bd list` order: sort only those, not the
    # whole queue (sorting every task was most of `show` on a big one)
    near = [o for o in every.values()
            if o.id in wanted or any(d.depends_on_id in wanted for d in o.dependencies)]
    tasks = {**{t.id: t for t in graph.sort_tasks(near)}, **every, **{t.id: t for t in found}}
    if as_json:
        print(shapes.dumps([shapes.details(t, tasks) for t in found]))
    else:
        print("\n\n".join(render(t, tasks) for t in found))
    return 0
