"""`orchestrator status`: queue counts (bd stats keys), what is running, what is blocked."""
from __future__ import annotations

from orchestrator.gcpause import gc_paused
from orchestrator.tasks import graph, shapes
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import TaskStore
from orchestrator.tasks.table import table, task_table


def status(store: TaskStore, *, as_json: bool, escalation_label: str = "needs-human") -> int:
    """`escalation_label`: config `github.escalation_label`, what the coordinator puts on a
    task it escalates."""
    tasks = store.all()
    with gc_paused():  # the counts walk every task and edge (orchestrator/gcpause.py)
        summary = graph.stats(tasks)
    if as_json:
        print(shapes.dumps(shapes.as_object({"summary": summary})))
        return 0
    print(table(("TOTAL", "OPEN", "READY", "IN PROGRESS", "BLOCKED", "CLOSED"),
                [(summary["total_issues"], summary["open_issues"], summary["ready_issues"],
                  summary["in_progress_issues"], summary["blocked_issues"],
                  summary["closed_issues"])]))
    from orchestrator.forge.status import phase_progress
    phases = phase_progress(tasks)
    if phases:
        print("\nPhases:")
        print(table(("PHASE", "DONE", "PROGRESS"),
                    [(p.name, f"{p.closed}/{p.total}", f"{p.percent}%") for p in phases]))
    running = [t for t in tasks.values() if t.status == Status.IN_PROGRESS]
    if running:
        print("\nIn progress:")
        print(task_table(graph.sort_tasks(running)))
    waiting = [t for t in tasks.values()
               if escalation_label in t.labels and t.status != Status.CLOSED]
    if waiting:
        print("\nWaiting for a human (resume with `orchestrator task update ID --status open`):")
        print(task_table(graph.sort_tasks(waiting)))
    blocked = graph.blocked_by(tasks)
    if blocked:
        print("\nBlocked:")
        print(table(("ID", "BLOCKED BY", "TITLE"),
                    [(tid, ", ".join(b), tasks[tid].title) for tid, b in sorted(blocked.items())]))
    return 0
