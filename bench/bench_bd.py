"""Time `orchestrator ready --json --store bd` against `bd ready --json --limit 0` alone, side by
side on one bd database (the adapter should add little on top of bd itself).

It generates the queue with bench/generate.py (fixed seed), imports it into a fresh bd database
in $TMPDIR/beads-orchestrator-bench/bd-<n>/ once (`bd init --stealth` + `bd import`; outside
this repository on purpose, and with BEADS_DIR set: bd run inside a git worktree walks up to
the main repository and would put its database there), then runs the two commands
interleaved, each repeated, and reports medians and their ratio. The bd is the one
`.ci/install-bd` built (.ci/bin/bd), or --bd PATH.

    python bench/bench_bd.py                  # 10k tasks
    python bench/bench_bd.py --sizes 1000 10000 --repeats 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ENV = {**os.environ, "BD_DISABLE_METRICS": "1", "BD_NON_INTERACTIVE": "1"}
for key in ("BEADS_DIR", "BD_JSON_ENVELOPE", "BD_ACTOR"):
    ENV.pop(key, None)


def orchestrator() -> list[str]:
    exe = shutil.which("orchestrator", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "orchestrator.cli"]


def database(bd: Path, n: int) -> Path:
    """A bd database holding the generated queue (made once); ENV's BEADS_DIR points at it."""
    repo = Path(tempfile.gettempdir()) / "beads-orchestrator-bench" / f"bd-{n}"
    ENV["BEADS_DIR"] = str(repo / ".beads")
    if (repo / ".beads" / "embeddeddolt").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    src = generate.write(OUT / f"bd-{n}-jsonl", n)
    repo.mkdir(parents=True)
    subprocess.run([str(bd), "init", "--quiet", "--stealth", "--skip-agents", "--prefix",
                    generate.PREFIX], cwd=repo, env=ENV, check=True)
    start = time.perf_counter()
    out = subprocess.run([str(bd), "import", str(src), "--json"], cwd=repo, env=ENV,
                         capture_output=True, text=True, check=True).stdout
    print(f"# imported {json.loads(out)['created']} tasks in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    return repo


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--bd", type=Path, default=ROOT / ".ci" / "bin" / "bd")
    args = p.parse_args(argv)
    bd = args.bd.resolve()
    # `--store bd` runs the `bd` on PATH (bd.path's default): this one
    ENV["PATH"] = f"{bd.parent}{os.pathsep}{ENV.get('PATH', '')}"
    version = subprocess.run([str(bd), "version"], env=ENV, capture_output=True, text=True,
                             check=True).stdout.strip()
    print(f"# {version}; {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'tasks':>7} {'ready':>6} {'bd ready s':>11} {'orchestrator s':>15} {'ratio':>6}")
    for n in args.sizes:
        repo = database(bd, n)
        ours_argv = [*orchestrator(), "--repo", str(repo), "--store", "bd", "ready", "--json"]
        bd_argv = [str(bd), "ready", "--json", "--limit", "0"]
        theirs_t, ours_t = [], []
        for _ in range(args.repeats):
            t, bd_out = timed(bd_argv, repo)
            theirs_t.append(t)
            t, our_out = timed(ours_argv, repo)
            ours_t.append(t)
        ready_ids = [x["id"] for x in json.loads(bd_out)]
        assert [x["id"] for x in json.loads(our_out)] == ready_ids, "the two disagree"
        b, o = statistics.median(theirs_t), statistics.median(ours_t)
        print(f"{n:>7} {len(ready_ids):>6} {b:>11.3f} {o:>15.3f} {o / b:>6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
