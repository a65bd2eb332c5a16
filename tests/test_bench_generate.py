"""The benchmark's generator makes a valid queue, and the benchmark script still runs, so the
code in bench/ cannot rot silently. (Nothing here is timed: figures are in docs/performance.md.)"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from orchestrator.tasks.jsonl import JsonlStore

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_generated_queue_loads_and_has_ready_work(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(BENCH / "generate.py"), "200", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path = tmp_path / ".beads" / "issues.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 200 and len({r["id"] for r in records}) == 200
    assert {r["status"] for r in records} >= {"open", "closed"}
    edge_types = Counter(d["type"] for r in records for d in r.get("dependencies", ()))
    assert edge_types["parent-child"] > 100 and edge_types["blocks"] > 50

    tasks = JsonlStore(path).all()  # every edge resolves, no cycle, every field valid
    ready = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                            "--store", "jsonl", "ready", "--json"], capture_output=True, text=True)
    assert ready.returncode == 0, ready.stderr
    ids = [t["id"] for t in json.loads(ready.stdout)]
    assert ids and all(tasks[i].status == "open" for i in ids)
    assert len(ids) < sum(1 for t in tasks.values() if t.status == "open")  # some are blocked


def test_bench_script_measures_a_run(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(BENCH / "generate.py"), "50", str(tmp_path)], check=True,
                   capture_output=True)
    for kind in ("bare", "in-process"):
        out = subprocess.run([sys.executable, str(BENCH / "bench_ready.py"), "--measure", kind,
                              str(tmp_path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert float(out.stdout) > 0


def test_queue_and_cycle_benches_run(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(BENCH / "bench_queue.py"), "--shapes", "deep",
                          "--sizes", "60", "--rounds", "1", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("| deep |"))
    assert row.count("|") == 10 and "60 tasks" in row  # shape, size, queue, bare, 5 commands
    out = subprocess.run([sys.executable, str(BENCH / "bench_cycle.py"), "--sizes", "5"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("| 5 |")
