"""What the plan and the status report read about the whole queue besides the graph (pure):
tasks per status, the tasks neither open nor closed, the ready candidates, the open blocked
tasks, labels, recorded attempts, phase and container progress, the longest chains. Kept per
task, so a new version of the queue moves them by the tasks that changed (and, for the
blocked-ness that flows, the tasks whose blocked state the graph update recomputed), where
computing them is a pass over every task (dispatch/graph_state.py keeps them with the graph).

Each per-task contribution is the one function `_fact` of that task (and its blocked state);
an update takes the old contribution out and puts the new one in. Phase and container
progress also depend on a task's ancestors: a change to a task with children, or to who its
parents are when it has children, recomputes them whole.
"""
from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from orchestrator.tasks import graph
from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.model import PARENT_CHILD, Status, Task

Tasks = Mapping[str, Task]
PHASE_PREFIX = "phase:"


@dataclass(frozen=True)
class _Fact:
    status: str
    candidate: bool          # open, unpinned, unblocked: ready unless a query's filter says not
    open_blocked: bool
    labels: tuple[str, ...]
    attempts: tuple[AttemptRecord, ...]


def _fact(task: Task, blocked: bool, before: Task | None = None,
          old: _Fact | None = None) -> _Fact:
    is_open = task.status == Status.OPEN
    # reading the attempt records parses every comment: done again only when they changed
    same = old is not None and before is not None and before.comments == task.comments
    attempts = old.attempts if same and old is not None else tuple(read_history(task))
    return _Fact(task.status, is_open and not task.pinned and not blocked, is_open and blocked,
                 task.labels, attempts)


def phase_of(task: Task, tasks: Tasks) -> str:
    """A task's phase: its own `phase:NAME` label, else its nearest ancestor's."""
    seen: set[str] = set()
    cur: Task | None = task
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        for label in cur.labels:
            if label.startswith(PHASE_PREFIX):
                return label[len(PHASE_PREFIX):]
        cur = tasks.get(cur.parent) if cur.parent else None
    return ""


def ancestors(task: Task, tasks: Tasks) -> set[str]:
    """Every task `task` is below through parent-child edges (graph.descendants, upwards)."""
    seen: set[str] = set()
    stack = [d.depends_on_id for d in task.dependencies if d.type == PARENT_CHILD]
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            parent = tasks.get(p)
            if parent is not None:
                stack += [d.depends_on_id for d in parent.dependencies if d.type == PARENT_CHILD]
    return seen


def _parents(task: Task) -> list[str]:
    return [d.depends_on_id for d in task.dependencies if d.type == PARENT_CHILD]


def _phases(task: Task) -> list[str]:
    return [x for x in task.labels if x.startswith(PHASE_PREFIX)]


class QueueFacts:
    """The aggregates of one version of the queue; `update` moves them to the next."""

    def __init__(self, tasks: Tasks, blocked: Collection[str], kids: Mapping[str, list[str]],
                 critical: Mapping[str, int]) -> None:
        self.facts: dict[str, _Fact] = {}
        self.statuses: dict[str, int] = {}
        self.busy: dict[str, None] = {}          # status neither open nor closed
        self.candidates: dict[str, None] = {}
        self.open_blocked: dict[str, None] = {}
        self.labelled: dict[str, dict[str, None]] = {}
        self.attempts: dict[str, tuple[AttemptRecord, ...]] = {}
        self.order: dict[str, int] = {}          # place in the queue, for ties and row order
        self._next = 0
        for tid, t in tasks.items():
            self._add(tid, _fact(t, tid in blocked))
        self._progress(tasks, kids)
        self.by_length: dict[int, list[str]] = {}  # critical-path length -> its tasks, sorted
        for tid, n in critical.items():
            self.by_length.setdefault(n, []).append(tid)
        for ids in self.by_length.values():
            ids.sort()

    def _add(self, tid: str, f: _Fact) -> None:
        if tid not in self.order:
            self.order[tid] = self._next
            self._next += 1
        self.facts[tid] = f
        self.statuses[f.status] = self.statuses.get(f.status, 0) + 1
        if f.status not in (Status.OPEN, Status.CLOSED):
            self.busy[tid] = None
        if f.candidate:
            self.candidates[tid] = None
        if f.open_blocked:
            self.open_blocked[tid] = None
        for label in f.labels:
            self.labelled.setdefault(label, {})[tid] = None
        if f.attempts:
            self.attempts[tid] = f.attempts

    def _remove(self, tid: str) -> _Fact | None:
        f = self.facts.pop(tid, None)
        if f is None:
            return None
        self.statuses[f.status] -= 1
        if not self.statuses[f.status]:
            del self.statuses[f.status]
        self.busy.pop(tid, None)
        self.candidates.pop(tid, None)
        self.open_blocked.pop(tid, None)
        for label in f.labels:
            ids = self.labelled[label]
            ids.pop(tid, None)
            if not ids:
                del self.labelled[label]
        self.attempts.pop(tid, None)
        return f

    def _progress(self, tasks: Tasks, kids: Mapping[str, list[str]]) -> None:
        """Phase and container progress, over every task (status.phase_progress and
        status.feature_progress, counted per task upwards instead of per container down)."""
        self.phase: dict[str, str] = {}
        self.phases: dict[str, list[int]] = {}
        self.containers: dict[str, list[int]] = {p: [0, 0] for p in kids if p in tasks}
        for tid, t in tasks.items():
            self._count(tid, t, tasks, 1)

    def _count(self, tid: str, t: Task, tasks: Tasks, sign: int) -> None:
        done = sign if t.status == Status.CLOSED else 0
        name = phase_of(t, tasks) if sign > 0 else self.phase.pop(tid, "")
        if name:
            if sign > 0:
                self.phase[tid] = name
            c = self.phases.setdefault(name, [0, 0])
            c[0] += done
            c[1] += sign
            if not c[1]:
                del self.phases[name]
        for a in ancestors(t, tasks):
            c2 = self.containers.get(a)
            if c2 is not None:
                c2[0] += done
                c2[1] += sign

    # -- the update -------------------------------------------------------------------------
    def update(self, old: Tasks, tasks: Tasks, touched: Iterable[str], moved: Iterable[str],
               kids: Mapping[str, list[str]], had_kids: Collection[str],
               critical_before: Mapping[str, int | None], critical: Mapping[str, int],
               blocked: Collection[str]) -> None:
        """`touched`: the tasks that changed or went; `moved`: tasks whose blocked state was
        recomputed; `had_kids`: the touched tasks that had children before; the lengths of
        the tasks whose critical path was recomputed, before (None: had none) and now."""
        touched = list(touched)
        for tid in dict.fromkeys([*touched, *moved]):
            old_fact = self._remove(tid)
            t = tasks.get(tid)
            if t is not None:
                self._add(tid, _fact(t, tid in blocked, old.get(tid), old_fact))
            else:
                self.order.pop(tid, None)  # back later: at the end, as in a dict
        self._move_progress(old, tasks, touched, kids, had_kids)
        for tid, was in critical_before.items():
            now = critical.get(tid)
            if was == now:
                continue
            if was is not None:
                ids = self.by_length[was]
                del ids[bisect.bisect_left(ids, tid)]
                if not ids:
                    del self.by_length[was]
            if now is not None:
                bisect.insort(self.by_length.setdefault(now, []), tid)

    def _move_progress(self, old: Tasks, tasks: Tasks, touched: list[str],
                       kids: Mapping[str, list[str]], had_kids: Collection[str]) -> None:
        for tid in touched:
            if tid in had_kids or tid in kids:
                before, after = old.get(tid), tasks.get(tid)
                if before is None or after is None or _parents(before) != _parents(after) \
                        or _phases(before) != _phases(after):
                    # its descendants' phase or containers move with it: count everything
                    self._progress(tasks, kids)
                    return
        parents: dict[str, None] = {}
        # each touched task itself (its descendants' counts stay where they are): out of the
        # old version's counts, into the new one's
        for tid in touched:
            before, after = old.get(tid), tasks.get(tid)
            for t, version, sign in ((before, old, -1), (after, tasks, 1)):
                if t is not None:
                    self._count(tid, t, version, sign)
                    parents.update((d.depends_on_id, None) for d in t.dependencies
                                   if d.type == PARENT_CHILD)
        for p in parents:  # a container since this version, or no longer one
            if p in kids and p in tasks:
                if p not in self.containers:
                    below = [tasks[d] for d in graph.descendants(tasks, p, kids=kids)
                             if d in tasks]
                    self.containers[p] = [sum(1 for t in below if t.status == Status.CLOSED),
                                          len(below)]
            else:
                self.containers.pop(p, None)

    # -- what the plan and the report ask ---------------------------------------------------
    def sorted_ids(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=self.order.__getitem__)

    def recent_attempts(self, limit: int = 10) -> list[tuple[str, AttemptRecord]]:
        """status.recent_attempts: the last `limit` records by time, ties in queue order."""
        out = [(tid, i, r) for tid, recs in self.attempts.items() for i, r in enumerate(recs)]
        out.sort(key=lambda x: (x[2].at, self.order[x[0]], x[1]))
        return [(tid, r) for tid, _, r in out[-limit:]]

    def longest(self, limit: int) -> list[str]:
        """The `limit` unfinished tasks on the longest chains, ties by ID (status.mermaid)."""
        out: list[str] = []
        for n in sorted(self.by_length, reverse=True):
            out += self.by_length[n][:limit - len(out)]
            if len(out) >= limit:
                break
        return out
