"""What the crash and tamper guards add to each coordinator step, on JSONL queues of 1,000 and
10,000 open tasks in a real git repository (best of 30):

- the recovery invariant (`recovery.restore_invariant`, every plan step): the task branches
  and, for a closed task's branch, whether its work is on the working branch;
- the queue guard's check (every plan and apply step) and its copy of the live queue (after
  the coordinator's own writes, when the store already holds what it wrote).

    python bench/bench_guards.py
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.config import config_for_repo  # noqa: E402
from orchestrator.coordinator import queue_guard, recovery  # noqa: E402
from orchestrator.coordinator.local import Coordinator  # noqa: E402
from orchestrator.forge.local import LocalForge  # noqa: E402
from orchestrator.tasks.factory import open_store  # noqa: E402
from orchestrator.tasks.store import TaskChanges  # noqa: E402


def best_ms(f: Callable[[], object], k: int = 30) -> float:
    f()
    best = float("inf")
    for _ in range(k):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def measure(root: Path, n: int) -> str:
    repo = root / f"q{n}"
    (repo / ".beads").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    lines = [f'{{"id":"t-{i}","title":"Task {i}","status":"open","priority":2,'
             f'"issue_type":"task","created_at":"2026-01-01T00:00:00Z",'
             f'"updated_at":"2026-01-01T00:00:00Z"}}' for i in range(n)]
    (repo / ".beads" / "issues.jsonl").write_text("\n".join(lines) + "\n")
    (repo / ".orchestrator.yml").write_text("store: jsonl\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "queue")
    config = config_for_repo(repo, None)
    coord = Coordinator(repo=repo, store=open_store(repo, config), config=config,
                        forge=LocalForge(None, echo=lambda line: None), actor="bench")
    ports = coord.ports
    invariant = best_ms(lambda: recovery.restore_invariant(ports, ports.store.all(), ()))
    check = best_ms(lambda: queue_guard.check(ports))
    i = [0]

    def write() -> None:  # a coordinator write; the store keeps what it wrote as its cache
        i[0] += 1
        ports.store.update(["t-0"], TaskChanges(notes=f"n{i[0]}"), actor="bench")

    write_only = best_ms(write, 10)
    keep = float("inf")
    for _ in range(10):
        write()
        start = time.perf_counter()
        queue_guard.keep(ports)
        keep = min(keep, time.perf_counter() - start)
    size = (repo / ".beads" / "issues.jsonl").stat().st_size
    return (f"| {n:,} | {size / 1e6:.1f} MB | {invariant:.1f} ms | {check:.1f} ms | "
            f"{keep * 1000:.1f} ms | {write_only:.1f} ms |")


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-guards-"))
    try:
        print("| tasks | queue file | invariant check | queue check | copy after a write "
              "| (the write itself) |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n in (1000, 10000):
            print(measure(root, n))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
