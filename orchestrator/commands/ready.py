"""`orchestrator ready`: what can start now, in bd's order."""
from __future__ import annotations

from orchestrator.gcpause import gc_paused
from orchestrator.tasks import shapes
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.store import TaskStore
from orchestrator.tasks.table import task_table


def ready(store: TaskStore, *, filter: ReadyFilter, sort: str, limit: int, as_json: bool) -> int:
    items = store.ready(filter, sort=sort, limit=limit)
    if as_json:
        graph_tasks = store.all() if store.kind == "jsonl" else {}
        with gc_paused():  # one record per printed task (orchestrator/gcpause.py)
            text = shapes.dumps(shapes.issues_with_counts(items, graph_tasks))
        print(text)
    elif items:
        print(task_table(items))
    else:
        print("Nothing is ready.")
    return 0
