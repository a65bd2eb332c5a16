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
from orchestrator.dispatch.queue_facts import QueueFacts
from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.forge.status import render_status
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.model import Comment, Dependency, Task, task_from_record


def _tasks(records: list[dict[str, Any]]) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


def assert_same_facts(facts: QueueFacts, tasks: dict[str, Task], want: QueueFacts) -> None:
    """The facts kept by updates equal those counted afresh (`want`, built from the full
    computation's blocked set)."""
    assert facts.statuses == want.statuses
    for name in ("busy", "candidates", "open_blocked"):
        assert set(getattr(facts, name)) == set(getattr(want, name)), name
    assert {k: set(v) for k, v in facts.labelled.items()} == \
        {k: set(v) for k, v in want.labelled.items()}
    assert facts.attempts == want.attempts
    assert facts.phases == want.phases and facts.phase == want.phase
    assert facts.containers == want.containers
    assert facts.by_length == want.by_length
    assert sorted(facts.order, key=facts.order.__getitem__) == list(tasks)
    assert facts.recent_attempts() == want.recent_attempts()


def assert_same(info: GraphInfo, want: GraphInfo, tasks: dict[str, Task] | None = None) -> None:
    if tasks is not None:
        assert info.facts is not None
        assert_same_facts(info.facts, tasks, QueueFacts(tasks, want.blocked, want.kids,
                                                        want.critical))
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
                     "defer", "pin", "remove", "comment", "attempt", "label", "label"]),
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
    elif kind == "attempt" and t is not None:
        rec = AttemptRecord(attempt=len(t.comments) + 1, kind="success", decision="done",
                            at=TIMES[value % len(TIMES)])
        new[tid] = dataclasses.replace(t, comments=(
            *t.comments, Comment(f"c{value}", tid, "orchestrator", render(rec), TIMES[0])))
    elif kind == "label" and t is not None:
        label = ["phase:1", "phase:2", "needs-human", "x"][value % 4]
        labels = tuple(x for x in t.labels if x != label) if label in t.labels \
            else (*t.labels, label)
        new[tid] = dataclasses.replace(t, labels=labels)
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
    assert_same(state.info(), GraphInfo.of(tasks), tasks)
    for write in writes:  # each write may change several tasks at once
        new = tasks
        for change in write:
            new = apply(new, change)
        changed, removed = changed_between(tasks, new)
        state.update(new, changed, removed)
        assert_same(state.info(), GraphInfo.of(new), new)
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


def _child(tid: str, parent: str, **kw: Any) -> Task:
    return Task(tid, tid, dependencies=(Dependency(tid, parent, "parent-child", TIMES[0]),), **kw)


def test_moving_a_feature_to_another_epic_moves_its_whole_subtree() -> None:
    tasks = {"e1": Task("e1", "e1", issue_type="epic", labels=("phase:1",)),
             "e2": Task("e2", "e2", issue_type="epic", labels=("phase:2",)),
             "x": _child("x", "e2", status="closed"),
             "f": _child("f", "e1"), "t1": _child("t1", "f", status="closed"),
             "t2": _child("t2", "f")}
    state = GraphState(tasks)
    new = dict(tasks)
    new["f"] = dataclasses.replace(tasks["f"], dependencies=(
        Dependency("f", "e2", "parent-child", TIMES[0]),))
    state.update(new, *changed_between(tasks, new))
    assert_same(state.info(), GraphInfo.of(new), new)
    assert state.info().facts is not None
    assert state.info().facts.containers == {"e2": [2, 4], "f": [1, 2]}
    assert state.info().facts.phases == {"1": [0, 1], "2": [2, 5]}


@settings(max_examples=200, deadline=None)
@given(queues(), st.lists(CHANGES, max_size=12), st.sampled_from([None, 0, 1, 3]),
       st.sampled_from([0, 2, 40]))
def test_the_status_report_from_the_kept_facts_is_the_report_from_a_pass_over_every_task(
        records: list[dict[str, Any]], changes: list[tuple[str, int, int, int]],
        max_rows: int | None, dag_limit: int) -> None:
    """render_status reads the facts when the graph info carries them (a coordinator's):
    the same Markdown as the passes over every task it makes otherwise. (After updates the
    facts equal a fresh count, above, but for the order of rows a change appended.)"""
    tasks = _tasks(records)
    for change in changes:
        tasks = apply(tasks, change)
    events = ("one", "two")
    info = GraphState(tasks).info()
    assert info.facts is not None
    assert render_status(tasks, max_rows=max_rows, dag_limit=dag_limit, info=info,
                         events=events) == \
        render_status(tasks, max_rows=max_rows, dag_limit=dag_limit, events=events)
