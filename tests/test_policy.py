"""The seed's failure policy, one case per branch, and the loop guards."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from orchestrator.config import Config, DispatchConfig
from orchestrator.dispatch import policy
from orchestrator.tasks.history import AttemptRecord
from orchestrator.tasks.model import Task


@dataclass(frozen=True)
class O:
    kind: str
    subclass: str = ""
    retryable: bool = True


def cfg(**dispatch: object) -> Config:
    return dataclasses.replace(Config(), dispatch=dataclasses.replace(DispatchConfig(), **dispatch))


def rec(kind: str, decision: str = "", attempt: int = 1) -> AttemptRecord:
    return AttemptRecord(attempt=attempt, kind=kind, decision=decision)


OPEN = Task(id="t-1", title="x", status="in_progress")
CLOSED = Task(id="t-1", title="x", status="closed")


@pytest.mark.parametrize("task, history, outcome, action, budget, reason_part", [
    # success: the agent closed the task
    (CLOSED, [], O("success"), "done", "", "closed"),
    # a "success" that left the task open is no progress: retried
    (OPEN, [], O("success"), "retry", "xhigh", "no_progress"),
    # errors of every retryable kind: retry with the next budget
    (OPEN, [], O("error"), "retry", "xhigh", "retry 2 of 3"),
    (OPEN, [], O("timeout"), "retry", "xhigh", "timeout"),
    (OPEN, [], O("idle_timeout"), "retry", "xhigh", "idle_timeout"),
    (OPEN, [], O("max_turns"), "retry", "xhigh", "max_turns"),
    (OPEN, [], O("no_progress"), "retry", "xhigh", "no_progress"),
    (OPEN, [rec("error", "retry")], O("error"), "retry", "max", "retry 3 of 3"),
    # the last failed try escalates
    (OPEN, [rec("error", "retry"), rec("timeout", "retry")], O("error"), "escalate", "",
     "failed try 3 of 3"),
    # not retryable (auth, tamper): escalate at once
    (OPEN, [], O("error", "auth", retryable=False), "escalate", "", "error (auth) is not retryable"),
    (OPEN, [], O("error", "tamper", retryable=False), "escalate", "", "tamper"),
    # context exhausted: handoff, same budget, not a failure
    (OPEN, [], O("context_exhausted"), "handoff", "high", "handoff 1 of 3"),
    (OPEN, [rec("error", "retry")], O("context_exhausted"), "handoff", "xhigh", "handoff 1 of 3"),
    (OPEN, [rec("context_exhausted", "handoff")] * 2, O("context_exhausted"), "handoff", "high",
     "handoff 3 of 3"),
    # ... capped by max_handoffs
    (OPEN, [rec("context_exhausted", "handoff")] * 3, O("context_exhausted"), "escalate", "",
     "max_handoffs"),
    # handoffs do not count as failures
    (OPEN, [rec("context_exhausted", "handoff")] * 2, O("error"), "retry", "xhigh", "retry 2 of 3"),
    # a discovered blocker: wait, not a failure
    (OPEN, [], O("blocked_by_new_task"), "wait", "high", "blocker"),
    (OPEN, [rec("error", "retry"), rec("error", "retry")], O("blocked_by_new_task"), "wait", "max",
     "blocker"),
    # interrupted (Ctrl-C, stale claim): released, not a failure
    (OPEN, [rec("interrupted", "release")] * 5, O("interrupted"), "release", "high", "interrupted"),
    (OPEN, [rec("interrupted", "release")] * 5, O("error"), "retry", "xhigh", "retry 2 of 3"),
])
def test_decide(task: Task, history: list[AttemptRecord], outcome: O, action: str, budget: str,
                reason_part: str) -> None:
    d = policy.decide(task, history, outcome, Config())
    assert d.action == action
    assert d.next_budget == budget
    assert reason_part in d.reason
    assert d.attempt == len(history) + 1


def test_max_attempts_one_escalates_the_first_failure() -> None:
    d = policy.decide(OPEN, [], O("error"), cfg(max_attempts=1))
    assert d.action == "escalate"


def test_max_handoffs_zero_escalates_the_first_exhaustion() -> None:
    d = policy.decide(OPEN, [], O("context_exhausted"), cfg(max_handoffs=0))
    assert d.action == "escalate"


def test_budget_ladder_stays_on_the_last_step() -> None:
    c = dataclasses.replace(Config(), agent=dataclasses.replace(Config().agent, budgets=["a", "b"]))
    assert [policy.budget_for(c, f) for f in range(4)] == ["a", "b", "b", "b"]
    c = dataclasses.replace(Config(), agent=dataclasses.replace(Config().agent, budgets=[]))
    assert policy.budget_for(c, 2) == ""


def test_next_attempt_counts_handoffs_in_the_number_but_not_in_the_budget() -> None:
    hist = [rec("error", "retry"), rec("context_exhausted", "handoff"), rec("interrupted", "release")]
    assert policy.next_attempt(hist) == (4, 1)


@pytest.mark.parametrize("state, config, expect", [
    (policy.LoopState(), Config(), ""),
    (policy.LoopState(stop_file=True), Config(), "kill switch"),
    (policy.LoopState(escalated=("t-1",)), Config(), "escalated"),
    (policy.LoopState(escalated=("t-1",)), cfg(on_escalation="continue"), ""),
    (policy.LoopState(cycles_since_close=100), Config(), "max_cycles"),
    (policy.LoopState(cycles_since_close=5), cfg(max_cycles=5), "max_cycles"),
    (policy.LoopState(cycles=500, cycles_since_close=4), cfg(max_cycles=5), ""),
    (policy.LoopState(idle_cycles=3), Config(), "no progress"),
    (policy.LoopState(idle_cycles=2), Config(), ""),
    (policy.LoopState(cost_usd=10.0), cfg(max_cost_usd=10.0), "max_cost_usd"),
    (policy.LoopState(cost_usd=9.99), cfg(max_cost_usd=10.0), ""),
    (policy.LoopState(cost_usd=1e9), Config(), ""),
])
def test_guard(state: policy.LoopState, config: Config, expect: str) -> None:
    reason = policy.guard(state, config)
    assert (expect in reason) if expect else reason == ""


def test_after_cycle_counts_idle_cycles_and_resets_on_progress() -> None:
    s = policy.LoopState()
    s = policy.after_cycle(s, progressed=False)
    s = policy.after_cycle(s, progressed=False)
    assert (s.cycles, s.idle_cycles) == (2, 2)
    s = policy.after_cycle(s, progressed=True, escalated=["t-9"])
    assert (s.cycles, s.idle_cycles, s.escalated) == (3, 0, ("t-9",))
    assert s.cycles_since_close == 3  # progress without a task closed counts for max_cycles
    s = policy.after_cycle(s, progressed=True, closed=True)
    assert (s.cycles, s.idle_cycles, s.cycles_since_close) == (4, 0, 0)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

KINDS = ["success", "error", "timeout", "idle_timeout", "max_turns", "no_progress",
         "context_exhausted", "blocked_by_new_task", "interrupted"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.booleans()), min_size=1, max_size=40),
       st.integers(1, 5), st.integers(0, 4))
def test_any_run_sequence_stays_within_the_caps(runs: list[tuple[str, bool]], max_attempts: int,
                                                max_handoffs: int) -> None:
    """Whatever the agents do, a task ends done or escalated once the caps are reached, never
    gets more failed tries than max_attempts or more handoffs than max_handoffs, and its budget
    only rises with failures."""
    config = cfg(max_attempts=max_attempts, max_handoffs=max_handoffs)
    history: list[AttemptRecord] = []
    budgets_by_failures: dict[int, str] = {}
    for kind, retryable in runs:
        task = CLOSED if kind == "success" else OPEN
        d = policy.decide(task, history, O(kind, retryable=retryable), config)
        assert d.failures <= max_attempts and d.handoffs <= max_handoffs + 1
        if d.releases:
            assert budgets_by_failures.setdefault(d.failures, d.next_budget) == d.next_budget
        history.append(AttemptRecord(d.attempt, kind, decision=d.action))
        if d.action in ("done", "escalate"):
            break
    failures = policy.count_failures(history)
    handoffs = policy.count_handoffs(history)
    assert failures <= max_attempts and handoffs <= max_handoffs + 1
    if failures == max_attempts or handoffs > max_handoffs:
        assert history[-1].decision == "escalate"
