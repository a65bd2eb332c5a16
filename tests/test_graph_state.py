"""Property: the coordinator's incremental graph state (dispatch/graph_state.py), moved through
any sequence of changes to any queue (cycles, self-loops, dangling targets, waits-for gates
included), always equals the full computation (`GraphInfo.of`, tasks/graph.py) of the queue
as it is then: children, containers, blocked set with its blockers, critical path."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_property import EDGES, STATUSES, TIMES, queues

from orchestrator.dispatch import graph_state
from orchestrator.dispatch.graph_state import GraphState, changed_between
from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks.model import Dependency, Task, task_from_record


def _tasks(records: list[dict[str, Any]]) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


def assert_same(info: GraphInfo, want: GraphInfo) -> None:
    assert info.critical == want.critical
    assert info.blocked == want.blocked
    assert info.containers == want.containers
    # a child that gained its parent in an update is last in that parent's list
    assert {k: sorted(v) for k, v in info.kids.items()} == \
        {k: sorted(v) for k, v in want.kids.items()}


# One change, as the store's commands make them (and a few it refuses, which other writers of
# the file can still make): (kind, task index, other task index, value).
CHANGES = st.tuples(
    st.sampled_from(["status", "status", "close", "reopen", "dep_add", "dep_remove", "create",
                     "defer", "pin", "remove", "comment"]),
    st.integers(0, 40), st.integers(0, 40), st.integers(0, 1000))


def apply(tasks: dict[str, Task], change: tuple[str, int, int, int]) -> dict[str, Task]:
    kind, a, b, value = change
    ids = list(tasks)
    new = dict(tasks)
    if not ids and kind != "create":
        return new
    tid = ids[a % len(ids)] if ids else ""
    other = ids[b % len(ids)] if ids else ""
    t = tasks.get(tid)
    if kind == "status" and t is not None:
        new[tid] = dataclasses.replace(t, status=STATUSES[value % len(STATUSES)])
    elif kind == "close" and t is not None:
        new[tid] = dataclasses.replace(t, status="closed")
    elif kind == "reopen" and t is not None:
        new[tid] = dataclasses.replace(t, status="open")
    elif kind == "defer" and t is not None:
        new[tid] = dataclasses.replace(t, status="deferred" if value % 2 else t.status,
                                       defer_until=TIMES[value % len(TIMES)])
    elif kind == "pin" and t is not None:
        new[tid] = dataclasses.replace(t, pinned=not t.pinned)
    elif kind == "comment" and t is not None:
        new[tid] = dataclasses.replace(t, notes=t.notes + "x")  # a new object, same graph
    elif kind == "dep_add" and t is not None:
        target = other if value % 7 else "ext-zzz"
        if all(d.depends_on_id != target for d in t.dependencies):
            meta = json.dumps({"gate": "all-children"}) if value % 5 == 0 else "{}"
            dep = Dependency(tid, target, EDGES[value % len(EDGES)], TIMES[0], "", meta)
            new[tid] = dataclasses.replace(t, dependencies=(*t.dependencies, dep))
    elif kind == "dep_remove" and t is not None and t.dependencies:
        gone = t.dependencies[value % len(t.dependencies)]
        new[tid] = dataclasses.replace(t, dependencies=tuple(
            d for d in t.dependencies if d is not gone))
    elif kind == "remove" and t is not None:
        del new[tid]
    elif kind == "create":
        nid = f"q-new{value}"
        if nid not in new:
            deps: tuple[Dependency, ...] = ()
            if other:
                deps = (Dependency(nid, other, EDGES[value % len(EDGES)], TIMES[0]),)
            new[nid] = Task(nid, nid, status=STATUSES[value % len(STATUSES)],
                            dependencies=deps)
            # and something may come to wait on it in the same write
            if t is not None and value % 3 == 0:
                dep = Dependency(tid, nid, "blocks" if value % 2 else "parent-child", TIMES[0])
                new[tid] = dataclasses.replace(t, dependencies=(*t.dependencies, dep))
    return new


@settings(max_examples=400, deadline=None)
@given(queues(), st.lists(st.lists(CHANGES, min_size=1, max_size=3), max_size=8))
def test_incremental_state_equals_the_full_computation_after_every_change(
        records: list[dict[str, Any]], writes: list[list[tuple[str, int, int, int]]]) -> None:
    tasks = _tasks(records)
    state = GraphState(tasks)
    assert_same(state.info(), GraphInfo.of(tasks))
    for write in writes:  # each write may change several tasks at once
        new = tasks
        for change in write:
            new = apply(new, change)
        changed, removed = changed_between(tasks, new)
        state.update(new, changed, removed)
        assert_same(state.info(), GraphInfo.of(new))
        tasks = new


def test_an_update_looks_only_at_the_changed_tasks_and_what_depends_on_them() -> None:
    """A chain of 2,000 tasks under one epic, and 2,000 independent tasks: closing one of the
    independent ones visits a handful of tasks, and rebuilds nothing."""
    chain = [Task("e", "epic", issue_type="epic")]
    chain += [Task(f"c-{i}", "c", dependencies=(
        Dependency(f"c-{i}", "e", "parent-child", TIMES[0]),
        *((Dependency(f"c-{i}", f"c-{i - 1}", "blocks", TIMES[0]),) if i else ())))
        for i in range(2000)]
    free = [Task(f"f-{i}", "f") for i in range(2000)]
    tasks = {t.id: t for t in chain + free}
    state = GraphState(tasks)
    new = dict(tasks)
    new["f-7"] = dataclasses.replace(tasks["f-7"], status="closed")
    state.update(new, *changed_between(tasks, new))
    assert state.rebuilds == 1 and state.updates == 1 and state.visited <= 4
    assert_same(state.info(), GraphInfo.of(new))


def test_a_change_that_reaches_most_of_the_queue_rebuilds() -> None:
    tasks = {"e": Task("e", "epic", issue_type="epic")}
    tasks |= {f"c-{i}": Task(f"c-{i}", "c", dependencies=(
        Dependency(f"c-{i}", "e", "parent-child", TIMES[0]),)) for i in range(2000)}
    state = GraphState(tasks)
    new = dict(tasks)
    new["e"] = dataclasses.replace(tasks["e"], dependencies=(
        Dependency("e", "x", "blocks", TIMES[0]),))
    new["x"] = Task("x", "blocker")  # blocks the epic and so every child: all 2,000 move
    state.update(new, *changed_between(tasks, new))
    assert state.rebuilds == 2
    assert_same(state.info(), GraphInfo.of(new))
    assert graph_state.MIN_REACH < 2000
