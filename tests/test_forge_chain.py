"""The chain's counters (pure): what a cycle did to the queue decides the loop guards."""
from __future__ import annotations

from dataclasses import replace

from orchestrator.forge.chain import advance
from orchestrator.forge.state import ForgeState, Snapshot, merge, merge_text


def test_counters_follow_closes_and_progress_and_a_new_chain_starts_afresh() -> None:
    s = advance(ForgeState(), Snapshot(closed=1, total=5), chain_id="a", cycle=1)
    assert (s.cycles_since_close, s.idle_cycles) == (0, 0)
    s = advance(s, Snapshot(closed=1, total=5), chain_id="a", cycle=2)
    assert (s.cycles_since_close, s.idle_cycles) == (1, 1)
    s = advance(s, Snapshot(closed=1, total=6), chain_id="a", cycle=3)  # a task was created
    assert (s.cycles_since_close, s.idle_cycles) == (2, 0)
    s = advance(s, Snapshot(closed=1, total=6, handoffs=1), chain_id="a", cycle=4)
    assert (s.cycles_since_close, s.idle_cycles) == (3, 0)
    s = advance(s, Snapshot(closed=2, total=6, handoffs=1), chain_id="a", cycle=5)
    assert (s.cycles_since_close, s.idle_cycles, s.cycle) == (0, 0, 5)
    s = advance(s, Snapshot(closed=2, total=6, handoffs=1), chain_id="a", cycle=6)
    assert s.cycles_since_close == 1
    b = advance(s, Snapshot(closed=2, total=6, handoffs=1, cost_usd=4.0), chain_id="b", cycle=1)
    assert (b.chain_id, b.cycles_since_close, b.idle_cycles) == ("b", 1, 1)
    assert b.chain_cost_base == 0.0  # the cost before chain b started: its last snapshot's


def test_a_refresh_counts_no_cycle() -> None:
    s = advance(ForgeState(), Snapshot(closed=1, total=5), chain_id="a", cycle=3)
    assert advance(s, Snapshot(closed=4, total=9), chain_id="a", cycle=3, count_cycle=False) == s


def test_a_cycle_is_counted_once_per_run_however_many_legs_report() -> None:
    """Each matrix leg of a run reports with the run's cycle number: the second leg (and a
    late leg of an older run) adds no cycle, but its progress still resets the counters."""
    s = advance(ForgeState(), Snapshot(closed=1, total=5), chain_id="a", cycle=1)
    s = advance(s, Snapshot(closed=1, total=5), chain_id="a", cycle=2)      # leg 1 of run 2
    assert (s.cycle, s.cycles_since_close, s.idle_cycles) == (2, 1, 1)
    s = advance(s, Snapshot(closed=1, total=5), chain_id="a", cycle=2)      # leg 2 of run 2
    assert (s.cycle, s.cycles_since_close, s.idle_cycles) == (2, 1, 1)
    s = advance(s, Snapshot(closed=1, total=5), chain_id="a", cycle=3)
    assert (s.cycle, s.cycles_since_close, s.idle_cycles) == (3, 2, 2)
    s = advance(s, Snapshot(closed=2, total=5), chain_id="a", cycle=2)      # a late leg closed one
    assert (s.cycle, s.cycles_since_close, s.idle_cycles) == (3, 0, 0)
    s = advance(s, Snapshot(closed=2, total=5), chain_id="a", cycle=3)
    assert (s.cycle, s.cycles_since_close, s.idle_cycles) == (3, 0, 0)
    # a new chain counts from its own first cycle
    b = advance(s, Snapshot(closed=2, total=5), chain_id="b", cycle=1)
    assert (b.cycle, b.cycles_since_close, b.idle_cycles) == (1, 1, 1)


def test_two_jobs_caches_merge_without_losing_an_announcement_or_the_comment() -> None:


    base = ForgeState(queue="q", chain_id="a")
    ours = replace(base, cycle=3, escalations=("x@1",), idle_cycles=1)
    theirs = replace(base, cycle=4, target=1, comment_id=9, escalations=("y@2",), idle_cycles=2)
    m = merge(ours, theirs)
    assert (m.cycle, m.idle_cycles, m.target, m.comment_id) == (4, 2, 1, 9)
    assert set(m.escalations) == {"x@1", "y@2"}
    assert merge(replace(ours, queue="other"), theirs) == replace(ours, queue="other")
    assert "x@1" in merge_text(ours, None) and "x@1" in merge_text(ours, "not json")
