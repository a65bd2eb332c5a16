"""Pure queue logic: readiness exactly as `bd ready` computes it, blocking, cycles, stats and
critical paths. Everything here is linear in tasks + edges (see bench/bench_ready.py).

Rules (beads reference §2, bd 1.1.0 `issueops/blocked_state.go`, `ready_work.go`):
- a task that is not closed/pinned is blocked when a `blocks`/`conditional-blocks` target is
  not closed/pinned, when a `waits-for` spawner still has an unfinished child (with the
  `any-children` gate, or no gate at all, only while none is closed: `gate_holds`), or when a
  parent is blocked (transitive);
  an open or in-progress parent does not block its children;
- ready = status `open`, not pinned, not ephemeral, type not excluded, not deferred (itself or
  its parent), not blocked.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from orchestrator.tasks.model import (
    BLOCKING_EDGES,
    BLOCKS,
    PARENT_CHILD,
    READY_EXCLUDED_TYPES,
    WAITS_FOR,
    Status,
    Task,
    parse_time,
)

SORT_POLICIES = ("priority", "oldest", "hybrid")
Tasks = Mapping[str, Task]
# Edges along which "not ready" flows: a task waits on its blocks/conditional-blocks targets,
# and a child is blocked while its parent is. A cycle through these edges, of one kind or mixed
# (a child that blocks its own parent), leaves every task on it blocked for ever. bd 1.x checks
# only blocking edges (issueops.CheckDependencyCycleInTx); the orchestrator refuses all three.
DEADLOCK_EDGES = BLOCKING_EDGES | frozenset({PARENT_CHILD})


_RELEASED = frozenset({Status.CLOSED, Status.PINNED})


def releases_dependents(task: Task) -> bool:
    """Only closing (or pinning) a blocker releases what waits on it."""
    return task.status in _RELEASED


def children_of(tasks: Tasks) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = defaultdict(list)
    for t in tasks.values():
        for d in t.dependencies:
            if d.type == PARENT_CHILD:
                kids[d.depends_on_id].append(t.id)
    return kids


def _direct_blockers(task: Task, tasks: Tasks, kids: Mapping[str, list[str]]) -> list[str]:
    out: list[str] = []
    for d in task.dependencies:
        target = tasks.get(d.depends_on_id)
        if target is None:  # external:/cross-prefix targets never block (bd's SQL ignores them)
            continue
        if d.type in BLOCKING_EDGES:
            if not releases_dependents(target):
                out.append(target.id)
        elif d.type == WAITS_FOR:
            children = [tasks[c] for c in kids.get(target.id, ()) if c in tasks]
            if gate_holds(d.gate, children):
                out.append(target.id)
    return out


def gate_holds(gate: str | None, children: Sequence[Task]) -> bool:
    """Whether a waits-for edge on a spawner with these children still holds its waiter back:
    bd 1.1.0's `waitsForGateBlockedSQL` (internal/storage/issueops/blocked_state.go). A child
    that is not closed/pinned holds the gate, unless the gate is any-children and some child
    is *closed* (a pinned child releases all-children but does not open any-children). With
    no gate in the metadata the SQL compares NULL, and three-valued logic makes the edge act as
    any-children, although bd's Go helper (types.ParseWaitsForGateMetadata) calls it
    all-children. Gateless edges are what `bd dep add --type waits-for` writes, and all that
    `bd import` keeps: it drops every dependency's metadata (docs/bd.md)."""
    if all(releases_dependents(c) for c in children):
        return False
    if gate is None or gate == "any-children":
        return not any(c.status == Status.CLOSED for c in children)
    return True


def blocked_by(tasks: Tasks, *, kids: Mapping[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Every blocked task with what blocks it; a task blocked only through its parent lists
    the parent, as `bd blocked` does. Keys follow the order of `tasks`. `kids`: children_of(tasks)
    when the caller has it already."""
    kids = children_of(tasks) if kids is None else kids
    direct = {tid: _direct_blockers(t, tasks, kids) for tid, t in tasks.items()
              if not releases_dependents(t)}
    # bd's is_blocked fixpoint: blocked state flows down parent-child edges to every
    # descendant that is not closed/pinned (a closed/pinned task stops the flow).
    blocked = {tid for tid, blockers in direct.items() if blockers}
    queue = list(blocked)
    while queue:
        for child in kids.get(queue.pop(), ()):
            if child in direct and child not in blocked:
                blocked.add(child)
                queue.append(child)
    result: dict[str, list[str]] = {}
    for tid, blockers in direct.items():
        if tid not in blocked:
            continue
        via_parent = [d.depends_on_id for d in tasks[tid].dependencies
                      if d.type == PARENT_CHILD and d.depends_on_id in blocked]
        result[tid] = blockers + [p for p in dict.fromkeys(via_parent) if p not in blockers]
    return result


def is_deferred(task: Task, tasks: Tasks, now: datetime) -> bool:
    """defer_until in the future, on the task or on its parent."""
    def future(t: Task) -> bool:
        when = parse_time(t.defer_until)
        return when is not None and when > now

    if future(task):
        return True
    return any(future(tasks[d.depends_on_id]) for d in task.dependencies
               if d.type == PARENT_CHILD and d.depends_on_id in tasks)


def descendants(tasks: Tasks, root: str, *, kids: Mapping[str, list[str]] | None = None) -> set[str]:
    """Every task below `root` through parent-child edges; `kids` when children_of is already
    computed (a caller walking many containers would otherwise pass over every edge per call)."""
    kids = children_of(tasks) if kids is None else kids
    seen: set[str] = set()
    stack = list(kids.get(root, ()))
    while stack:
        tid = stack.pop()
        if tid not in seen:
            seen.add(tid)
            stack.extend(kids.get(tid, ()))
    return seen


@dataclass(frozen=True)
class ReadyFilter:
    exclude_types: frozenset[str] = frozenset()
    only_type: str | None = None          # bd's --type replaces the exclusion list
    assignee: str | None = None
    unassigned: bool = False
    labels: tuple[str, ...] = ()          # all of these (AND)
    labels_any: tuple[str, ...] = ()      # any of these (OR)
    priority: int | None = None
    parent: str | None = None             # transitive descendants of this task
    include_deferred: bool = False
    include_ephemeral: bool = False


def _epoch(text: str) -> float:
    when = parse_time(text)
    return when.timestamp() if when else 0.0


def sort_tasks(items: Iterable[Task], policy: str = "priority",
               now: datetime | None = None) -> list[Task]:
    if policy == "priority":  # priority ASC, created_at DESC, id ASC
        return sorted(items, key=lambda t: (t.priority, -_epoch(t.created_at), t.id))
    if policy == "oldest":
        return sorted(items, key=lambda t: (_epoch(t.created_at), t.id))
    if policy == "hybrid":  # the last 48 h by priority first, then the rest oldest first
        cutoff = ((now or datetime.now(timezone.utc)) - timedelta(hours=48)).timestamp()

        def key(t: Task) -> tuple[int, int, float, str]:
            recent = _epoch(t.created_at) >= cutoff
            return (0 if recent else 1, t.priority if recent else 999, _epoch(t.created_at), t.id)
        return sorted(items, key=key)
    raise ValueError(f"unknown sort policy {policy!r} (expected one of {', '.join(SORT_POLICIES)})")


def ready(tasks: Tasks, *, now: datetime | None = None, filter: ReadyFilter = ReadyFilter(),
          sort: str = "priority", limit: int = 0,
          blocked: Mapping[str, Sequence[str]] | None = None,
          among: Iterable[str] | None = None) -> list[Task]:
    """`bd ready`: open, unblocked, undeferred work in bd's order. limit 0 means all.
    `among`: the IDs of every task that may be ready (at least the open, unblocked ones),
    when the caller keeps them (dispatch/queue_facts.py); only those are looked at."""
    now = now or datetime.now(timezone.utc)
    blocked = blocked_by(tasks) if blocked is None else blocked
    scope = descendants(tasks, filter.parent) if filter.parent else None
    excluded = READY_EXCLUDED_TYPES | filter.exclude_types
    out = []
    for t in tasks.values() if among is None else map(tasks.__getitem__, among):
        if t.status != Status.OPEN or t.pinned or t.id in blocked:
            continue
        if t.ephemeral and not filter.include_ephemeral:
            continue
        if filter.only_type is not None:
            if t.issue_type != filter.only_type:
                continue
        elif t.issue_type in excluded:
            continue
        if not filter.include_deferred and is_deferred(t, tasks, now):
            continue
        # --unassigned wins over --assignee, as in bd 1.1.0 (cmd/bd/ready.go sets the assignee
        # filter only `if assignee != "" && !unassigned`)
        if filter.unassigned:
            if t.assignee:
                continue
        elif filter.assignee is not None and t.assignee != filter.assignee:
            continue
        if filter.labels and not set(filter.labels) <= set(t.labels):
            continue
        if filter.labels_any and not set(filter.labels_any) & set(t.labels):
            continue
        if filter.priority is not None and t.priority != filter.priority:
            continue
        if scope is not None and t.id not in scope:
            continue
        out.append(t)
    out = sort_tasks(out, sort, now)
    return out[:limit] if limit > 0 else out


def select(tasks: Tasks, *, statuses: Sequence[str] = (), assignee: str | None = None,
           labels: Sequence[str] = (), issue_type: str | None = None,
           parent: str | None = None) -> list[Task]:
    """`bd list`: with no status, closed and pinned tasks are left out; "all" keeps them."""
    scope = descendants(tasks, parent) if parent else None
    wanted = set(statuses)
    out = []
    for t in tasks.values():
        if "all" not in wanted:
            if wanted and t.status not in wanted:
                continue
            if not wanted and t.status in (Status.CLOSED, Status.PINNED):
                continue
        if assignee is not None and t.assignee != assignee:
            continue
        if labels and not set(labels) <= set(t.labels):
            continue
        if issue_type is not None and t.issue_type != issue_type:
            continue
        if scope is not None and t.id not in scope:
            continue
        out.append(t)
    return sort_tasks(out)


def find_cycles(tasks: Tasks, edge_types: frozenset[str] = BLOCKING_EDGES) -> list[list[str]]:
    """Strongly connected components with a cycle, over edges of the given types (Tarjan,
    iterative). bd refuses cycles through blocks/conditional-blocks edges."""
    if _acyclic(tasks, edge_types):  # the usual case, and much cheaper than Tarjan
        return []
    graph = {tid: [d.depends_on_id for d in t.dependencies
                   if d.type in edge_types and d.depends_on_id in tasks]
             for tid, t in tasks.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph[node]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1 or node in graph[node]:
                    cycles.append(sorted(comp))
    return cycles


def _acyclic(tasks: Tasks, edge_types: frozenset[str]) -> bool:
    """Kahn's algorithm over the tasks that have such edges: can every one be removed once
    nothing points at it any more?"""
    graph: dict[str, list[str]] = {}
    for tid, t in tasks.items():
        if t.dependencies:
            succ = [d.depends_on_id for d in t.dependencies
                    if d.type in edge_types and d.depends_on_id in tasks]
            if succ:
                graph[tid] = succ
    pointed_at: dict[str, int] = defaultdict(int)
    for succ in graph.values():
        for target in succ:
            pointed_at[target] += 1
    free = [node for node in graph if node not in pointed_at]
    left = len(graph) + sum(1 for node in pointed_at if node not in graph)
    while free:
        left -= 1
        for target in graph.get(free.pop(), ()):
            pointed_at[target] -= 1
            if not pointed_at[target]:
                free.append(target)
    return left == 0


def would_create_cycle(tasks: Tasks, issue_id: str, depends_on_id: str,
                       edge_types: frozenset[str] = BLOCKING_EDGES) -> bool:
    """Would the edge issue_id -> depends_on_id close a cycle through edges of these types?"""
    if issue_id == depends_on_id:
        return True
    seen = {depends_on_id}
    stack = [depends_on_id]
    while stack:
        tid = stack.pop()
        task = tasks.get(tid)
        if task is None:
            continue
        for d in task.dependencies:
            if d.type in edge_types:
                if d.depends_on_id == issue_id:
                    return True
                if d.depends_on_id not in seen:
                    seen.add(d.depends_on_id)
                    stack.append(d.depends_on_id)
    return False


def _edge_text(issue_id: str, target: str, dep_type: str) -> str:
    if dep_type == PARENT_CHILD:
        return f"{issue_id} is a child of {target}"
    return f"{issue_id} waits on {target} ({dep_type})"


def cycle_path(tasks: Tasks, issue_id: str, depends_on_id: str, dep_type: str,
               edge_types: frozenset[str] = DEADLOCK_EDGES) -> str | None:
    """If the edge issue_id -> depends_on_id of `dep_type` would close a cycle through edges of
    `edge_types`, the cycle in words ("x-1 waits on x-1.1 (blocks), x-1.1 is a child of x-1");
    else None. Breadth first, so the shortest such cycle is named."""
    if dep_type not in edge_types:
        return None
    if issue_id == depends_on_id:
        return _edge_text(issue_id, depends_on_id, dep_type)
    came_from: dict[str, tuple[str, str]] = {depends_on_id: ("", "")}
    frontier = [depends_on_id]
    while frontier:
        following: list[str] = []
        for tid in frontier:
            task = tasks.get(tid)
            for d in task.dependencies if task is not None else ():
                if d.type not in edge_types or d.depends_on_id in came_from:
                    continue
                came_from[d.depends_on_id] = (tid, d.type)
                if d.depends_on_id == issue_id:
                    steps = [_edge_text(issue_id, depends_on_id, dep_type)]
                    node = issue_id
                    back: list[str] = []
                    while node != depends_on_id:
                        prev, kind = came_from[node]
                        back.append(_edge_text(prev, node, kind))
                        node = prev
                    return ", ".join(steps + back[::-1])
                following.append(d.depends_on_id)
        frontier = following
    return None


def deadlock_cycles(tasks: Tasks) -> list[tuple[list[str], str]]:
    """Every strongly connected group of tasks through DEADLOCK_EDGES (its sorted IDs) with one
    concrete cycle in it in words (see cycle_path); [] for a sound queue."""
    out: list[tuple[list[str], str]] = []
    for component in find_cycles(tasks, DEADLOCK_EDGES):
        members = set(component)
        start = component[0]
        # an edge out of `start` that stays in the group, then the way back to `start`
        for d in tasks[start].dependencies:
            if d.type in DEADLOCK_EDGES and d.depends_on_id in members:
                rest = cycle_path(_within(tasks, members), start, d.depends_on_id, d.type)
                if rest is not None:
                    out.append((component, rest))
                    break
    return out


def _within(tasks: Tasks, members: set[str]) -> dict[str, Task]:
    return {tid: tasks[tid] for tid in members}


def critical_path(tasks: Tasks) -> dict[str, int]:
    """For every unfinished task, the length of the longest chain of unfinished tasks that
    waits on it (itself included): blocks edges forward, and a parent waits on its children
    since an epic is done only when they are."""
    waiters: dict[str, list[str]] = defaultdict(list)
    released = _RELEASED  # releases_dependents, inlined: this runs over every task and edge
    for t in tasks.values():
        if t.status in released:
            continue
        for d in t.dependencies:
            target = tasks.get(d.depends_on_id)
            if target is None:
                continue
            if d.type in BLOCKING_EDGES or d.type == WAITS_FOR:
                waiters[d.depends_on_id].append(t.id)
            elif d.type == PARENT_CHILD and target.status not in released:
                waiters[t.id].append(d.depends_on_id)
    length: dict[str, int] = {}
    for root, task in tasks.items():
        if task.status in released or root in length:
            continue
        if root not in waiters:  # nothing waits on it: most tasks, no walk needed
            length[root] = 1
            continue
        # each frame keeps its place in its waiters: re-scanning them on every return made a
        # task that k tasks wait on cost k^2 (10,000 waiting on one hold: seconds per plan)
        stack = [(root, iter(waiters[root]))]
        on_path = {root}
        while stack:
            tid, rest = stack[-1]
            for w in rest:
                if w not in length and w not in on_path:
                    stack.append((w, iter(waiters.get(w, ()))))
                    on_path.add(w)
                    break
            else:
                stack.pop()
                on_path.discard(tid)
                length[tid] = 1 + max((length.get(w, 0) for w in waiters.get(tid, ())), default=0)
    return length


def dependency_counts(tasks: Tasks, ids: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
    """bd's export counts: dependency/dependent counts cover only `blocks` edges. For every
    task, or only for `ids` (the dependents still need one pass over every edge)."""
    dependents: dict[str, int] = defaultdict(int)
    for t in tasks.values():
        for d in t.dependencies:
            if d.type == BLOCKS:
                dependents[d.depends_on_id] += 1
    wanted = tasks if ids is None else {tid: tasks[tid] for tid in ids if tid in tasks}
    return {tid: {"dependency_count": sum(1 for d in t.dependencies if d.type == BLOCKS),
                  "dependent_count": dependents.get(tid, 0),
                  "comment_count": len(t.comments)}
            for tid, t in wanted.items()}


def stats(tasks: Tasks, *, now: datetime | None = None) -> dict[str, float | int]:
    """`bd stats --json` summary keys. ready_issues is bd's approximation
    (open - blocked); lead time and closable epics are computed, where Dolt-era bd reports 0."""
    kids = children_of(tasks)
    blocked = blocked_by(tasks, kids=kids)
    by_status: dict[str, int] = defaultdict(int)
    pinned = 0
    for t in tasks.values():
        by_status[t.status] += 1
        pinned += t.pinned
    closable = sum(
        1 for t in tasks.values()
        if t.issue_type == "epic" and t.status != Status.CLOSED and kids.get(t.id)
        and all(releases_dependents(tasks[c]) for c in kids[t.id] if c in tasks))
    leads = []
    for t in tasks.values():
        start, end = parse_time(t.created_at), parse_time(t.closed_at)
        if t.status == Status.CLOSED and start and end:
            leads.append((end - start).total_seconds() / 3600)
    return {
        "average_lead_time_hours": round(sum(leads) / len(leads), 2) if leads else 0,
        "blocked_issues": len(blocked),
        "closed_issues": by_status[Status.CLOSED],
        "deferred_issues": by_status[Status.DEFERRED],
        "epics_eligible_for_closure": closable,
        "in_progress_issues": by_status[Status.IN_PROGRESS],
        "open_issues": by_status[Status.OPEN],
        # bd counts the `pinned` flag here, not the status (statistics.go, bd 1.1.0)
        "pinned_issues": pinned,
        # bd's own arithmetic (statistics.go): open minus every blocked task, whatever its
        # status, and never below 0
        "ready_issues": max(0, by_status[Status.OPEN] - len(blocked)),
        "total_issues": len(tasks),
    }
