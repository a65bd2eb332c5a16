"""Readiness exactly as `bd ready` computes it (beads reference §2), and the rest of graph.py."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from orchestrator.tasks import graph
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.model import READY_EXCLUDED_TYPES, Task, task_from_record
from support.repo import FIXTURES, task_record

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def dep(tid: str, target: str, kind: str, metadata: str = "{}") -> dict[str, Any]:
    return {"issue_id": tid, "depends_on_id": target, "type": kind,
            "created_at": "2026-05-29T08:00:00Z", "metadata": metadata}


def t(tid: str, *, deps: tuple[tuple[str, str], ...] = (), gate: str | None = None,
      **kw: Any) -> dict[str, Any]:
    """A record; deps are (type, target) pairs."""
    rec = task_record(tid, **kw)
    meta = json.dumps({"gate": gate}) if gate else "{}"
    extra = [dep(tid, target, kind, meta if kind == "waits-for" else "{}") for kind, target in deps]
    if extra:
        rec["dependencies"] = rec.get("dependencies", []) + extra
    return rec


def queue(*records: dict[str, Any]) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


def ready_ids(tasks: dict[str, Task], **kw: Any) -> list[str]:
    kw.setdefault("now", NOW)
    return [x.id for x in graph.ready(tasks, **kw)]


# -- blocking edges ----------------------------------------------------------------------
@pytest.mark.parametrize("edge", ["blocks", "conditional-blocks"])
@pytest.mark.parametrize(("blocker_status", "is_ready"), [
    ("open", False), ("in_progress", False), ("blocked", False), ("deferred", False),
    ("hooked", False), ("in_review", False), ("closed", True), ("pinned", True),
])
def test_blocking_edges_release_only_when_closed_or_pinned(edge: str, blocker_status: str,
                                                           is_ready: bool) -> None:
    tasks = queue(t("x-a", status=blocker_status), t("x-b", deps=((edge, "x-a"),)))
    assert ("x-b" in ready_ids(tasks)) is is_ready
    assert graph.blocked_by(tasks).get("x-b") == (None if is_ready else ["x-a"])


@pytest.mark.parametrize("edge", ["related", "discovered-from", "relates-to", "replies-to",
                                  "duplicates", "supersedes", "tracks", "caused-by", "validates",
                                  "until", "delegated-from", "authored-by", "my-custom-edge"])
def test_non_blocking_edges_never_block(edge: str) -> None:
    tasks = queue(t("x-a"), t("x-b", deps=((edge, "x-a"),)))
    assert set(ready_ids(tasks)) == {"x-a", "x-b"}
    assert graph.blocked_by(tasks) == {}


def test_dependency_on_unknown_or_external_target_does_not_block() -> None:
    tasks = queue(t("x-b", deps=(("blocks", "external:other:cap"), ("blocks", "other-zzz"))))
    assert ready_ids(tasks) == ["x-b"]


# -- parent-child ------------------------------------------------------------------------
def test_blocked_state_propagates_down_parent_child_transitively() -> None:
    tasks = queue(
        t("x-gate"),
        t("x-e", issue_type="epic", deps=(("blocks", "x-other"),)),
        t("x-other", issue_type="epic"),
        t("x-e.1", parent="x-e"),
        t("x-e.1.1", parent="x-e.1"),
        t("x-e.1.1.1", parent="x-e.1.1"),
    )
    assert set(ready_ids(tasks)) == {"x-gate", "x-other"}
    assert graph.blocked_by(tasks) == {"x-e": ["x-other"], "x-e.1": ["x-e"],
                                       "x-e.1.1": ["x-e.1"], "x-e.1.1.1": ["x-e.1.1"]}


@pytest.mark.parametrize("parent_status", ["open", "in_progress", "hooked", "blocked"])
def test_unblocked_parent_does_not_block_children(parent_status: str) -> None:
    tasks = queue(t("x-e", issue_type="epic", status=parent_status), t("x-e.1", parent="x-e"))
    assert "x-e.1" in ready_ids(tasks)


def test_closed_child_stops_propagation() -> None:
    tasks = queue(t("x-a"), t("x-e", issue_type="epic", deps=(("blocks", "x-f"),)),
                  t("x-f", issue_type="epic"),
                  t("x-e.1", parent="x-e", status="closed"), t("x-e.1.1", parent="x-e.1"))
    assert "x-e.1.1" in ready_ids(tasks)


# -- waits-for ---------------------------------------------------------------------------
# As bd 1.1.0's SQL decides (internal/storage/issueops/blocked_state.go, waitsForGateBlockedSQL,
# used by markBlockedTemplateForIssues / RecomputeIsBlockedInTx): a child not closed/pinned holds
# the gate, unless the gate is any-children and a child is *closed*. No gate in the metadata
# compares NULL and so acts as any-children, not as all-children. Each row was checked against
# the real bd 1.1.0 (tests/test_bd_differential.py::test_waits_for_gates_match_bd).
@pytest.mark.parametrize(("gate", "child_states", "is_ready"), [
    (None, ("closed", "open"), True),          # bd's NULL gate: one closed child opens it
    (None, ("open", "in_progress"), False),
    (None, ("pinned", "open"), False),         # pinned is not closed
    (None, ("closed", "pinned"), True),
    (None, (), True),
    ("all-children", ("closed", "in_progress"), False),
    ("all-children", ("closed", "closed"), True),
    ("all-children", ("pinned", "closed"), True),
    ("all-children", ("pinned",), True),
    ("any-children", ("closed", "open"), True),
    ("any-children", ("open", "in_progress"), False),
    ("any-children", ("pinned", "open"), False),  # a pinned child releases, but opens nothing
    ("any-children", ("pinned",), True),
    ("any-children", (), True),
    ("all-children", (), True),
])
def test_waits_for_gates(gate: str | None, child_states: tuple[str, ...], is_ready: bool) -> None:
    children = [t(f"x-s.{i}", parent="x-s", status=s) for i, s in enumerate(child_states, 1)]
    tasks = queue(t("x-s", issue_type="molecule"), *children,
                  t("x-w", deps=(("waits-for", "x-s"),), gate=gate))
    assert ("x-w" in ready_ids(tasks)) is is_ready


# -- statuses, flags, types ---------------------------------------------------------------
@pytest.mark.parametrize("status", ["in_progress", "blocked", "deferred", "closed", "pinned",
                                    "hooked", "in_review", "qa"])
def test_only_open_is_ever_ready(status: str) -> None:
    assert ready_ids(queue(t("x-a", status=status))) == []


def test_pinned_flag_and_ephemeral() -> None:
    tasks = queue(t("x-p", pinned=True), t("x-w", ephemeral=True), t("x-n", no_history=True))
    assert ready_ids(tasks) == ["x-n"]
    assert set(ready_ids(tasks, filter=ReadyFilter(include_ephemeral=True))) == {"x-w", "x-n"}


@pytest.mark.parametrize("itype", sorted(READY_EXCLUDED_TYPES))
def test_excluded_types(itype: str) -> None:
    tasks = queue(t("x-a", issue_type=itype))
    assert ready_ids(tasks) == []
    assert ready_ids(tasks, filter=ReadyFilter(only_type=itype)) == ["x-a"]  # --type replaces


def test_epics_are_ready_unless_excluded() -> None:
    tasks = queue(t("x-e", issue_type="epic", priority=1), t("x-c", issue_type="chore"),
                  t("x-d", issue_type="decision"))
    assert ready_ids(tasks) == ["x-e", "x-c", "x-d"]
    assert "x-e" not in ready_ids(tasks, filter=ReadyFilter(exclude_types=frozenset({"epic"})))
    assert ready_ids(tasks, filter=ReadyFilter(only_type="chore")) == ["x-c"]


# -- deferral ----------------------------------------------------------------------------
def test_deferred_self_and_parent() -> None:
    future, past = "2026-06-02T00:00:00Z", "2026-05-01T00:00:00Z"
    tasks = queue(t("x-f", defer_until=future), t("x-p", defer_until=past),
                  t("x-e", issue_type="epic", defer_until=future), t("x-e.1", parent="x-e"))
    assert ready_ids(tasks) == ["x-p"]
    assert set(ready_ids(tasks, filter=ReadyFilter(include_deferred=True))) == {
        "x-f", "x-p", "x-e", "x-e.1"}
    later = datetime(2026, 6, 3, tzinfo=timezone.utc)
    assert set(ready_ids(tasks, now=later)) == {"x-f", "x-p", "x-e", "x-e.1"}


# -- sorting and limit -------------------------------------------------------------------
def sort_queue() -> dict[str, Task]:
    return queue(
        t("x-old1", priority=1, created_at="2026-05-01T00:00:00Z"),
        t("x-old3", priority=3, created_at="2026-04-01T00:00:00Z"),
        t("x-new2", priority=2, created_at="2026-06-01T10:00:00Z"),
        t("x-new0", priority=0, created_at="2026-05-31T10:00:00Z"),
        t("x-b", priority=1, created_at="2026-05-20T00:00:00Z"),
        t("x-a", priority=1, created_at="2026-05-20T00:00:00Z"),
    )


@pytest.mark.parametrize(("policy", "expected"), [
    # priority ASC, created_at DESC (newest first), id ASC
    ("priority", ["x-new0", "x-a", "x-b", "x-old1", "x-new2", "x-old3"]),
    # created_at ASC, id ASC
    ("oldest", ["x-old3", "x-old1", "x-a", "x-b", "x-new0", "x-new2"]),
    # last 48 h by priority, then the rest oldest first
    ("hybrid", ["x-new0", "x-new2", "x-old3", "x-old1", "x-a", "x-b"]),
])
def test_sort_policies(policy: str, expected: list[str]) -> None:
    assert ready_ids(sort_queue(), sort=policy) == expected


def test_limit_and_unknown_policy() -> None:
    assert ready_ids(sort_queue(), limit=2) == ["x-new0", "x-a"]
    assert len(ready_ids(sort_queue(), limit=0)) == 6
    with pytest.raises(ValueError, match="unknown sort policy"):
        graph.ready(sort_queue(), sort="random")


def test_nanosecond_timestamps_sort_correctly() -> None:
    tasks = queue(t("x-a", created_at="2026-05-29T12:05:41.318204917Z"),
                  t("x-b", created_at="2026-05-29T12:05:41.9Z"))
    assert ready_ids(tasks) == ["x-b", "x-a"]


# -- filters -----------------------------------------------------------------------------
def filter_queue() -> dict[str, Task]:
    return queue(
        t("x-1", assignee="ada", labels=["api", "web"], priority=1),
        t("x-2", labels=["api"], priority=2),
        t("x-3", labels=["ops"], priority=1, assignee="lin"),
        t("x-e", issue_type="epic"), t("x-e.1", parent="x-e"), t("x-e.1.1", parent="x-e.1"),
    )


@pytest.mark.parametrize(("flt", "expected"), [
    (ReadyFilter(assignee="ada"), {"x-1"}),
    (ReadyFilter(unassigned=True), {"x-2", "x-e", "x-e.1", "x-e.1.1"}),
    # bd 1.1.0 lets --unassigned win (cmd/bd/ready.go); checked against the real bd in
    # tests/test_bd_differential.py (FILTERS)
    (ReadyFilter(assignee="ada", unassigned=True), {"x-2", "x-e", "x-e.1", "x-e.1.1"}),
    (ReadyFilter(labels=("api", "web")), {"x-1"}),
    (ReadyFilter(labels=("api",)), {"x-1", "x-2"}),
    (ReadyFilter(labels_any=("web", "ops")), {"x-1", "x-3"}),
    (ReadyFilter(priority=1), {"x-1", "x-3"}),
    (ReadyFilter(parent="x-e"), {"x-e.1", "x-e.1.1"}),
])
def test_filters(flt: ReadyFilter, expected: set[str]) -> None:
    assert set(ready_ids(filter_queue(), filter=flt)) == expected


def test_select_like_bd_list() -> None:
    tasks = queue(t("x-o"), t("x-c", status="closed"), t("x-p", status="pinned"),
                  t("x-i", status="in_progress", assignee="ada"), t("x-e", issue_type="epic"),
                  t("x-e.1", parent="x-e", labels=["a"]))
    ids = lambda **kw: {x.id for x in graph.select(tasks, **kw)}  # noqa: E731
    assert ids() == {"x-o", "x-i", "x-e", "x-e.1"}
    assert ids(statuses=["all"]) == set(tasks)
    assert ids(statuses=["closed", "pinned"]) == {"x-c", "x-p"}
    assert ids(assignee="ada") == {"x-i"}
    assert ids(labels=["a"]) == {"x-e.1"}
    assert ids(issue_type="epic") == {"x-e"}
    assert ids(parent="x-e") == {"x-e.1"}


# -- cycles, stats, critical path ---------------------------------------------------------
def test_find_cycles_and_would_create_cycle() -> None:
    tasks = queue(t("x-a", deps=(("blocks", "x-b"),)), t("x-b", deps=(("conditional-blocks", "x-c"),)),
                  t("x-c", deps=(("blocks", "x-a"),)), t("x-d", deps=(("related", "x-d"),)),
                  t("x-e"))
    assert graph.find_cycles(tasks) == [["x-a", "x-b", "x-c"]]
    assert graph.find_cycles(queue(t("x-s", deps=(("blocks", "x-s"),)))) == [["x-s"]]
    acyclic = queue(t("x-a", deps=(("blocks", "x-b"),)), t("x-b"), t("x-c"))
    assert graph.find_cycles(acyclic) == []
    assert graph.would_create_cycle(acyclic, "x-b", "x-a")
    assert graph.would_create_cycle(acyclic, "x-c", "x-c")
    assert not graph.would_create_cycle(acyclic, "x-c", "x-a")
    assert not graph.would_create_cycle(acyclic, "x-b", "x-a", frozenset({"parent-child"}))


def test_readiness_survives_cycles() -> None:
    tasks = queue(t("x-a", deps=(("blocks", "x-b"),)), t("x-b", deps=(("blocks", "x-a"),)),
                  t("x-p", parent="x-q", deps=(("blocks", "x-z"),)), t("x-q", parent="x-p"),
                  t("x-z"))
    assert ready_ids(tasks) == ["x-z"]
    assert set(graph.blocked_by(tasks)) == {"x-a", "x-b", "x-p", "x-q"}
    assert graph.critical_path(tasks)["x-z"] >= 2


def test_stats_match_bd_fixture() -> None:
    records = [json.loads(x) for x in (FIXTURES / "bd" / "issues.jsonl").read_text().splitlines()]
    tasks = queue(*records)
    expected = json.loads((FIXTURES / "bd" / "stats.json").read_text())["summary"]
    got = graph.stats(tasks)
    assert sorted(got) == sorted(expected)
    # By design we compute the lead time where Dolt-era bd always reports 0.
    assert {k: v for k, v in got.items() if k != "average_lead_time_hours"} == \
        {k: v for k, v in expected.items() if k != "average_lead_time_hours"}
    assert got["average_lead_time_hours"] == 3.69  # shop-m2d.1: 08:01:10 -> 11:42:37


def test_stats_closable_epics_and_blocked() -> None:
    tasks = queue(t("x-e", issue_type="epic"), t("x-e.1", parent="x-e", status="closed"),
                  t("x-f", issue_type="epic"), t("x-f.1", parent="x-f"),
                  t("x-b", status="in_progress", deps=(("blocks", "x-f.1"),)))
    s = graph.stats(tasks)
    assert s["epics_eligible_for_closure"] == 1
    # bd: ready_issues = open_issues - blocked_issues, even when the blocked one is in progress
    assert (s["open_issues"], s["blocked_issues"], s["ready_issues"]) == (3, 1, 2)


def test_stats_count_the_pinned_flag_and_never_a_negative_ready() -> None:
    """bd 1.1.0 (statistics.go, found by tests/test_bd_differential.py): pinned_issues counts
    the `pinned` flag, not the status; ready_issues = open - blocked is floored at 0."""
    tasks = queue(t("x-a", status="pinned"), t("x-b", status="deferred", pinned=True),
                  t("x-c", pinned=True), t("x-o"),
                  t("x-d", status="in_progress", deps=(("blocks", "x-o"),)),
                  t("x-e", status="hooked", deps=(("blocks", "x-o"),)))
    s = graph.stats(tasks)
    assert s["pinned_issues"] == 2
    assert (s["open_issues"], s["blocked_issues"], s["ready_issues"]) == (2, 2, 0)


def test_critical_path() -> None:
    # a <- b <- c (chain), d waits on a too; epic E's children; closed work is not counted
    tasks = queue(
        t("x-a"), t("x-b", deps=(("blocks", "x-a"),)), t("x-c", deps=(("blocks", "x-b"),)),
        t("x-d", deps=(("blocks", "x-a"),)),
        t("x-e", issue_type="epic"), t("x-e.1", parent="x-e"),
        t("x-g", issue_type="epic", deps=(("blocks", "x-e"),)),
        t("x-done", status="closed"), t("x-after", deps=(("blocks", "x-done"),)),
    )
    cp = graph.critical_path(tasks)
    assert cp["x-a"] == 3 and cp["x-b"] == 2 and cp["x-c"] == 1 and cp["x-d"] == 1
    assert cp["x-e.1"] == 3  # e.1 -> epic e -> epic g
    assert cp["x-after"] == 1 and "x-done" not in cp


def test_dependency_counts_are_blocks_only() -> None:
    tasks = queue(t("x-a"), t("x-b", deps=(("blocks", "x-a"), ("related", "x-a"))),
                  t("x-c", deps=(("conditional-blocks", "x-a"),)))
    counts = graph.dependency_counts(tasks)
    assert counts["x-a"] == {"dependency_count": 0, "dependent_count": 1, "comment_count": 0}
    assert counts["x-b"]["dependency_count"] == 1


def test_the_waits_for_case_bd_import_decided_differently() -> None:
    """tests/fixtures/bd/waits_for_open.jsonl, where bd 1.1.0 called q-50 unblocked: q-50 waits
    for q-10 (all-children), whose child q-77 is in progress and q-66 closed. `bd import` drops
    the gate (issueops.PersistDependenciesWithOptionsResult inserts no metadata), and a gateless
    edge with a closed child is open in bd's SQL (blocked_state.go, waitsForGateBlockedSQL)."""
    lines = (FIXTURES / "bd" / "waits_for_open.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert "q-50" in graph.blocked_by(queue(*records))
    for rec in records:
        for d in rec.get("dependencies", []):
            d["metadata"] = "{}"  # what `bd export` shows after `bd import`
    assert "q-50" not in graph.blocked_by(queue(*records))
