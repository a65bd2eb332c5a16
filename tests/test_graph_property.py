"""Property: on any graph (cycles, self-loops, dangling targets included) readiness never
crashes, and a task is ready exactly when the definition in beads reference §2 says so.

The reference below is deliberately naive: the blocked set is grown by re-scanning every task
until nothing changes (bd's is_blocked fixpoint), with no indexes and no shortcuts."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.tasks import graph
from orchestrator.tasks.model import task_from_record

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
STATUSES = ["open", "open", "open", "in_progress", "blocked", "deferred", "closed", "closed",
            "pinned", "hooked", "in_review"]
TYPES = ["task", "task", "bug", "feature", "epic", "chore", "gate", "molecule", "message",
         "merge-request", "agent", "role", "rig", "spike"]
EDGES = ["blocks", "blocks", "conditional-blocks", "parent-child", "parent-child", "waits-for",
         "related", "discovered-from"]
TIMES = ["2026-05-01T00:00:00Z", "2026-05-30T00:00:00Z", "2026-05-31T23:00:00.5Z",
         "2026-06-01T11:00:00Z"]
DEFERS = [None, None, None, "2026-05-01T00:00:00Z", "2026-07-01T00:00:00Z"]
EXCLUDED = {"merge-request", "gate", "molecule", "message", "agent", "role", "rig"}


@st.composite
def queues(draw: Any) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 14))
    ids = [f"q-{i}" for i in range(n)]
    records = []
    for tid in ids:
        rec: dict[str, Any] = {
            "id": tid, "title": tid, "status": draw(st.sampled_from(STATUSES)),
            "priority": draw(st.integers(0, 4)), "issue_type": draw(st.sampled_from(TYPES)),
            "created_at": draw(st.sampled_from(TIMES)), "updated_at": TIMES[0],
        }
        if draw(st.booleans()) and draw(st.booleans()):
            rec["pinned"] = True
        if draw(st.integers(0, 5)) == 0:
            rec["ephemeral"] = True
        defer = draw(st.sampled_from(DEFERS))
        if defer:
            rec["defer_until"] = defer
        records.append(rec)
    pairs = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids + ["ext-zzz"]),
                                     st.sampled_from(EDGES),
                                     st.sampled_from([None, "all-children", "any-children"])),
                          max_size=3 * n))
    seen = set()
    by_id = {r["id"]: r for r in records}
    for src, dst, kind, gate in pairs:
        if (src, dst) in seen:  # bd's primary key: one edge per ordered pair
            continue
        seen.add((src, dst))
        meta = json.dumps({"gate": gate}) if kind == "waits-for" and gate else "{}"
        by_id[src].setdefault("dependencies", []).append(
            {"issue_id": src, "depends_on_id": dst, "type": kind, "metadata": meta,
             "created_at": TIMES[0]})
    return records


def reference_blocked(records: list[dict[str, Any]]) -> set[str]:
    by_id = {r["id"]: r for r in records}

    def finished(tid: str) -> bool:
        return by_id[tid]["status"] in ("closed", "pinned")

    def children(tid: str) -> list[str]:
        return [r["id"] for r in records for d in r.get("dependencies", [])
                if d["type"] == "parent-child" and d["depends_on_id"] == tid]

    blocked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for r in records:
            if r["id"] in blocked or finished(r["id"]):
                continue
            for d in r.get("dependencies", []):
                target = d["depends_on_id"]
                if target not in by_id:
                    continue
                kind = d["type"]
                hit = False
                if kind in ("blocks", "conditional-blocks"):
                    hit = not finished(target)
                elif kind == "parent-child":
                    hit = target in blocked
                elif kind == "waits-for":
                    kids = children(target)
                    n_done = len([k for k in kids if finished(k)])
                    if json.loads(d["metadata"]).get("gate") == "any-children":
                        hit = len(kids) > 0 and n_done == 0
                    else:
                        hit = n_done < len(kids)
                if hit:
                    blocked.add(r["id"])
                    changed = True
                    break
    return blocked


def reference_ready(records: list[dict[str, Any]]) -> list[str]:
    by_id = {r["id"]: r for r in records}
    blocked = reference_blocked(records)

    def deferred_now(r: dict[str, Any]) -> bool:
        when = r.get("defer_until")
        return when is not None and datetime.fromisoformat(when.replace("Z", "+00:00")) > NOW

    out = []
    for r in records:
        parents = [by_id[d["depends_on_id"]] for d in r.get("dependencies", [])
                   if d["type"] == "parent-child" and d["depends_on_id"] in by_id]
        if (r["status"] == "open" and not r.get("pinned") and not r.get("ephemeral")
                and r["issue_type"] not in EXCLUDED and r["id"] not in blocked
                and not deferred_now(r) and not any(deferred_now(p) for p in parents)):
            out.append(r)

    def stamp(r: dict[str, Any]) -> float:
        return datetime.fromisoformat(r["created_at"].replace("Z", "+00:00")).timestamp()
    out.sort(key=lambda r: (r["priority"], -stamp(r), r["id"]))
    return [r["id"] for r in out]


@settings(max_examples=400, deadline=None)
@given(queues())
def test_ready_matches_the_definition(records: list[dict[str, Any]]) -> None:
    tasks = {r["id"]: task_from_record(r) for r in records}
    assert [t.id for t in graph.ready(tasks, now=NOW)] == reference_ready(records)
    assert set(graph.blocked_by(tasks)) == reference_blocked(records)
    # the rest of the graph API never crashes on the same input either
    graph.critical_path(tasks)
    graph.find_cycles(tasks)
    graph.stats(tasks, now=NOW)
    for policy in graph.SORT_POLICIES:
        graph.ready(tasks, now=NOW, sort=policy, limit=3)


def reference_cyclic_nodes(records: list[dict[str, Any]], kinds: set[str]) -> set[str]:
    """Tasks that can reach themselves over edges of these kinds (plain reachability)."""
    ids = {r["id"] for r in records}
    succ = {r["id"]: {d["depends_on_id"] for d in r.get("dependencies", [])
                      if d["type"] in kinds and d["depends_on_id"] in ids} for r in records}
    out = set()
    for start in succ:
        seen, todo = set(), list(succ[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(succ[node])
        if start in seen:
            out.add(start)
    return out


@settings(max_examples=300, deadline=None)
@given(queues())
def test_find_cycles_finds_exactly_the_tasks_on_a_cycle(records: list[dict[str, Any]]) -> None:
    tasks = {r["id"]: task_from_record(r) for r in records}
    for kinds in ({"blocks", "conditional-blocks"}, {"parent-child"}):
        found = graph.find_cycles(tasks, frozenset(kinds))
        assert {tid for cycle in found for tid in cycle} == reference_cyclic_nodes(records, kinds)
