"""The coordinator's cost per cycle, and how many times a cycle parses the whole queue.

The real Coordinator and run loop (`orchestrator run`, max_parallel 1) over a JSONL queue of n
tasks of which 20 are ready (all but one when n is smaller) (the rest wait on a deferred task), with a no-op agent that closes
its task through its own store, as an agent in its own process does. Each cycle: plan, claim,
launch, collect (the attempt comment), report. The agent's own work is timed apart and left out.

    python bench/bench_cycle.py                  # 10, 1,000 and 10,000 tasks
    python bench/bench_cycle.py --sizes 10 100000
"""
from __future__ import annotations

import argparse
import dataclasses
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


def queue_text(n: int) -> str:
    at = "2026-01-01T00:00:00Z"
    lines = [dumps(to_record(Task("b-hold", "Held", status="deferred", created_at=at,
                                  updated_at=at)))]
    for i in range(n - 1):
        deps = () if i < READY else (Dependency(f"b-{i}", "b-hold", "blocks", at),)
        lines.append(dumps(to_record(Task(f"b-{i}", f"Task {i}", created_at=at, updated_at=at,
                                          description="Some words about the task. " * 4,
                                          dependencies=deps))))
    return "\n".join(lines) + "\n"


def measure(n: int) -> dict[str, float]:
    parses = {"coordinator": 0, "agent": 0}
    real_parse = jsonl.parse
    agent_s = [0.0]

    def counting_parse(path: Path, data: bytes) -> Any:
        who = "agent" if ".." in path.parts else "coordinator"
        parses[who] += 1
        return real_parse(path, data)

    jsonl.parse = counting_parse  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as d:
            repo = Path(d)
            path = repo / ".beads" / "issues.jsonl"
            path.parent.mkdir()
            path.write_text(queue_text(n))

            def noop(*, repo: Path, task_id: str, attempt: int, budget: str,
                     **_: Any) -> AgentRun:
                t = time.perf_counter()
                log_dir = runlog.new_log_dir(runlog.runs_root(repo), task_id)  # as a session does
                # the same file (and lock) by another name, to tell the agent's parses apart
                agent_path = path.parent / ".." / ".beads" / path.name
                jsonl.JsonlStore(agent_path).close([task_id], reason="no-op", actor="agent")
                agent_s[0] += time.perf_counter() - t
                return AgentRun(task_id, attempt, "noop", budget, log_dir, "", 0.0,
                                Outcome("success"))

            config = dataclasses.replace(Config(), store="jsonl", agent=dataclasses.replace(
                Config().agent, profile="command", command=[sys.executable]))
            coord = Coordinator(repo=repo, store=jsonl.JsonlStore(path), config=config,
                                forge=LocalForge(None, echo=lambda line: None),
                                actor="orchestrator", launcher=noop)
            start_cpu, start = time.process_time(), time.perf_counter()
            summary = run_loop(coord)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - start_cpu
            cycles = min(READY, n - 1)
            assert summary.attempts == cycles and summary.exit_code == 0, summary
    finally:
        jsonl.parse = real_parse  # type: ignore[assignment]
    return {"tasks": n, "ms_per_cycle": 1000 * (elapsed - agent_s[0]) / cycles,
            "cpu_ms_per_cycle": 1000 * cpu / cycles,
            "parses_per_cycle": parses["coordinator"] / cycles,
            "agent_parses_per_cycle": parses["agent"] / cycles}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 10_000])
    args = p.parse_args(argv)
    print("| tasks | coordinator per cycle (wall, agent's own work left out) | CPU per cycle "
          "(agent included) | full parses per cycle, coordinator | agent |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        m = measure(n)
        print(f"| {n:,} | {m['ms_per_cycle']:.1f} ms | {m['cpu_ms_per_cycle']:.1f} ms | "
              f"{m['parses_per_cycle']:.2f} | {m['agent_parses_per_cycle']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
