"""Queue reads at scale: each read command as a ratio to bare `json.loads` of the same file.

For each shape (bench/shapes.py) and size it generates $TMPDIR/orchestrator-bench/<shape>-<n>/.beads/issues.jsonl
once, then runs, as whole processes with output to /dev/null, side by side in rounds:

    bare          python -c "[json.loads(line) for line in open(path, 'rb')]"
    ready --json, ready (table), status --json, plan --json, show ID (a task in the middle)

Each round runs bare, then every command once; a command's ratio for the round is its time
over that round's bare time, so a change in machine load hits both alike, and the figure
quoted is the median ratio over the rounds. Times are CPU seconds (user + sys, from the
kernel's accounting of the finished child), which a shared machine disturbs less than wall
time; the wall-time ratio is printed beside it.

    python bench/bench_queue.py                            # every shape, 10k and 100k
    python bench/bench_queue.py --sizes 10000 --shapes flat phases --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes  # noqa: E402

# outside the repository: inside it, --repo DIR would find this checkout's own git root
OUT = Path(tempfile.gettempdir()) / "orchestrator-bench"
BARE = "import json,sys\nloads=json.loads\nwith open(sys.argv[1],'rb') as f: r=[loads(x) for x in f if x.strip()]"
COMMANDS = ("ready --json", "ready", "status --json", "plan --json", "show")


def orchestrator() -> list[str]:
    exe = shutil.which("orchestrator", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "orchestrator.cli"]


def queue(shape: str, n: int, out: Path = OUT) -> Path:
    repo = out / f"{shape}-{n}"
    if not (repo / ".beads" / "issues.jsonl").exists():
        shapes.write(shape, n, repo)
    return repo


def argv_for(command: str, repo: Path, middle: str) -> list[str]:
    path = repo / ".beads" / "issues.jsonl"
    if command == "bare":
        return [sys.executable, "-c", BARE, str(path)]
    base = [*orchestrator(), "--repo", str(repo), "--store", "jsonl"]
    if command == "show":
        return [*base, "show", middle]
    return [*base, *command.split()]


def run(argv: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def describe(repo: Path) -> tuple[str, str, int]:
    """A line about the queue, the middle task's ID, and how many tasks are ready."""
    path = repo / ".beads" / "issues.jsonl"
    recs = [json.loads(x) for x in path.read_bytes().splitlines() if x.strip()]
    edges = sum(len(r.get("dependencies", ())) for r in recs)
    closed = sum(1 for r in recs if r.get("status") == "closed")
    ready = subprocess.run(argv_for("ready --json", repo, ""), capture_output=True, check=True)
    n_ready = len(json.loads(ready.stdout))
    line = (f"{len(recs)} tasks, {edges} edges, {path.stat().st_size / 1e6:.0f} MB, "
            f"{closed} closed, {n_ready} ready")
    return line, recs[len(recs) // 2]["id"], n_ready


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", default=list(shapes.SHAPES), choices=list(shapes.SHAPES))
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    p.add_argument("--out", type=Path, default=OUT, help="where the queues are generated")
    args = p.parse_args(argv)
    load = os.getloadavg()[0]
    print(f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
          f"CPUs, load average {load:.1f} at start; ratio = command / bare, CPU (wall), median "
          f"of {args.rounds} rounds", flush=True)
    print("| shape | tasks | queue | bare s | " + " | ".join(args.commands) + " |")
    print("|---|---:|---|---:|" + "---:|" * len(args.commands), flush=True)
    for n in args.sizes:
        for shape in args.shapes:
            repo = queue(shape, n, args.out)
            line, middle, _ = describe(repo)  # also warms the page cache
            cpu: dict[str, list[float]] = {c: [] for c in ("bare", *args.commands)}
            wall: dict[str, list[float]] = {c: [] for c in cpu}
            for _ in range(args.rounds):
                for c in cpu:
                    c_cpu, c_wall = run(argv_for(c, repo, middle))
                    cpu[c].append(c_cpu)
                    wall[c].append(c_wall)
            cells = []
            for c in args.commands:
                r_cpu = statistics.median(x / b for x, b in zip(cpu[c], cpu["bare"], strict=True))
                r_wall = statistics.median(x / b for x, b in zip(wall[c], wall["bare"], strict=True))
                cells.append(f"{r_cpu:.2f} ({r_wall:.2f})")
            print(f"| {shape} | {n:,} | {line} | {statistics.median(cpu['bare']):.2f} | "
                  + " | ".join(cells) + " |", flush=True)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
