"""The dispatch simulation's GitHub mode keeps the invariants the workflow promises, at a small
size: never more than max_parallel tasks in flight across overlapping runs, every task's drawn
runs each run once and the task closed once, no drain faster than the lower bound. Nothing here
is timed (simulated minutes only); the figures are in docs/performance.md."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import github_mode  # noqa: E402
from github_mode import Costs  # noqa: E402
from simulation import Drain, Runs, Task, draw_runs, lower_bound, make_dag, simulate  # noqa: E402


def dag(seed: int, n: int = 40) -> tuple[dict[str, Task], Runs]:
    rng = random.Random(seed)
    tasks = make_dag(n, rng, priorities=seed % 2 == 1)
    return tasks, draw_runs(tasks, rng)


def assert_each_task_closed_once(q: Drain, runs: Runs) -> None:
    assert q.drained and not q.claimed and not q.ready
    for tid, drawn in runs.items():
        decisions = [r.decision for r in q.history[tid]]
        # every drawn run ran, in order, once; only the last (the success) closed the task
        assert [r.kind for r in q.history[tid]] == [kind for _, kind in drawn], tid
        assert decisions.count("done") == 1 and decisions[-1] == "done", (tid, decisions)
    assert q.attempts == sum(len(drawn) for drawn in runs.values())


@pytest.mark.parametrize("design", github_mode.DESIGNS)
@pytest.mark.parametrize("parallel", [1, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_design_drains_every_task_once_within_max_parallel(design: str, parallel: int,
                                                             seed: int) -> None:
    tasks, runs = dag(seed)
    q = Drain(tasks, runs, parallel)
    out = github_mode.drain(design, q, Costs.per_run(2))
    assert_each_task_closed_once(q, runs)
    assert 1 <= out.max_agents <= out.max_in_flight <= parallel
    assert out.makespan >= lower_bound(tasks, runs, parallel)
    # every run costs at least its plan job, an agent job's start-up and a report job
    local, _ = simulate(tasks, runs, parallel, strategy="scheduler")
    assert out.makespan > local


@pytest.mark.parametrize("plan_group", [True, False])
@pytest.mark.parametrize("design", ["refill", "report-claims"])
def test_overlapping_runs_lose_races_redo_and_never_double_claim(design: str,
                                                                  plan_group: bool) -> None:
    # long plan and report work against short agents: the jobs' windows overlap all the time,
    # so pushes are rejected and redone from the new tip; without the plan jobs' concurrency
    # group (as under act) planners race each other too
    tasks, runs = dag(2, n=80)
    runs = {tid: [(minutes / 10, kind) for minutes, kind in drawn] for tid, drawn in runs.items()}
    q = Drain(tasks, runs, 6)
    out = github_mode.drain(design, q, Costs(startup=0.2, plan=1.0, report=1.0, retry=0.3),
                            plan_group=plan_group)
    assert out.rejected > 0 and out.most_tries > 1
    assert (out.cancelled > 0) == (design == "refill" and plan_group)
    assert_each_task_closed_once(q, runs)
    assert out.max_in_flight <= 6
    assert out.makespan >= lower_bound(tasks, runs, 6)


@pytest.mark.parametrize("design", ["refill", "report-claims"])
def test_at_no_cost_the_barrier_free_designs_are_the_local_coordinator(design: str) -> None:
    # with free jobs a leg's report, the next plan and the next agent follow its end at once:
    # the same launches at the same moments as `orchestrator run`
    for seed in (0, 1, 3):
        tasks, runs = dag(seed)
        local, attempts = simulate(tasks, runs, 4, strategy="scheduler")
        q = Drain(tasks, runs, 4)
        out = github_mode.drain(design, q, Costs(0.0, 0.0, 0.0, retry=0.0))
        assert (out.makespan, out.attempts) == pytest.approx((local, attempts))


def test_the_barrier_waits_for_the_slowest_leg_of_each_run() -> None:
    tasks, runs = dag(0)
    q = Drain(tasks, runs, 4)
    out = github_mode.drain("barrier", q, Costs(0.0, 0.0, 0.0))
    local, _ = simulate(tasks, runs, 4, strategy="scheduler")
    assert out.makespan > local and out.runs > 1


def test_costs_per_run_adds_up() -> None:
    costs = Costs.per_run(2)
    assert costs.total == pytest.approx(2) and costs.startup > costs.plan == costs.report
