"""Which ready tasks to launch now (pure).

Up to `dispatch.max_parallel` tasks run at once. Among the ready tasks not already running, the
order is: priority (P0 first), then critical-path length (a task that unblocks the longest chain
of unfinished work goes first, so parallel runs finish sooner), then bd's own ready order.
Containers are never handed to an agent: an epic (or any type in `dispatch.exclude_types`), and
any task with children (a feature whose work is its child tasks); the cycle closes a container
when all its children are closed.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.config import Config
from orchestrator.dispatch.queue_facts import QueueFacts
from orchestrator.tasks import graph
from orchestrator.tasks.model import BLOCKING_EDGES, Status, Task


@dataclass(frozen=True)
class GraphInfo:
    """What the scheduler (and the status report) need from the whole queue: each a pass over
    every task and edge, so computed once per version of the queue and passed along."""

    critical: Mapping[str, int]        # task -> length of the longest unfinished chain it starts
    containers: frozenset[str]         # tasks with children
    kids: Mapping[str, list[str]] = field(default_factory=dict)     # graph.children_of
    blocked: Mapping[str, list[str]] = field(default_factory=dict)  # graph.blocked_by
    # kept by a long-lived coordinator (dispatch/graph_state.py): what would otherwise be a
    # pass over every task per use; None: the users make those passes
    facts: QueueFacts | None = None

    @classmethod
    def of(cls, tasks: Mapping[str, Task], *,
           kids: Mapping[str, list[str]] | None = None) -> GraphInfo:
        kids = graph.children_of(tasks) if kids is None else kids
        return cls(critical=graph.critical_path(tasks),
                   containers=frozenset(k for k, v in kids.items() if v), kids=kids,
                   blocked=graph.blocked_by(tasks, kids=kids))


def dispatchable(task: Task, info: GraphInfo, config: Config) -> bool:
    """May this task be handed to an agent at all?"""
    return (task.issue_type != "epic" and task.issue_type not in config.dispatch.exclude_types
            and task.id not in info.containers)


def schedule(ready: Sequence[Task], running: Collection[str], info: GraphInfo,
             config: Config, *, slots: int | None = None) -> list[Task]:
    """The tasks to launch now, in launch order. `ready` is in bd's ready order; `running`
    are the tasks whose agents are still running (they hold slots). `slots` overrides the
    free slots (max_parallel - running), e.g. when a guard allows fewer."""
    free = config.dispatch.max_parallel - len(running) if slots is None else slots
    if free <= 0:
        return []
    order = {t.id: i for i, t in enumerate(ready)}
    candidates = [t for t in ready if t.id not in running and t.status == Status.OPEN
                  and dispatchable(t, info, config)]
    candidates.sort(key=lambda t: (t.priority, -info.critical.get(t.id, 1), order[t.id]))
    return candidates[:free]


def closable_containers(tasks: Mapping[str, Task], *,
                        kids: Mapping[str, list[str]] | None = None) -> list[str]:
    """Open containers (epics, features with child tasks) whose children are all closed and
    that nothing open blocks: the cycle closes them, as an epic is done when its work is."""
    kids = graph.children_of(tasks) if kids is None else kids
    out = []
    for tid, children in kids.items():
        t = tasks.get(tid)
        if t is None or t.status in (Status.CLOSED, Status.PINNED) or not children:
            continue
        if not all(tasks[c].status == Status.CLOSED for c in children if c in tasks):
            continue
        # bd (and the embedded store) refuse to close a task that still has an open blocker
        if any(d.type in BLOCKING_EDGES and d.depends_on_id in tasks
               and not graph.releases_dependents(tasks[d.depends_on_id])
               for d in t.dependencies):
            continue
        out.append(tid)
    return out

