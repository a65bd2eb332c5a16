"""The failure policy as pure functions: what happens to a task after an agent run, and
when the loop stops.

Seed, "Failure Handling" and "Failure Scenarios":
- success (task closed, clean exit, no critical errors) -> done;
- context exhausted -> a fresh agent continues from the handoff notes; counted apart from
  failures and capped by `dispatch.max_handoffs`;
- error, timeout, max turns, no progress -> retry with the next thinking budget, up to
  `dispatch.max_attempts` failed tries in all;
- a non-retryable failure (auth, tamper) or the last failed try -> escalate to a human;
- a discovered blocker (the agent made the task wait on a new open task) -> wait, not a failure;
- an interrupted run (Ctrl-C, a stale claim whose run is gone) -> release the task; recorded as
  an attempt, not counted as a failure (the agent did not fail, the coordinator went away).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.config import Config
from orchestrator.tasks.history import AttemptRecord
from orchestrator.tasks.model import Status, Task

# Decision actions, and what each does to the task in the store.
DONE = "done"            # the agent closed it: nothing to change
RETRY = "retry"          # status open, claim released; next try gets the next budget
HANDOFF = "handoff"      # status open, claim released; next try reads the handoff notes
WAIT = "wait"            # status open, claim released; it waits on the blocker the agent made
RELEASE = "release"      # status open, claim released (interrupted run)
ESCALATE = "escalate"    # status blocked + escalation label + comment; a human resumes it
ACTIONS = (DONE, RETRY, HANDOFF, WAIT, RELEASE, ESCALATE)
# Not a policy decision but recorded like one: the agent closed the task (DONE) but its commits
# did not land on the current tip, so the task is reopened to redo them there.
REQUEUE = "requeue"
# the order a summary counts recorded decisions in
RECORDED = (DONE, RETRY, HANDOFF, WAIT, REQUEUE, RELEASE, ESCALATE)

NOT_FAILURES = frozenset({"success", "context_exhausted", "blocked_by_new_task", "interrupted"})


@dataclass(frozen=True)
class Decision:
    task_id: str
    action: str               # one of ACTIONS
    attempt: int              # the try that just ended (1-based, handoffs included)
    kind: str                 # the outcome kind it judged
    reason: str               # one line for humans
    next_budget: str = ""     # budget of the next try (retry/handoff/wait/release)
    failures: int = 0         # failed tries so far, this one included
    handoffs: int = 0         # handoffs so far, this one included

    @property
    def releases(self) -> bool:
        """The task goes back to `open` for a later try."""
        return self.action in (RETRY, HANDOFF, WAIT, RELEASE)


def since_last_reset(history: Sequence[AttemptRecord]) -> list[AttemptRecord]:
    """A human resuming an escalated task starts a fresh count: attempts after the last
    record whose decision was ESCALATE (the task was reopened since)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i].decision == ESCALATE:
            return list(history[i + 1:])
    return list(history)


def count_failures(history: Sequence[AttemptRecord]) -> int:
    return sum(1 for r in history if r.kind not in NOT_FAILURES)


def count_handoffs(history: Sequence[AttemptRecord]) -> int:
    return sum(1 for r in history if r.kind == "context_exhausted")


def budget_for(config: Config, failures: int) -> str:
    """The thinking budget after `failures` failed tries: the ladder `agent.budgets`, one step
    per failure, staying on the last step (handoffs and interruptions keep the budget)."""
    ladder = config.agent.budgets
    if not ladder:
        return ""
    return ladder[min(failures, len(ladder) - 1)]


def next_attempt(history: Sequence[AttemptRecord]) -> tuple[int, int]:
    """(attempt number, failures so far) for the next try, from the history since the last
    reset (`since_last_reset`)."""
    return len(history) + 1, count_failures(history)


class OutcomeLike(Protocol):
    """The fields of `orchestrator.agents.outcome.Outcome` the policy reads."""

    @property
    def kind(self) -> str: ...
    @property
    def subclass(self) -> str: ...
    @property
    def retryable(self) -> bool: ...


def decide(task: Task, history: Sequence[AttemptRecord], outcome: OutcomeLike,
           config: Config) -> Decision:
    """What to do after one run. `task` is the task as the run left it, `history` the earlier
    tries since the last reset (not this one). A success on a task that is not closed is judged
    as no progress (success means the task's status changed)."""
    task_id, outcome_kind = task.id, outcome.kind
    retryable, subclass = outcome.retryable, outcome.subclass
    attempt = len(history) + 1
    failures = count_failures(history)
    handoffs = count_handoffs(history)
    d = config.dispatch
    kind = outcome_kind
    if kind == "success" and task.status != Status.CLOSED:
        kind = "no_progress"

    def make(action: str, reason: str, *, f: int = failures, h: int = handoffs) -> Decision:
        budget = "" if action in (DONE, ESCALATE) else budget_for(config, f)
        return Decision(task_id, action, attempt, outcome_kind, reason, budget, f, h)

    if kind == "success":
        return make(DONE, "the agent closed the task")
    if kind == "blocked_by_new_task":
        return make(WAIT, "the agent made the task wait on a new blocker; the blocker goes first")
    if kind == "interrupted":
        return make(RELEASE, "the run was interrupted; the task is released for a later try")
    if kind == "context_exhausted":
        h = handoffs + 1
        if h > d.max_handoffs:
            return make(ESCALATE, f"ran out of context {h} times (dispatch.max_handoffs is "
                        f"{d.max_handoffs})", h=h)
        return make(HANDOFF, f"ran out of context; a fresh agent continues from the handoff "
                    f"notes (handoff {h} of {d.max_handoffs})", h=h)
    what = kind + (f" ({subclass})" if subclass else "")
    f = failures + 1
    if not retryable:
        return make(ESCALATE, f"{what} is not retryable", f=f)
    if f >= d.max_attempts:
        return make(ESCALATE, f"{what} on failed try {f} of {d.max_attempts}", f=f)
    return make(RETRY, f"{what}; retry {f + 1} of {d.max_attempts} with a larger budget", f=f)


@dataclass(frozen=True)
class LoopState:
    """What the loop guards look at, kept by the loop between cycles."""

    cycles: int = 0                 # cycles run so far
    idle_cycles: int = 0            # consecutive cycles with no task closed and no task created
    cycles_since_close: int = 0     # cycles since a task last closed (dispatch.max_cycles)
    cost_usd: float = 0.0           # agent cost reported so far
    stop_file: bool = False         # the kill switch (.beads/STOP) exists
    escalated: tuple[str, ...] = () # tasks escalated in this run


def guard(state: LoopState, config: Config) -> str:
    """Why the loop must stop launching agents now, or '' to go on."""
    d = config.dispatch
    if state.stop_file:
        return "kill switch: .beads/STOP exists (remove it to resume)"
    if state.escalated and d.on_escalation == "stop":
        return f"escalated to a human: {', '.join(state.escalated)} (dispatch.on_escalation: stop)"
    if state.cycles_since_close >= d.max_cycles:
        # counted from the last task closed: a healthy queue of any size drains (tasks keep
        # closing), while a loop that keeps retrying, handing off or creating tasks without
        # finishing any stops
        return (f"{state.cycles_since_close} cycles in a row closed no task "
                "(dispatch.max_cycles); run again to continue")
    if state.idle_cycles >= d.stall_cycles:
        return f"no progress in {state.idle_cycles} cycles (dispatch.stall_cycles)"
    if d.max_cost_usd is not None and state.cost_usd >= d.max_cost_usd:
        return f"agent cost ${state.cost_usd:.2f} reached dispatch.max_cost_usd (${d.max_cost_usd:.2f})"
    return ""


def after_cycle(state: LoopState, *, progressed: bool, closed: bool = False,
                cost_usd: float = 0.0, escalated: Sequence[str] = ()) -> LoopState:
    """`closed`: the cycle closed a task; `progressed`: it closed or created one, or handed
    one off."""
    return LoopState(
        cycles=state.cycles + 1,
        idle_cycles=0 if progressed or closed else state.idle_cycles + 1,
        cycles_since_close=0 if closed else state.cycles_since_close + 1,
        cost_usd=state.cost_usd + cost_usd,
        stop_file=state.stop_file,
        escalated=(*state.escalated, *escalated),
    )
