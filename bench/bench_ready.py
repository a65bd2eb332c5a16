"""Time `orchestrator ready --json` against bare `json.loads` per line on generated queues.

For each size (default 1k, 10k, 100k tasks) it generates bench/out/<n>/.beads/issues.jsonl once
(bench/generate.py, fixed seed) and times, in one run, each repeated and reported as the median
(the three interleaved, so a change in machine load hits them alike):

- bare:       read the file and `json.loads` every line (what parsing alone costs);
- no-GC bare: the same with the garbage collector off, the true floor (at 100k, half of
  bare is the collector re-scanning the growing list of dicts);
- in-process: `orchestrator.cli.main(["ready", "--json", ...])`, output to /dev/null;
  bare and in-process each time themselves inside a fresh interpreter (no start-up counted);
- command:    the real `orchestrator ready --json` as a subprocess, output to /dev/null;
- start-up:   the same command on an empty queue (interpreter start-up and imports).

The target (issue 2) is in-process within 3x of bare at 10k and 100k.

    python bench/bench_ready.py                    # all sizes
    python bench/bench_ready.py --sizes 10000 --profile   # cProfile the in-process run
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402

from orchestrator.cli import main as cli_main  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
REPEATS = {1_000: 21, 10_000: 9, 100_000: 5}


def bare_parse(path: Path) -> int:
    loads = json.loads
    with open(path, "rb") as f:
        return len([loads(line) for line in f if line.strip()])


def in_process(repo: Path) -> None:
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        code = cli_main(["--repo", str(repo), "--store", "jsonl", "ready", "--json"])
    assert code == 0, code


def command() -> list[str]:
    exe = shutil.which("orchestrator", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "orchestrator.cli"]


def as_command(repo: Path) -> None:
    subprocess.run([*command(), "--repo", str(repo), "--store", "jsonl", "ready", "--json"],
                   stdout=subprocess.DEVNULL, check=True)


def timed_in_fresh_interpreter(kind: str, repo: Path) -> float:
    """bare and in-process each run in a new interpreter (this script with --measure) and
    time themselves, so neither inherits the other's heap or collector state."""
    out = subprocess.run([sys.executable, __file__, "--measure", kind, str(repo)],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def measure(kind: str, repo: Path) -> float:
    import orchestrator.tasks.jsonl  # noqa: F401  (imported lazily by the CLI: start-up, not work)
    path = repo / ".beads" / "issues.jsonl"
    if kind == "bare-nogc":
        gc.disable()
    start = time.perf_counter()
    if kind in ("bare", "bare-nogc"):
        bare_parse(path)
    else:
        in_process(repo)
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def queue(n: int) -> Path:
    repo = OUT / str(n)
    path = repo / ".beads" / "issues.jsonl"
    if not path.exists():
        generate.write(repo, n)
    return repo


def describe(repo: Path) -> str:
    path = repo / ".beads" / "issues.jsonl"
    recs = [json.loads(x) for x in path.read_bytes().splitlines()]
    edges = sum(len(r.get("dependencies", ())) for r in recs)
    status: dict[str, int] = {}
    for r in recs:
        status[r["status"]] = status.get(r["status"], 0) + 1
    return (f"{len(recs)} tasks, {edges} edges, {path.stat().st_size / 1e6:.1f} MB, "
            + ", ".join(f"{k} {v}" for k, v in sorted(status.items())))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(REPEATS))
    p.add_argument("--repeats", type=int, help="override the per-size repeat count")
    p.add_argument("--profile", action="store_true", help="cProfile one in-process run per size")
    p.add_argument("--measure", nargs=2, metavar=("KIND", "REPO"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(measure(args.measure[0], Path(args.measure[1])))
        return 0

    empty = OUT / "empty"
    (empty / ".beads").mkdir(parents=True, exist_ok=True)
    (empty / ".beads" / "issues.jsonl").write_text("")
    startup = median_time(lambda: as_command(empty), 11)
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, command {' '.join(command())}")
    fixed = statistics.median(timed_in_fresh_interpreter("in-process", empty) for _ in range(11))
    print(f"# start-up (ready --json on an empty queue): command {startup * 1000:.0f} ms, "
          f"in-process {fixed * 1000:.0f} ms")
    print(f"{'tasks':>7} {'ready':>6} {'bare s':>8} {'no-GC s':>8} {'in-proc s':>10} {'x bare':>7} "
          f"{'x no-GC':>8} {'command s':>10} {'x bare':>7}")
    for n in args.sizes:
        repo = queue(n)
        print(f"# {n}: {describe(repo)}", file=sys.stderr)  # also warms the page cache
        out = subprocess.run([*command(), "--repo", str(repo), "--store", "jsonl", "ready", "--json"],
                             capture_output=True, text=True, check=True).stdout
        n_ready = len(json.loads(out))
        repeats = args.repeats or REPEATS.get(n, 5)
        bare, nogc, inproc, cmd = [], [], [], []
        for _ in range(repeats):
            bare.append(timed_in_fresh_interpreter("bare", repo))
            nogc.append(timed_in_fresh_interpreter("bare-nogc", repo))
            inproc.append(timed_in_fresh_interpreter("in-process", repo))
            cmd.append(median_time(lambda repo=repo: as_command(repo), 1))
        b, g, i, c = (statistics.median(x) for x in (bare, nogc, inproc, cmd))
        print(f"{n:>7} {n_ready:>6} {b:>8.3f} {g:>8.3f} {i:>10.3f} {i / b:>7.2f} {i / g:>8.2f} "
              f"{c:>10.3f} {c / b:>7.2f}", flush=True)
        if args.profile:
            prof = cProfile.Profile()
            prof.runcall(in_process, repo)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
