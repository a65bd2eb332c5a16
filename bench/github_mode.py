"""The GitHub mode of the dispatch simulation (issue 15): the same DAGs, run times, failure
draws, scheduler and policy as the local coordinator (`simulation.py`), drained by workflow
runs, each run one dispatch cycle. Pure, with a simulated clock in minutes.

Designs, all costed by the same `Costs` (a job's start-up, the plan and report jobs' own work):

- `barrier`: issue 10's first workflow. A run plans and claims up to max_parallel, a matrix of
  agent jobs runs, one report job `needs:` the whole matrix, applies every result and
  dispatches the next run. Nothing starts until the slowest agent of the run has ended.
- `refill`: the chosen design (docs/github.md, "Concurrency: no cycle barrier"). Each matrix
  leg is a reusable workflow with its own agent job and report job; a leg's report lands its
  one result and, while any task is ready, dispatches a new run, whose plan job claims the
  free slots. A freed slot is refilled only after the report job starts, lands the result,
  dispatches, the new run's plan job starts, plans and pushes its claims, and the new agent
  job starts. Modelled as built:
  * a task holds its slot from its claim's push to its result's push (the in-flight count is
    the tasks `in_progress` on the branch, whoever claimed them), so max_parallel holds
    across overlapping runs;
  * every write is a compare-and-swap on the branch: a job reads the tip, works, pushes; if
    anything was pushed in between, the push is rejected and redone from the new tip after
    `Costs.retry` (a plan re-plans then, and sees the results that landed meanwhile);
  * plan jobs share one concurrency group (one at a time, held from the job's release through
    its runner start-up and work, as GitHub counts a queued job in its group); GitHub keeps
    one pending job per group and cancels the older pending one, whose run then ends;
  * the report reads "anything ready?" from the branch as its push left it, and dispatches
    only then; after the dispatch it pushes the status comment's cache (one more push that
    can reject another job's compare-and-swap).
- `report-claims`: a design change measured against `refill` (see docs/performance.md). The
  report plans and claims the free slots in the same compare-and-swap that lands its result,
  and dispatches a run whose matrix is those claims (a `matrix` input): no plan job, and no
  plan concurrency group, on the refill path. Only the chain's first run has a plan job.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulation import Drain

DESIGNS = ("barrier", "refill", "report-claims")
PUSH_TRIES = 8  # coordinator/jobs.py: a job gives up after this many rejected pushes


@dataclass(frozen=True)
class Costs:
    """What a workflow run costs besides its agents, in minutes."""

    startup: float       # one job, runnable to its first own step: runner, checkout, install
    plan: float          # the plan job's work: sync to the tip, plan, commit the claims, push
    report: float        # the report job's work: half to land the result (sync, apply, push),
    #                      half after it (status comment, dispatch, the comment cache's push)
    retry: float = 0.1   # a rejected push redone from the new tip (fetch, redo, push)

    @classmethod
    def per_run(cls, minutes: float, *, startup_share: float = 0.75) -> Costs:
        """`minutes` per run, `startup_share` of it the three jobs' start-ups and the rest
        the plan and report jobs' work, half each. The default, a quarter of the run per
        start-up, follows the act measurements (docs/performance.md): at 2 minutes a job
        waits ~30 s for a runner, its checkout, setup-python and the cached install, and plan
        and report work ~15 s each."""
        return cls(startup=minutes * startup_share / 3, plan=minutes * (1 - startup_share) / 2,
                   report=minutes * (1 - startup_share) / 2)

    @property
    def total(self) -> float:
        """A run's cost: plan job, agent job start-up, report job. With nothing in the way,
        the gap between a task's end and the next agent's start in the refill design."""
        return 3 * self.startup + self.plan + self.report


@dataclass(frozen=True)
class Drained:
    makespan: float      # minutes from the first dispatch to the last result on the branch
    attempts: int        # agent runs
    runs: int            # workflow runs dispatched (the first included)
    max_in_flight: int   # most tasks claimed at once (claim pushed, result not yet)
    max_agents: int      # most agent jobs running at once
    rejected: int = 0    # pushes rejected because another job pushed first, then redone
    cancelled: int = 0   # runs whose pending plan job a newer one replaced
    most_tries: int = 1  # the most tries one compare-and-swap took
    gave_up: int = 0     # compare-and-swaps that took more than PUSH_TRIES (the job would fail;
    #                      simulated as if the try after landed)


def drain(design: str, q: Drain, costs: Costs, *, plan_group: bool = True) -> Drained:
    """Drain `q` (a fresh `Drain`: its history is the record of what ran) with `design`.
    `plan_group=False` drops the plan jobs' concurrency group, as act does: overlapping plans
    then race, and only the compare-and-swap keeps their claims apart."""
    if design == "barrier":
        return barrier(q, costs)
    if design in ("refill", "report-claims"):
        return _Refill(q, costs, report_claims=design == "report-claims",
                       plan_group=plan_group).run()
    raise ValueError(f"unknown design {design!r}; one of {', '.join(DESIGNS)}")


def barrier(q: Drain, costs: Costs) -> Drained:
    """One run at a time: plan, the matrix, one report after the whole matrix, dispatch."""
    now = landed = 0.0
    n_runs = widest = 0
    while not q.drained:
        n_runs += 1
        now += costs.startup + costs.plan                     # the claims are pushed
        chosen = q.choose(())
        assert chosen, "stranded: nothing ready and nothing in flight"
        widest = max(widest, len(chosen))
        slowest = max(q.claim(t) for t in chosen)
        landed = now + costs.startup + slowest + costs.startup + costs.report / 2
        for t in chosen:
            q.finish(t)
        now = landed + costs.report / 2                       # status comment, dispatch
    return Drained(landed, q.attempts, n_runs, widest, widest)


class _Refill:
    """The barrier-free designs as a discrete-event simulation (see the module docstring)."""

    def __init__(self, q: Drain, costs: Costs, *, report_claims: bool, plan_group: bool) -> None:
        self.q, self.costs = q, costs
        self.report_claims, self.plan_group = report_claims, plan_group
        self.events: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self.now = 0.0
        self.seq = 0
        self.version = 0                 # pushes to the branch so far: the compare-and-swap
        self.plan_running = self.plan_pending = False
        self.agents = 0
        self.runs = self.rejected = self.cancelled = 0
        self.max_in_flight = self.max_agents = self.most_tries = self.gave_up = 0
        self.landed = 0.0

    def at(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.seq += 1  # equal times keep the order they were scheduled in
        heapq.heappush(self.events, (self.now + delay, self.seq, fn, args))

    def run(self) -> Drained:
        self.dispatch()                                    # a human starts the chain
        while not self.q.drained:
            assert self.events, "stranded: nothing ready, nothing in flight, nothing dispatched"
            self.now, _, fn, args = heapq.heappop(self.events)
            fn(*args)
        return Drained(self.landed, self.q.attempts, self.runs, self.max_in_flight,
                       self.max_agents, self.rejected, self.cancelled, self.most_tries,
                       self.gave_up)

    def push(self, read: int, tries: int, redo: Callable[[int], None]) -> bool:
        """A compare-and-swap: True when nothing was pushed since `read`; otherwise the job
        fetches the new tip and redoes its change (`redo(tries + 1)`)."""
        self.most_tries = max(self.most_tries, tries)
        self.gave_up += tries == PUSH_TRIES + 1
        if self.version != read:
            self.rejected += 1
            redo(tries + 1)
            return False
        self.version += 1
        return True

    def claim(self, chosen: list[str]) -> list[tuple[str, float]]:
        """Claim `chosen` (a plan made at the tip this push replaces): the matrix, (task,
        minutes of its run) per leg."""
        legs = [(t, self.q.claim(t)) for t in chosen]
        self.max_in_flight = max(self.max_in_flight, len(self.q.claimed))
        assert len(self.q.claimed) <= self.q.config.dispatch.max_parallel, "max_parallel broken"
        return legs

    # -- the run: its plan job (refill), or the claims a report made (report-claims) ---------

    def dispatch(self, legs: list[tuple[str, float]] | None = None) -> None:
        self.runs += 1
        if legs is not None:
            self.start_legs(legs)
        elif not self.plan_running or not self.plan_group:
            self.start_plan()
        else:
            if self.plan_pending:
                self.cancelled += 1                       # the older pending plan's run ends
            self.plan_pending = True

    def start_plan(self) -> None:
        self.plan_running = True
        self.at(self.costs.startup, self.plan_sync, 1)

    def plan_sync(self, tries: int) -> None:
        """The plan job reads the tip and plans on it: the free slots are max_parallel minus
        the tasks in flight there, whoever claimed them."""
        work = self.costs.plan if tries == 1 else self.costs.retry
        self.at(work, self.plan_push, self.version, tries, self.q.choose(self.q.claimed))

    def plan_push(self, read: int, tries: int, chosen: list[str]) -> None:
        if chosen:  # a plan that claims nothing commits nothing and pushes nothing
            if not self.push(read, tries, self.plan_sync):
                return
            self.start_legs(self.claim(chosen))
        self.plan_running = False
        if self.plan_pending:
            self.plan_pending = False
            self.start_plan()

    # -- a leg: agent job, then its own report job -----------------------------------------

    def start_legs(self, legs: list[tuple[str, float]]) -> None:
        for task, minutes in legs:
            self.at(self.costs.startup, self.agent_start, task, minutes)

    def agent_start(self, task: str, minutes: float) -> None:
        self.agents += 1
        self.max_agents = max(self.max_agents, self.agents)
        self.at(minutes, self.agent_end, task)

    def agent_end(self, task: str) -> None:
        self.agents -= 1
        self.at(self.costs.startup, self.report_sync, task, 1)

    def report_sync(self, task: str, tries: int) -> None:
        work = self.costs.report / 2 if tries == 1 else self.costs.retry
        if self.report_claims:
            work += self.costs.retry  # it also plans and claims inside the same change
        self.at(work, self.report_push, task, self.version, tries)

    def report_push(self, task: str, read: int, tries: int) -> None:
        if not self.push(read, tries, lambda n: self.report_sync(task, n)):
            return
        self.q.finish(task)
        self.landed = self.now
        if self.report_claims:  # planned on the tip it read, as this push left it
            legs = self.claim(self.q.choose(self.q.claimed))
            self.at(self.costs.report / 2, self.report_end, bool(legs), legs)
        else:
            # next_step: dispatch while any task is ready, on the branch as this push left it
            self.at(self.costs.report / 2, self.report_end, bool(self.q.ready), None)

    def report_end(self, dispatch: bool, legs: list[tuple[str, float]] | None) -> None:
        if dispatch:
            self.dispatch(legs)
        self.version += 1  # the status comment's cache, pushed after the dispatch
