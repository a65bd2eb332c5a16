"""The coordinator's cost per cycle, and how many times a cycle parses the whole queue.

The real Coordinator and run loop (`orchestrator run`, max_parallel 1) over a JSONL queue of n
tasks of which 20 are ready (all but one when n is smaller) (the rest wait on a deferred task), with a no-op agent that closes
its task through its own store, as an agent in its own process does. Each cycle: plan, claim,
launch, collect (the attempt comment), report. The agent's own work is timed apart and left out
of the wall time, not of the CPU time. "in the parses" is the CPU the parses took (each
thread's own, counted around every call of the parser; the coordinator's re-reads reuse the
tasks of unchanged lines, so they cost less than "one full parse", measured alongside, best
of three); "in the writes" the CPU of the store's writes (each writes the whole file); "beyond
the parses" is the CPU per cycle less the parses: what the cycle costs apart from reading the
queue, the part that should not grow with it. Every figure is per cycle in the steady state:
from the second cycle's plan to the plan that finds nothing left, so the run's start-up (its
first parse and graph work, once per run) is not spread over the cycles.
With --git the repository is a git repository: every step also runs the crash and tamper
guards (recovery.py, queue_guard.py) and each agent gets a worktree whose branch is landed.

    python bench/bench_cycle.py                  # 10, 1,000 and 10,000 tasks
    python bench/bench_cycle.py --sizes 10 100000
    python bench/bench_cycle.py --git
"""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator import runlog  # noqa: E402
from orchestrator.agents.outcome import Outcome  # noqa: E402
from orchestrator.agents.session import AgentRun  # noqa: E402
from orchestrator.config import Config  # noqa: E402
from orchestrator.coordinator.local import Coordinator  # noqa: E402
from orchestrator.coordinator.loop import run_loop  # noqa: E402
from orchestrator.forge.local import LocalForge  # noqa: E402
from orchestrator.tasks import jsonl  # noqa: E402
from orchestrator.tasks.model import Dependency, Task, dumps, to_record  # noqa: E402

READY = 20


def _counts(dependencies: int, dependents: int) -> dict[str, int]:
    return {"dependency_count": dependencies, "dependent_count": dependents, "comment_count": 0}


def queue_text(n: int) -> str:
    """The queue as bd exports it (every line carries its counts)."""
    at = "2026-01-01T00:00:00Z"
    waiting = max(0, n - 1 - READY)
    lines = [dumps(to_record(Task("b-hold", "Held", status="deferred", created_at=at,
                                  updated_at=at), _counts(0, waiting)))]
    for i in range(n - 1):
        deps = () if i < READY else (Dependency(f"b-{i}", "b-hold", "blocks", at),)
        lines.append(dumps(to_record(Task(f"b-{i}", f"Task {i}", created_at=at, updated_at=at,
                                          description="Some words about the task. " * 4,
                                          dependencies=deps), _counts(len(deps), 0))))
    return "\n".join(lines) + "\n"


def parse_ms(path: Path) -> float:
    """CPU milliseconds of one full parse of the queue file (best of three)."""
    data = path.read_bytes()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        jsonl.parse(path, data)
        best = min(best, time.process_time() - start)
    return 1000 * best


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def measure(n: int, *, git: bool = False) -> dict[str, float]:
    """Per cycle, in the steady state: from the second cycle's plan to the plan that finds
    nothing left (the run's start-up, its first parse and graph work, is left out)."""
    acc = {"coordinator": 0.0, "agent": 0.0, "parse": 0.0, "write": 0.0}
    real_parse, real_write = jsonl.parse, jsonl.JsonlStore._write
    agent_s = [0.0]

    def counting_parse(path: Path, data: bytes, *args: Any) -> Any:
        acc["agent" if ".." in path.parts else "coordinator"] += 1
        start = time.thread_time()  # the agent parses in its own thread
        try:
            return real_parse(path, data, *args)
        finally:
            acc["parse"] += time.thread_time() - start

    def timed_write(self: jsonl.JsonlStore, state: Any) -> None:
        start = time.thread_time()
        try:
            real_write(self, state)
        finally:
            acc["write"] += time.thread_time() - start

    jsonl.parse = counting_parse  # type: ignore[assignment]
    jsonl.JsonlStore._write = timed_write  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as d:
            repo = Path(d)
            path = repo / ".beads" / "issues.jsonl"
            path.parent.mkdir()
            path.write_text(queue_text(n))
            if git:
                _git(repo, "init", "-q", "-b", "main")
                _git(repo, "-c", "user.name=b", "-c", "user.email=b@x", "add", "-A")
                _git(repo, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "q")
                _git(repo, "config", "user.name", "bench")
                _git(repo, "config", "user.email", "bench@example.com")

            def noop(*, repo: Path, task_id: str, attempt: int, budget: str,
                     **_: Any) -> AgentRun:
                t = time.perf_counter()
                log_dir = runlog.new_log_dir(runlog.runs_root(repo), task_id)  # as a session does
                # the same file (and lock) by another name, to tell the agent's parses apart
                agent_path = path.parent / ".." / ".beads" / path.name
                store = jsonl.JsonlStore(agent_path)
                store.close([task_id], reason="no-op", actor="agent")
                # the agent's process ends here, freeing the queue it parsed: the parse's
                # other half (here a thread, where it would show as the cycle's own cost)
                start = time.thread_time()
                del store
                acc["parse"] += time.thread_time() - start
                agent_s[0] += time.perf_counter() - t
                return AgentRun(task_id, attempt, "noop", budget, log_dir, "", 0.0,
                                Outcome("success"))

            config = dataclasses.replace(Config(), store="jsonl", agent=dataclasses.replace(
                Config().agent, profile="command", command=[sys.executable]))
            coord = Coordinator(repo=repo, store=jsonl.JsonlStore(path), config=config,
                                forge=LocalForge(None, echo=lambda line: None),
                                actor="orchestrator", launcher=noop)
            graphs = getattr(coord.ports, "graphs", None)
            marks: list[dict[str, float]] = []
            real_plan_cycle = coord.plan_cycle

            def marking_plan_cycle(*args: Any, **kwargs: Any) -> Any:
                marks.append({**acc, "cpu": time.process_time(), "wall": time.perf_counter(),
                              "agent_s": agent_s[0],
                              "graph": getattr(graphs, "computed", float("nan")),
                              "visited": getattr(graphs, "visited", float("nan"))})
                return real_plan_cycle(*args, **kwargs)

            coord.plan_cycle = marking_plan_cycle  # type: ignore[method-assign]
            summary = run_loop(coord)
            cycles = min(READY, n - 1)
            assert summary.attempts == cycles and summary.exit_code == 0, summary
            jsonl.parse = real_parse  # type: ignore[assignment]
            one_parse = parse_ms(path)
    finally:
        jsonl.parse = real_parse  # type: ignore[assignment]
        jsonl.JsonlStore._write = real_write  # type: ignore[method-assign]
    first, last = marks[1], marks[-1]
    steady = len(marks) - 2

    def per(key: str, scale: float = 1000) -> float:
        return scale * (last[key] - first[key]) / steady

    cpu = per("cpu")
    return {"tasks": n, "cycles": steady, "cpu_ms_per_cycle": cpu,
            "ms_per_cycle": per("wall") - per("agent_s"),
            "parse_ms": one_parse, "parses_cpu_ms": per("parse"), "writes_cpu_ms": per("write"),
            "beyond_parses_ms": cpu - per("parse"),
            "beyond_parses_and_writes_ms": cpu - per("parse") - per("write"),
            # (NaN on code from before the memo, for before/after runs)
            "graph_per_cycle": per("graph", 1), "visited_per_cycle": per("visited", 1),
            "parses_per_cycle": per("coordinator", 1),
            "agent_parses_per_cycle": per("agent", 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000])
    p.add_argument("--git", action="store_true", help="in a git repository (guards, worktrees)")
    args = p.parse_args(argv)
    print("| tasks | CPU per cycle (agent included) | in the parses | in the writes | "
          "beyond the parses | beyond the parses and writes | one full parse | "
          "coordinator per cycle (wall, agent's own work left out) | parses per cycle, "
          "coordinator | agent | full graph passes per cycle | tasks visited by graph "
          "updates per cycle |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        m = measure(n, git=args.git)
        print(f"| {n:,} | {m['cpu_ms_per_cycle']:.1f} ms | {m['parses_cpu_ms']:.1f} ms | "
              f"{m['writes_cpu_ms']:.1f} ms | {m['beyond_parses_ms']:.1f} ms | "
              f"{m['beyond_parses_and_writes_ms']:.1f} ms | {m['parse_ms']:.1f} ms | "
              f"{m['ms_per_cycle']:.1f} ms | {m['parses_per_cycle']:.2f} | "
              f"{m['agent_parses_per_cycle']:.2f} | {m['graph_per_cycle']:.2f} | "
              f"{m['visited_per_cycle']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
