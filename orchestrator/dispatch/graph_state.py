"""The queue's graph work (children, blocked set, critical path: `scheduler.GraphInfo`) kept
across versions of the queue and updated from the tasks that changed, instead of recomputed
over every task and edge for each version (pure: data in, data out, no I/O).

A long-lived coordinator sees a new version of the queue after every write (its claim, its
comment, the agent's close), and each differs from the last in a task or two. The update
touches those tasks and what depends on them, following bd's rules as `tasks/graph.py` states
them (that module stays the reference: the state is built with it, and the tests compare every
update with it):

- children: the changed tasks' parent-child edges move them between their parents' lists;
- blocked set: a task's own blockers depend on its edges, its targets' statuses and, for a
  waits-for edge, its spawner's children; blocked-ness then flows down parent-child edges. So
  the tasks recomputed are the changed ones, their dependents (any edge), the dependents of
  their parents (the waits-for gates), and everything below those through parent-child edges;
- critical path: a task's length is 1 + the longest of the tasks that wait on it, so a change
  reaches the tasks the changed ones wait on, and on up along those edges.

When a change reaches too much of the queue (an epic reopened with its thousands of
descendants), or the waits-for edges form a cycle (where graph.critical_path's answer depends on
the order it walks in), the state is rebuilt with the full computation instead.

Equal means equal as mappings: a key added by an update goes to the end of its dict and a
child that gains a parent to the end of its parent's list, where a fresh computation would put
it in queue order. So the local status file may list a task that became blocked, or a new
container, last in its table; the plan's stale claims and escalations and the report's
Running and escalated rows follow the queue's order (`QueueFacts.order`).
"""
from __future__ import annotations

import itertools
import operator
from collections.abc import Collection, Iterable, Mapping

from orchestrator.dispatch.queue_facts import QueueFacts
from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks import graph
from orchestrator.tasks.model import BLOCKING_EDGES, PARENT_CHILD, WAITS_FOR, Task

Tasks = Mapping[str, Task]
_WAITING_EDGES = BLOCKING_EDGES | {WAITS_FOR}  # a dependent waits on the target's completion
# An update reaching more than this share of the queue is done as a full rebuild instead
# (the same cost, and the rebuild is the reference).
REBUILD_SHARE = 4
MIN_REACH = 256


def changed_between(old: Tasks, new: Tasks) -> tuple[list[str], list[str]]:
    """The IDs whose task object differs between two versions (added ones included) and the
    IDs that are gone. The jsonl store's snapshots say it themselves (`changes_since`: the
    store saw which lines changed) when `old` is one of the few versions before `new`;
    otherwise by identity, in C: a store hands out the same object for a task whose line did
    not change (tasks/jsonl.py), so this never compares task contents."""
    told = getattr(new, "changes_since", None)
    if told is not None and (known := told(old)) is not None:
        return known
    return _by_identity(old, new)


def _by_identity(old: Tasks, new: Tasks) -> tuple[list[str], list[str]]:
    changed = list(itertools.compress(new, map(operator.is_not, map(old.get, new), new.values())))
    added = sum(1 for tid in changed if tid not in old)
    removed = [] if len(old) + added == len(new) else list(old.keys() - new.keys())
    return changed, removed


class GraphState:
    """GraphInfo of one version of the queue plus the indexes an update needs. `update`
    changes it in place (copying the maps per version would be the pass over every task this
    avoids), so a GraphInfo taken from it is valid until the next update."""

    def __init__(self, tasks: Tasks) -> None:
        self.rebuilds = 0   # full computations (the first included)
        self.updates = 0    # incremental updates
        self.visited = 0    # tasks looked at by updates (the scale test counts these)
        self._build(tasks)

    # -- the full computation ---------------------------------------------------------------
    def _build(self, tasks: Tasks) -> None:
        self.rebuilds += 1
        self.tasks = tasks
        self.kids: dict[str, list[str]] = dict(graph.children_of(tasks))
        self.rev: dict[str, dict[str, None]] = {}  # target -> tasks with an edge to it
        for t in tasks.values():
            for d in t.dependencies:
                self.rev.setdefault(d.depends_on_id, {})[t.id] = None
        self.direct = {tid: graph._direct_blockers(t, tasks, self.kids)
                       for tid, t in tasks.items() if not graph.releases_dependents(t)}
        self.blocked: dict[str, list[str]] = graph.blocked_by(tasks, kids=self.kids)
        self.critical: dict[str, int] = graph.critical_path(tasks)
        self.cyclic = not _waits_acyclic(tasks, self.kids)
        self.facts = QueueFacts(tasks, self.blocked, self.kids, self.critical)
        self._containers = frozenset(k for k, v in self.kids.items() if v)

    def info(self) -> GraphInfo:
        return GraphInfo(critical=self.critical, containers=self._containers, kids=self.kids,
                         blocked=self.blocked, facts=self.facts)

    # -- the update -------------------------------------------------------------------------
    def updatable(self, tasks: Tasks, changed: Collection[str], removed: Collection[str]) -> bool:
        """Would `update` start as an update rather than a rebuild?"""
        return not self.cyclic and len(changed) + len(removed) <= _reach(tasks)

    def update(self, tasks: Tasks, changed: Collection[str], removed: Collection[str]) -> None:
        """Move the state to `tasks`, which differs from the last version in the tasks
        `changed` (added ones included) and `removed`."""
        old = self.tasks
        touched = [*changed, *removed]
        if not touched:
            self.tasks = tasks
            return
        reach = _reach(tasks)
        if self.cyclic or len(touched) > reach:
            self._build(tasks)
            return
        self.updates += 1
        self.tasks = tasks
        had_kids = {tid for tid in touched if self.kids.get(tid)}
        was_container = {p: p in self._containers for tid in touched
                         for p in (*self._parents(old.get(tid)), *self._parents(tasks.get(tid)))}
        for tid in touched:
            self._move_edges(tid, old.get(tid), tasks.get(tid))
        reached = self._update_blocked(tasks, old, touched, reach)
        lengths = None if reached is None else self._update_critical(tasks, old, touched, reach)
        if reached is None or lengths is None:
            self._build(tasks)
            return
        now_container = {p: bool(self.kids.get(p)) for p in was_container}
        if now_container != was_container:
            self._containers = frozenset(k for k, v in self.kids.items() if v)
        self.facts.update(old, tasks, touched, reached, self.kids, had_kids, lengths,
                          self.critical, self.blocked)

    def _move_edges(self, tid: str, before: Task | None, after: Task | None) -> None:
        was = before.dependencies if before is not None else ()
        now = after.dependencies if after is not None else ()
        if was == now:
            return
        old_parents = [d.depends_on_id for d in was if d.type == PARENT_CHILD]
        new_parents = [d.depends_on_id for d in now if d.type == PARENT_CHILD]
        if old_parents != new_parents:
            for p in old_parents:
                kids = self.kids.get(p)
                if kids is not None and tid in kids:
                    kids.remove(tid)
                    if not kids:
                        del self.kids[p]
            for p in new_parents:
                self.kids.setdefault(p, []).append(tid)
        old_targets = {d.depends_on_id for d in was}
        new_targets = {d.depends_on_id for d in now}
        for target in old_targets - new_targets:
            deps = self.rev.get(target)
            if deps is not None:
                deps.pop(tid, None)
                if not deps:
                    del self.rev[target]
        for target in new_targets - old_targets:
            self.rev.setdefault(target, {})[tid] = None

    def _parents(self, task: Task | None) -> list[str]:
        return [] if task is None else [d.depends_on_id for d in task.dependencies
                                        if d.type == PARENT_CHILD]

    def _update_blocked(self, tasks: Tasks, old: Tasks, touched: Iterable[str],
                        reach: int) -> list[str] | None:
        """The tasks whose blocked state was recomputed; None: rebuild instead."""
        # whose own blockers may have changed: the touched tasks, their dependents, and the
        # dependents of their parents (a waits-for gate looks at the spawner's children)
        seeds: dict[str, None] = {}
        for tid in touched:
            seeds[tid] = None
            seeds.update(self.rev.get(tid, {}))
            for p in {*self._parents(old.get(tid)), *self._parents(tasks.get(tid))}:
                seeds.update(self.rev.get(p, {}))
        if len(seeds) > reach:
            return None
        for tid in seeds:
            t = tasks.get(tid)
            if t is None or graph.releases_dependents(t):
                self.direct.pop(tid, None)
            else:
                self.direct[tid] = graph._direct_blockers(t, tasks, self.kids)
        # and below them, through parent-child edges
        reached = dict(seeds)
        stack = list(seeds)
        while stack:
            for child in self.kids.get(stack.pop(), ()):
                if child not in reached:
                    reached[child] = None
                    stack.append(child)
        if len(reached) > reach:
            return None
        self.visited += len(reached)
        # blocked(x) = x unreleased and (own blockers, or a blocked parent): parents first
        value: dict[str, bool] = {}
        for tid in reached:
            stack2 = [tid]
            on_path: set[str] = set()
            while stack2:
                x = stack2[-1]
                if x in value:
                    stack2.pop()
                    continue
                on_path.add(x)
                pending = [p for p in self._parents(tasks.get(x))
                           if p in reached and p not in value]
                if pending:
                    if any(p in on_path for p in pending):
                        return None  # a parent-child cycle: the full fixpoint decides
                    stack2.extend(pending)
                    continue
                stack2.pop()
                on_path.discard(x)
                value[x] = self._blocked_now(x, tasks, value)
        for tid in reached:
            if value[tid]:
                own = self.direct[tid]
                via = [p for p in dict.fromkeys(self._parents(tasks[tid]))
                       if self._is_blocked(p, value) and p not in own]
                self.blocked[tid] = own + via
            else:
                self.blocked.pop(tid, None)
        return list(reached)

    def _is_blocked(self, tid: str, value: Mapping[str, bool]) -> bool:
        return value[tid] if tid in value else tid in self.blocked

    def _blocked_now(self, tid: str, tasks: Tasks, value: Mapping[str, bool]) -> bool:
        own = self.direct.get(tid)
        if own is None:
            return False  # closed, pinned or gone: blocked-ness stops here
        return bool(own) or any(self._is_blocked(p, value) for p in self._parents(tasks[tid]))

    def _waits_on(self, tid: str, task: Task | None, tasks: Tasks) -> list[str]:
        """The tasks whose critical-path length depends on this one's: its blocking and
        waits-for targets, and its children (a parent waits on its children)."""
        out = [] if task is None else [d.depends_on_id for d in task.dependencies
                                       if d.type in _WAITING_EDGES and d.depends_on_id in tasks]
        return out + self.kids.get(tid, [])

    def _waiters(self, tid: str, tasks: Tasks) -> list[str]:
        """graph.critical_path's waiters of one unfinished task: the unfinished tasks with a
        blocking or waits-for edge to it, and its unfinished parents."""
        out = []
        for r in self.rev.get(tid, ()):
            t = tasks.get(r)
            if t is not None and not graph.releases_dependents(t):
                out += [r for d in t.dependencies
                        if d.depends_on_id == tid and d.type in _WAITING_EDGES]
        for p in self._parents(tasks[tid]):
            parent = tasks.get(p)
            if parent is not None and not graph.releases_dependents(parent):
                out.append(p)
        return out

    def _update_critical(self, tasks: Tasks, old: Tasks, touched: Iterable[str],
                         reach: int) -> dict[str, int | None] | None:
        """The recomputed tasks with their lengths before (None: had none); None: rebuild."""
        dirty: dict[str, None] = {}
        stack: list[str] = []
        for tid in touched:
            for x in (tid, *self._waits_on(tid, old.get(tid), old),
                      *self._waits_on(tid, tasks.get(tid), tasks)):
                if x not in dirty:
                    dirty[x] = None
                    stack.append(x)
        while stack:  # and on along those edges: what waits on nothing changed stays
            tid = stack.pop()
            for x in self._waits_on(tid, tasks.get(tid), tasks):
                if x not in dirty:
                    dirty[x] = None
                    stack.append(x)
            if len(dirty) > reach:
                return None
        self.visited += len(dirty)
        before = {tid: self.critical.pop(tid, None) for tid in dirty}
        for root in dirty:
            t = tasks.get(root)
            if t is None or graph.releases_dependents(t) or root in self.critical:
                continue
            frames = [(root, iter(self._waiters(root, tasks)))]
            on_path = {root}
            while frames:
                tid, rest = frames[-1]
                for w in rest:
                    if w in on_path:
                        return None  # a cycle: the full walk decides
                    if w not in self.critical:
                        frames.append((w, iter(self._waiters(w, tasks))))
                        on_path.add(w)
                        break
                else:
                    frames.pop()
                    on_path.discard(tid)
                    self.critical[tid] = 1 + max(
                        (self.critical[w] for w in self._waiters(tid, tasks)), default=0)
        return before


def _reach(tasks: Tasks) -> int:
    return max(MIN_REACH, len(tasks) // REBUILD_SHARE)


def _waits_acyclic(tasks: Tasks, kids: Mapping[str, list[str]]) -> bool:
    """Is graph.critical_path's waiting graph free of cycles? The parse refuses cycles through
    blocking and parent-child edges, but not through waits-for ones."""
    if not any(d.type == WAITS_FOR for t in tasks.values() for d in t.dependencies):
        return True
    return not graph.find_cycles(tasks, BLOCKING_EDGES | {WAITS_FOR, PARENT_CHILD})
