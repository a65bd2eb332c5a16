"""`orchestrator status`: queue counts by status, phases, the kill switch, what is running,
escalated and blocked."""
from __future__ import annotations

from pathlib import Path

from orchestrator.forge.status import COLUMNS, phase_progress, shown_columns, status_columns
from orchestrator.gcpause import gc_paused
from orchestrator.tasks import graph, shapes
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import TaskStore
from orchestrator.tasks.table import table, task_table


def status(store: TaskStore, *, as_json: bool, escalation_label: str = "needs-human",
           stop_file: Path | None = None) -> int:
    """`escalation_label`: config `github.escalation_label`, what the coordinator puts on a
    task it escalates. `stop_file`: the kill switch, reported when it is engaged.

    The JSON is bd stats' `summary` (bd's keys and arithmetic, which do not add up) plus
    `columns`, one count per column of the table, which do."""
    tasks = store.all()
    with gc_paused():  # the counts walk every task and edge (orchestrator/gcpause.py)
        summary = graph.stats(tasks)
        counts = status_columns(tasks, escalation_label=escalation_label)
    stopped = stop_file is not None and stop_file.exists()
    if as_json:
        print(shapes.dumps(shapes.as_object({"summary": summary, "columns": counts,
                                             "stopped": stopped})))
        return 0
    shown = shown_columns(counts)
    print(table(("TOTAL", *(COLUMNS[c].upper() for c in shown)),
                [(len(tasks), *(counts[c] for c in shown))]))
    if stopped:
        print(f"\nStopped: {stop_file} exists, so nothing new starts (remove it to resume).")
    phases = phase_progress(tasks)
    if phases:
        print("\nPhases:")
        print(table(("PHASE", "DONE", "PROGRESS"),
                    [(p.name, f"{p.closed}/{p.total}", f"{p.percent}%") for p in phases]))
    running = [t for t in tasks.values() if t.status == Status.IN_PROGRESS]
    if running:
        print("\nIn progress:")
        print(task_table(graph.sort_tasks(running)))
    escalated = [t for t in tasks.values()
                 if escalation_label in t.labels and t.status != Status.CLOSED]
    if escalated:
        print("\nWaiting for a human (resume with `orchestrator task update ID --status open`, "
              "add `--reset-branch` to start over):")
        print(task_table(graph.sort_tasks(escalated)))
    blocked = graph.blocked_by(tasks)
    if blocked:
        # the WAITING column's tasks (BLOCKED counts the status `blocked`)
        print("\nWaiting on other tasks:")
        print(table(("ID", "BLOCKED BY", "TITLE"),
                    [(tid, ", ".join(b), tasks[tid].title) for tid, b in sorted(blocked.items())]))
    return 0
