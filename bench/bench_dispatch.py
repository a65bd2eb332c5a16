"""Dispatch benchmark: simulated drains of random task DAGs through the real scheduler and
failure policy, locally and on GitHub Actions, and the coordinator's own overhead per task with
a no-op agent.

    python bench/bench_dispatch.py            # all figures (a few minutes)
    python bench/bench_dispatch.py --quick    # smaller, for a smoke run
    python bench/bench_dispatch.py --github --per-run 1,2,3   # only the GitHub mode's table

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

The model is in simulation.py; the GitHub workflow's designs (one report after the whole
matrix, or a report per leg that dispatches the refill) are in github_mode.py, costed by a
job's start-up and the plan and report jobs' work per run.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import github_mode  # noqa: E402
from simulation import Config, Drain, Task, draw_runs, lower_bound, make_dag, simulate  # noqa: E402


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


def github_table(sizes: tuple[int, ...], seeds: int, per_run: tuple[float, ...],
                 startup_share: float) -> None:
    """The GitHub mode's designs next to the local coordinator, all P2 (issue 15)."""
    print("| tasks | max_parallel | per run (start-up x 3 + plan + report) | local `run` | "
          "local + per run on every run | barrier | refill (chosen) | report-claims | refill: "
          f"rejected pushes per task, most tries (gave up after {github_mode.PUSH_TRIES}), "
          "cancelled runs | sim s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    designs = github_mode.DESIGNS
    for n, parallel, minutes in [(n, p, m) for n in sizes for p in (4, 16) for m in per_run]:
        costs = github_mode.Costs.per_run(minutes, startup_share=startup_share)
        local: list[float] = []
        padded: list[float] = []
        ratios: dict[str, list[float]] = {d: [] for d in designs}
        rejected, tries, gave_up, cancelled = [], 0, 0, []
        t0 = time.perf_counter()
        for seed in range(seeds):
            rng = random.Random(seed)
            tasks = make_dag(n, rng, priorities=False)
            runs = draw_runs(tasks, rng)
            lb = lower_bound(tasks, runs, parallel)
            local.append(simulate(tasks, runs, parallel, strategy="scheduler")[0] / lb)
            # the first estimate: no barrier, the run's cost added to every agent run
            slower = {t: [(m + costs.total, k) for m, k in rs] for t, rs in runs.items()}
            padded.append(simulate(tasks, slower, parallel, strategy="scheduler")[0] / lb)
            for d in designs:
                out = github_mode.drain(d, Drain(tasks, runs, parallel), costs)
                ratios[d].append(out.makespan / lb)
                if d == "refill":
                    rejected.append(out.rejected / len(runs))
                    tries = max(tries, out.most_tries)
                    gave_up += out.gave_up
                    cancelled.append(out.cancelled)
        sim = (time.perf_counter() - t0) / seeds

        def cell(xs: list[float]) -> str:
            return f"{statistics.mean(xs):.3f} ({max(xs):.3f})"
        print(f"| {len(runs)} | {parallel} | {minutes:g} min ({costs.startup:.3g} x 3 + "
              f"{costs.plan:.3g} + {costs.report:.3g}) | {cell(local)} | {cell(padded)} | "
              + " | ".join(cell(ratios[d]) for d in designs)
              + f" | {statistics.mean(rejected):.2f}, {tries} ({gave_up}), "
              f"{statistics.mean(cancelled):.1f}"
              f" | {sim:.1f} |", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--github", action="store_true", help="only the GitHub mode's table")
    ap.add_argument("--per-run", default="1,2,3", metavar="MINUTES,...",
                    help="GitHub cost of a run (start-up of its three jobs, plan, report)")
    ap.add_argument("--startup-share", type=float, default=0.75,
                    help="the share of a run's cost that is its three jobs' start-ups")
    args = ap.parse_args()
    sizes = (200,) if args.quick else (200, 2000)
    seeds = 2 if args.quick else args.seeds
    per_run = tuple(float(m) for m in args.per_run.split(","))
    if args.github:
        github_table(sizes, seeds, per_run, args.startup_share)
        return 0
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
    print()
    github_table(sizes, seeds, per_run, args.startup_share)
    for n in ((200,) if args.quick else (200, 1000)):
        o = overhead(n)
        print(f"\nno-op agent, {o['tasks']} tasks, JSONL store, max_parallel 1: "
              f"{o['ms_per_task']:.1f} ms per task in all ({o['seconds']:.1f} s), of which the "
              f"coordinator {o['coordinator_ms_per_task']:.1f} ms (the rest is the agent's own "
              "`task close`)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
