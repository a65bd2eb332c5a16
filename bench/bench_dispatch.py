"""Dispatch benchmark: simulated drains of random task DAGs through the real scheduler and
failure policy, and the coordinator's own overhead per task with a no-op agent.

    python bench/bench_dispatch.py            # all figures (a few minutes)
    python bench/bench_dispatch.py --quick    # smaller, for a smoke run

Simulation: a phase is a bootstrap task, features (epics) each with a planning task, a chain
of implementation tasks with some fan-out/fan-in and cross-feature edges, and an E2E task; a
regression task waits on every E2E task; later phases wait on the previous regression task.
Durations are heavy-tailed (log-normal, median 10 min, a few runs over an hour). Each run fails
with probability 6% (error, retried with the next budget) or runs out of context with
probability 4% (handed off); the outcomes are drawn up front, so every strategy does the same
work. The clock is simulated: a run takes its drawn duration, the coordinator's own time is
left out (measured separately below).

Lower bound per setting: max(longest chain of realised task work, total work / max_parallel).
Baseline: the seed's loop (`task = ready_tasks[0]`, one agent at a time), and the same
first-ready rule with max_parallel slots (bd order, no critical-path priority).
"""
from __future__ import annotations

import argparse
import dataclasses
import heapq
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.config import Config, DispatchConfig  # noqa: E402
from orchestrator.dispatch import policy, scheduler  # noqa: E402
from orchestrator.tasks.history import AttemptRecord  # noqa: E402
from orchestrator.tasks import graph  # noqa: E402
from orchestrator.tasks.model import Dependency, Task  # noqa: E402


@dataclass(frozen=True)
class Outcome:
    kind: str
    subclass: str = ""
    retryable: bool = True


def make_dag(n: int, rng: random.Random, *, priorities: bool = True) -> dict[str, Task]:
    """About n dispatchable tasks in phases of features (see the module docstring). With
    priorities, implementation tasks get a random P1-P3 (mostly P2); without, all are P2."""
    tasks: dict[str, Task] = {}
    created = 0

    def add(tid: str, title: str, *, itype: str = "task", parent: str | None = None,
            blocks_on: list[str] = (), priority: int = 2) -> str:
        nonlocal created
        deps = [Dependency(tid, parent, "parent-child")] if parent else []
        deps += [Dependency(tid, b, "blocks") for b in dict.fromkeys(blocks_on)]
        created += 1
        stamp = f"2026-01-01T{created // 3600 % 24:02d}:{created // 60 % 60:02d}:{created % 60:02d}Z"
        tasks[tid] = Task(tid, title, issue_type=itype, priority=priority, created_at=stamp,
                          dependencies=tuple(deps))
        return tid

    phase, prev_regression, count = 0, None, 0
    while count < n:
        phase += 1
        boot = add(f"p{phase}", f"Plan features for phase {phase}", priority=1,
                   blocks_on=[prev_regression] if prev_regression else [])
        count += 1
        e2es = []
        for f in range(rng.randint(4, 7)):
            epic = add(f"p{phase}-f{f}", f"Feature {f}", itype="epic")
            plan = add(f"p{phase}-f{f}-plan", f"Plan tasks for feature {f}", parent=epic,
                       blocks_on=[boot])
            chain = [plan]
            for i in range(rng.randint(4, 12)):
                blockers = [chain[-1]]
                if len(chain) > 2 and rng.random() < 0.3:      # fan-in
                    blockers.append(rng.choice(chain[:-1]))
                if rng.random() < 0.25 and len(chain) > 1:     # fan-out: parallel to the last
                    blockers = [chain[-2]]
                if e2es and rng.random() < 0.1:                # a cross-feature edge
                    blockers.append(rng.choice(e2es))
                chain.append(add(f"p{phase}-f{f}-t{i}", f"Task {i}", parent=epic,
                                 blocks_on=blockers,
                                 priority=rng.choice((1, 2, 2, 2, 3)) if priorities else 2))
            leaves = chain[-3:]
            e2es.append(add(f"p{phase}-f{f}-e2e", "E2E verification", parent=epic,
                            blocks_on=leaves))
            count += len(chain) + 1
        prev_regression = add(f"p{phase}-reg", "Run full regression pack", blocks_on=e2es)
        count += 1
    return tasks


def draw_runs(tasks: dict[str, Task], rng: random.Random) -> dict[str, list[tuple[float, str]]]:
    """Per dispatchable task: the (minutes, outcome kind) of each run until success."""
    info = scheduler.GraphInfo.of(tasks)
    out = {}
    for tid, t in tasks.items():
        if not scheduler.dispatchable(t, info, Config()):
            continue
        runs = []
        while True:
            minutes = min(rng.lognormvariate(2.3, 0.9), 240.0)
            r = rng.random()
            kind = "error" if r < 0.06 else "context_exhausted" if r < 0.10 else "success"
            if len(runs) >= 4:
                kind = "success"  # keep every task finishable within the policy's caps
            runs.append((minutes, kind))
            if kind == "success":
                break
        out[tid] = runs
    return out


def lower_bound(tasks: dict[str, Task], runs: dict[str, list[tuple[float, str]]],
                parallel: int) -> float:
    work = {tid: sum(m for m, _ in rs) for tid, rs in runs.items()}
    finish: dict[str, float] = {}
    order = _topo(tasks)
    for tid in order:
        start = max((finish.get(d.depends_on_id, 0.0) for d in tasks[tid].dependencies
                     if d.type == "blocks"), default=0.0)
        finish[tid] = start + work.get(tid, 0.0)
    return max(max(finish.values()), sum(work.values()) / parallel)


def _topo(tasks: dict[str, Task]) -> list[str]:
    indeg = {tid: 0 for tid in tasks}
    waiters = defaultdict(list)
    for t in tasks.values():
        for d in t.dependencies:
            if d.type == "blocks":
                indeg[t.id] += 1
                waiters[d.depends_on_id].append(t.id)
    queue = [tid for tid, k in indeg.items() if k == 0]
    out = []
    while queue:
        tid = queue.pop()
        out.append(tid)
        for w in waiters[tid]:
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    return out


def simulate(tasks: dict[str, Task], runs: dict[str, list[tuple[float, str]]], parallel: int,
             *, strategy: str) -> tuple[float, int]:
    """Makespan (minutes) and attempts. strategy: `scheduler` (the real one) or `first` (the
    seed's ready_tasks[0], in bd order, with the same number of slots)."""
    config = dataclasses.replace(Config(), dispatch=dataclasses.replace(
        DispatchConfig(), max_parallel=parallel, max_attempts=5, max_handoffs=5))
    info = scheduler.GraphInfo.of(tasks)  # critical lengths of open tasks do not change as
    # upstream tasks close (their chains are all still open), so once is enough here
    blockers = {tid: {d.depends_on_id for d in t.dependencies if d.type == "blocks"}
                for tid, t in tasks.items()}
    waiters = defaultdict(list)
    for tid, bs in blockers.items():
        for b in bs:
            waiters[b].append(tid)
    order = {t.id: i for i, t in enumerate(graph.sort_tasks(tasks.values()))}
    done: set[str] = {tid for tid in tasks if tid not in runs}  # containers need no run
    # containers: close when children close; they block nothing here (blocks only on tasks)
    ready = {tid for tid in runs if not (blockers[tid] - done)}
    history: dict[str, list[AttemptRecord]] = defaultdict(list)
    running: dict[str, float] = {}
    events: list[tuple[float, str]] = []
    now = 0.0
    attempts = 0
    while ready or running:
        candidates = sorted((tasks[t] for t in ready), key=lambda t: order[t.id])
        if strategy == "scheduler":
            chosen = scheduler.schedule(candidates, running, info, config)
        else:
            chosen = candidates[:max(0, parallel - len(running))]
        for t in chosen:
            ready.discard(t.id)
            n = len(history[t.id])
            minutes, _ = runs[t.id][n]
            running[t.id] = now + minutes
            heapq.heappush(events, (now + minutes, t.id))
        now, tid = heapq.heappop(events)
        del running[tid]
        attempts += 1
        n = len(history[tid])
        kind = runs[tid][n][1]
        task = tasks[tid].evolve(status="closed" if kind == "success" else "in_progress")
        d = policy.decide(task, history[tid], Outcome(kind), config)
        history[tid].append(AttemptRecord(n + 1, kind, decision=d.action))
        if d.action == policy.DONE:
            done.add(tid)
            for w in waiters[tid]:
                if w in runs and not (blockers[w] - done) and w not in running:
                    ready.add(w)
        elif d.releases:
            ready.add(tid)
        else:
            raise AssertionError(f"{tid}: escalated in the benchmark ({d.reason})")
    return now, attempts


def overhead(n: int) -> dict[str, float]:
    """The real Coordinator over a JSONL store of n independent tasks with an in-process
    no-op agent (it closes the task and returns success): wall time per task."""
    from orchestrator import runlog
    from orchestrator.agents.outcome import Outcome
    from orchestrator.agents.session import AgentRun
    from orchestrator.coordinator.local import Coordinator
    from orchestrator.coordinator.loop import run_loop
    from orchestrator.forge.local import LocalForge
    from orchestrator.tasks.jsonl import JsonlStore
    from orchestrator.tasks.model import dumps, to_record

    agent_s = [0.0]

    def noop(*, repo: Path, store: Any, task_id: str, attempt: int, budget: str,
             **_: Any) -> AgentRun:
        t = time.perf_counter()
        log_dir = runlog.new_log_dir(runlog.runs_root(repo), task_id)  # as the session does
        store.close([task_id], reason="no-op", actor="agent")  # what any agent must do
        agent_s[0] += time.perf_counter() - t
        return AgentRun(task_id, attempt, "noop", budget, log_dir, "", 0.0, Outcome("success"))

    with tempfile.TemporaryDirectory() as d:
        repo = Path(d)
        path = repo / ".beads" / "issues.jsonl"
        path.parent.mkdir()
        path.write_text("".join(dumps(to_record(Task(f"b-{i}", f"Task {i}",
                                                     created_at="2026-01-01T00:00:00Z",
                                                     updated_at="2026-01-01T00:00:00Z"))) + "\n"
                                for i in range(n)))
        config = dataclasses.replace(Config(), store="jsonl", agent=dataclasses.replace(
            Config().agent, profile="command", command=[sys.executable]))
        coord = Coordinator(repo=repo, store=JsonlStore(path), config=config,
                            forge=LocalForge(None, echo=lambda line: None), actor="orchestrator",
                            launcher=noop)
        t0 = time.perf_counter()
        summary = run_loop(coord)
        elapsed = time.perf_counter() - t0
        assert summary.exit_code == 0 and summary.remaining == 0, summary
    return {"tasks": n, "seconds": elapsed, "ms_per_task": 1000 * elapsed / n,
            "coordinator_ms_per_task": 1000 * (elapsed - agent_s[0]) / n}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    sizes = (200,) if args.quick else (200, 2000)
    seeds = 2 if args.quick else args.seeds
    print("| tasks | priorities | max_parallel | makespan / lower bound (mean, worst) | "
          "first-ready / lower bound (mean) | speed-up over the seed's sequential loop (mean) "
          "| sim s |")
    print("|---|---|---|---|---|---|---|")
    for n, parallel, prio in [(n, p, pr) for n in sizes for pr in (False, True)
                              for p in (1, 4, 16)]:
        if True:
            ratios, firsts, speedups = [], [], []
            t0 = time.perf_counter()
            for seed in range(seeds):
                rng = random.Random(seed)
                tasks = make_dag(n, rng, priorities=prio)
                runs = draw_runs(tasks, rng)
                lb = lower_bound(tasks, runs, parallel)
                ours, _ = simulate(tasks, runs, parallel, strategy="scheduler")
                first, _ = simulate(tasks, runs, parallel, strategy="first")
                seq, _ = simulate(tasks, runs, 1, strategy="first")
                ratios.append(ours / lb)
                firsts.append(first / lb)
                speedups.append(seq / ours)
            sim = (time.perf_counter() - t0) / seeds
            real_n = len(runs)
            print(f"| {real_n} | {'random P1-P3' if prio else 'all P2'} | {parallel} | {statistics.mean(ratios):.3f}, {max(ratios):.3f} | "
                  f"{statistics.mean(firsts):.3f} | {statistics.mean(speedups):.2f}x | {sim:.1f} |",
                  flush=True)
    for n in ((200,) if args.quick else (200, 1000)):
        o = overhead(n)
        print(f"\nno-op agent, {o['tasks']} tasks, JSONL store, max_parallel 1: "
              f"{o['ms_per_task']:.1f} ms per task in all ({o['seconds']:.1f} s), of which the "
              f"coordinator {o['coordinator_ms_per_task']:.1f} ms (the rest is the agent's own "
              "`task close`)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
