"""The queue's graph work (children, blocked set, critical path: each a pass over every task
and edge) computed once per version of the queue, not once per use: the status report written
after a cycle's results and the next cycle's plan read the same version, and share it."""
from __future__ import annotations

import operator
import threading
from collections.abc import Mapping

from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks.model import Task


class GraphMemo:
    """The GraphInfo of the last queue snapshot asked about. A snapshot is the same version
    when it holds the very same task objects in the same order (a store hands out the same
    objects until the file changes; any change makes new ones), so telling costs a pass of
    identity checks and never a comparison of task contents."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[list[Task], GraphInfo] | None = None
        self.computed = 0  # how many times the graph work ran (the bench counts it)

    def info(self, tasks: Mapping[str, Task]) -> GraphInfo:
        values = list(tasks.values())
        with self._lock:
            last = self._last
        if last is not None and len(last[0]) == len(values) \
                and all(map(operator.is_, last[0], values)):
            return last[1]
        info = GraphInfo.of(tasks)
        with self._lock:
            self._last = (values, info)
            self.computed += 1
        return info
