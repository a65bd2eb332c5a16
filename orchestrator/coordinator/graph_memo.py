"""The queue's graph work (children, blocked set, critical path) kept across versions of the
queue: the status report written after a cycle's results and the next cycle's plan read the
same version and share it, and each new version (a claim, a comment, an agent's close) updates
it from the tasks that changed (dispatch/graph_state.py) instead of recomputing it."""
from __future__ import annotations

import threading
from collections.abc import Mapping

from orchestrator.dispatch.graph_state import GraphState, changed_between
from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks.model import Task


class GraphMemo:
    """The GraphInfo of the last queue snapshot asked about, moved to the next one. What
    changed between two snapshots is told by the jsonl store's snapshot itself (it saw which
    lines changed), else by identity (a store hands out the same task object until its line
    changes), never by comparing task contents (graph_state.changed_between)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: GraphState | None = None

    @property
    def computed(self) -> int:
        """How many times the full graph work ran (the bench counts it)."""
        return 0 if self._state is None else self._state.rebuilds

    @property
    def visited(self) -> int:
        """Tasks looked at by incremental updates (the scale test counts them)."""
        return 0 if self._state is None else self._state.visited

    def info(self, tasks: Mapping[str, Task]) -> GraphInfo:
        """`tasks`: a snapshot (`store.all()`) that nobody changes afterwards; it is kept as
        the version the next call is compared with."""
        info = self._moved(tasks, rebuild=True)
        assert info is not None
        return info

    def kept(self, tasks: Mapping[str, Task]) -> GraphInfo | None:
        """info(tasks) when the state kept can be moved to it by an update; None when that
        would take the full computation (no state yet, or a store that hands out new task
        objects on every read, as the bd store does): then a caller that needs only a pass of
        its own makes that pass instead."""
        return self._moved(tasks, rebuild=False)

    def _moved(self, tasks: Mapping[str, Task], *, rebuild: bool) -> GraphInfo | None:
        with self._lock:
            state = self._state
            if state is None:
                if not rebuild:
                    return None
                state = self._state = GraphState(tasks)
            elif state.tasks is not tasks:
                changed, removed = changed_between(state.tasks, tasks)
                if not rebuild and not state.updatable(tasks, changed, removed):
                    return None
                state.update(tasks, changed, removed)
            return state.info()
