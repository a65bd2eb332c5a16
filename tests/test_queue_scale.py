"""A loose guard on the read commands' cost relative to parsing the file: each command, on each
queue shape of bench/shapes.py, stays within an order of magnitude of bare `json.loads`.

No absolute time is asserted: both sides are CPU time in this process, measured side by side
(best of three), and the bound (30x, where the bench measures 1-3x at 10k-100k tasks, see
docs/performance.md) fails only on a regression such as a quadratic step or a parse per task.
The precise figures are the bench's (bench/bench_queue.py)."""
from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.dispatch.queue_facts import QueueFacts
from orchestrator.forge import status
from orchestrator.tasks import graph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import shapes  # noqa: E402

TASKS = 2000
BOUND = 30
COMMANDS = {"ready --json": ["ready", "--json"], "ready": ["ready"],
            "status --json": ["status", "--json"], "plan --json": ["plan", "--json"]}


def _cpu(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


@pytest.mark.parametrize("shape", sorted(shapes.SHAPES))
def test_every_read_command_stays_within_an_order_of_magnitude_of_parsing(
        tmp_path: Path, shape: str) -> None:
    path = shapes.write(shape, TASKS, tmp_path)
    lines = path.read_bytes().splitlines()
    middle = json.loads(lines[len(lines) // 2])["id"]

    def bare() -> None:
        [json.loads(x) for x in lines]

    def command(argv: list[str]) -> Callable[[], None]:
        def run() -> None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert main(["--repo", str(tmp_path), "--store", "jsonl", *argv]) == 0
        return run

    base = _cpu(bare)
    ratios = {name: _cpu(command(argv)) / base
              for name, argv in {**COMMANDS, "show": ["show", middle]}.items()}
    assert all(r < BOUND for r in ratios.values()), ratios


def test_a_coordinator_cycle_parses_once_and_stays_within_an_order_of_magnitude_of_it() -> None:
    """One cycle of the real coordinator (bench/bench_cycle.py: plan, claim, a no-op agent that
    closes its task through its own store, the attempt comment, the status report) parses the
    queue once, runs the full graph work at most once (the run's first plan; then the kept
    state is updated), and costs, beyond those parses, within an order of magnitude of one
    parse (the bench measures under half a parse's worth at 10,000 tasks). It fails on a
    second parse or graph pass per step, or a step that grows faster than the queue, not on a
    timing."""
    import bench_cycle

    m = bench_cycle.measure(TASKS)
    assert m["parses_per_cycle"] < 1.2 and m["agent_parses_per_cycle"] == 1.0, m
    assert m["graph_per_cycle"] < 1.2, m
    assert m["beyond_parses_ms"] < BOUND * m["parse_ms"], m


# Each of these passes over every task (or edge): none may run in a cycle once the coordinator
# holds its state (the run's first plan builds it), whatever the queue's size.
FULL_PASSES = {
    graph: ("children_of", "blocked_by", "critical_path", "dependency_counts"),
    status: ("phase_progress", "feature_progress", "recent_attempts"),
    QueueFacts: ("_progress",),
}


def _steady_counts(n: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """bench_cycle's run at n tasks, counting per cycle of the steady state (from the second
    plan on, as the bench measures) the full passes, the tasks the graph updates looked at and
    the lines the writes serialised."""
    import bench_cycle

    from orchestrator.coordinator.local import Coordinator
    from orchestrator.dispatch import graph_state
    from orchestrator.tasks import jsonl

    counts: dict[str, int] = {"full passes": 0, "lines serialised": 0, "map comparisons": 0}
    steady = [False]

    def counting(fn: Callable[..., object], key: str) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            if steady[0]:
                counts[key] += 1
            return fn(*args, **kwargs)
        return wrapper

    for owner, names in FULL_PASSES.items():
        for name in names:
            monkeypatch.setattr(owner, name, counting(getattr(owner, name), "full passes"))
    monkeypatch.setattr(jsonl, "to_record", counting(jsonl.to_record, "lines serialised"))
    # two versions' task maps compared task by task (the store's snapshots say what changed)
    monkeypatch.setattr(graph_state, "_by_identity",
                        counting(graph_state._by_identity, "map comparisons"))
    plans = [0]
    real_plan_cycle = Coordinator.plan_cycle

    def plan_cycle(self: Coordinator, *args: object, **kwargs: object) -> object:
        plans[0] += 1
        steady[0] = plans[0] >= 2
        return real_plan_cycle(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Coordinator, "plan_cycle", plan_cycle)
    m = bench_cycle.measure(n)
    cycles = plans[0] - 1  # the steady state's, the last plan's included
    return {"full passes": counts["full passes"] / cycles,
            "lines serialised": counts["lines serialised"] / cycles,
            "map comparisons": counts["map comparisons"] / cycles,
            "tasks visited": m["visited_per_cycle"], "graph rebuilds": m["graph_per_cycle"]}


def test_a_cycle_beyond_the_parse_does_the_same_work_at_any_queue_size(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Flat, counted in operations rather than time: at 300 and at 3,000 tasks a cycle of the
    steady state makes no pass over every task (graph work, counts, the report's tables, a
    comparison of two versions' task maps), its
    graph updates look at the same few tasks, and its writes serialise the same few lines
    (the other lines are written back as read). The one parse per version, and the write of
    the whole file, remain: docs/performance.md."""
    small = _steady_counts(300, monkeypatch)
    large = _steady_counts(3000, monkeypatch)
    assert small["full passes"] == large["full passes"] == 0, (small, large)
    assert small["graph rebuilds"] == large["graph rebuilds"] == 0, (small, large)
    assert small["map comparisons"] == large["map comparisons"] == 0, (small, large)
    assert large["tasks visited"] <= small["tasks visited"] + 1 < 5, (small, large)
    assert large["lines serialised"] <= small["lines serialised"] + 1 < 8, (small, large)
