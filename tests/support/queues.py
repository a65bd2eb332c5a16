"""Hypothesis strategies for whole task queues in bd's export format, and for `ready` filters.

A queue mixes every status, type and priority bd has, the dependency types that matter to
readiness (blocks, parent-child with deep chains, conditional-blocks, waits-for without a gate,
see BLOCKING) and two that must not (related, discovered-from), deferred and pinned tasks,
assignees and labels. Timestamps come from a handful of values so that bd's tie-breaks (created_at DESC, then
id) are exercised. Blocking and parent edges point at earlier tasks, so there is no cycle (bd
refuses those when edges are written); at most one edge per ordered pair, as bd's primary key.
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

PREFIX = "q"
STATUSES = ("open", "open", "open", "in_progress", "blocked", "deferred", "closed", "closed",
            "pinned", "hooked")
TYPES = ("task", "task", "bug", "feature", "epic", "epic", "chore", "decision", "spike",
         "story", "milestone", "gate", "molecule", "message")
ASSIGNEES = ("", "", "ada", "lin")
LABELS = ("api", "ui", "db")
TIMES = ("2026-05-29T08:00:00Z", "2026-05-29T08:00:01Z", "2026-05-29T09:30:00Z",
         "2026-05-30T10:00:00Z")
PAST, FUTURE = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
# waits-for edges carry no gate here: `bd import` (bd 1.1.0) drops every dependency's metadata,
# so a gate written into the queue would not reach bd (docs/bd.md). Gated edges are compared
# with bd in test_bd_differential.py::test_waits_for_gates_match_bd, made with `bd create`.
BLOCKING = ("blocks", "blocks", "conditional-blocks", "waits-for")
LOOSE = ("related", "discovered-from")


def _edge(tid: str, on: str, kind: str, at: str) -> dict[str, Any]:
    return {"issue_id": tid, "depends_on_id": on, "type": kind, "created_at": at,
            "created_by": "planner", "metadata": "{}"}


@st.composite
def queues(draw: st.DrawFn, max_tasks: int = 12) -> list[dict[str, Any]]:
    n = draw(st.integers(1, max_tasks))
    # IDs whose order differs from creation order, so the id tie-break is visible
    suffixes = draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
    ids = [f"{PREFIX}-{s}" for s in suffixes]
    records = []
    for i, tid in enumerate(ids):
        status = draw(st.sampled_from(STATUSES))
        created = draw(st.sampled_from(TIMES))
        rec: dict[str, Any] = {
            "_type": "issue", "id": tid, "title": f"Task {tid}", "status": status,
            "priority": draw(st.integers(0, 4)), "issue_type": draw(st.sampled_from(TYPES)),
            "created_at": created, "created_by": "planner", "updated_at": created,
        }
        assignee = draw(st.sampled_from(ASSIGNEES))
        if assignee:
            rec["assignee"] = assignee
        if status == "closed":
            rec["closed_at"] = created
            rec["close_reason"] = "done"
        defer = draw(st.sampled_from((None, None, None, PAST, FUTURE)))
        if defer:
            rec["defer_until"] = defer
        labels = draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=2))
        if labels:
            rec["labels"] = sorted(labels)
        deps: list[dict[str, Any]] = []
        earlier = ids[:i]
        if earlier and draw(st.integers(0, 2)):  # a parent: chains of parents get deep
            deps.append(_edge(tid, draw(st.sampled_from(earlier)), "parent-child", created))
        for on in draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else ():
            if any(d["depends_on_id"] == on for d in deps):
                continue
            deps.append(_edge(tid, on, draw(st.sampled_from(BLOCKING)), created))
        others = [x for x in ids if x != tid]
        for on in draw(st.lists(st.sampled_from(others), unique=True, max_size=1)) if others else ():
            if not any(d["depends_on_id"] == on for d in deps):
                deps.append(_edge(tid, on, draw(st.sampled_from(LOOSE)), created))
        if deps:
            rec["dependencies"] = deps
        if status != "pinned" and draw(st.integers(0, 9)) == 0:
            rec["pinned"] = True
        records.append(rec)
    return records


# One `ready` filter per example, as (orchestrator/bd flags); bd's own ready accepts the same.
FILTERS = st.one_of(
    st.just(()),
    st.sampled_from(ASSIGNEES[2:]).map(lambda a: ("--assignee", a)),
    st.just(("--unassigned",)),
    st.sampled_from(ASSIGNEES[2:]).map(lambda a: ("--assignee", a, "--unassigned")),
    st.integers(0, 4).map(lambda p: ("--priority", str(p))),
    st.sampled_from(("task", "bug", "epic", "gate", "chore")).map(lambda t: ("--type", t)),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True).map(
        lambda ls: tuple(x for label in ls for x in ("--label", label))),
    st.integers(1, 4).map(lambda n: ("--limit", str(n))),
    st.tuples(st.integers(0, 4), st.integers(1, 3)).map(
        lambda pn: ("--priority", str(pn[0]), "--unassigned", "--limit", str(pn[1]))),
)
