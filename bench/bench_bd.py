"""Time `orchestrator ready --json --store bd` against `bd ready --json --limit 0` alone, side by
side on one bd database (the adapter should add little on top of bd itself).

It generates the queue with bench/generate.py (fixed seed) and loads it into a fresh bd database
in $TMPDIR/beads-orchestrator-bench/bd-<n>/ once (outside this repository on purpose, and with
BEADS_DIR set: bd run inside a git worktree walks up to the main repository and would put its
database there), then runs the two commands interleaved, each repeated, and reports medians and
their ratio. The bd is the one `.ci/install-bd` built (.ci/bin/bd), or --bd PATH.

Loading: `bd import` of the whole file costs O(blocks edges^2) (each edge's cycle check reads
every dependency row; bench/bd_edges/main.go says more): 576 s for 2,000 tasks, hours for
10,000. So the queue is imported without its `blocks` edges (`bd init --stealth` + `bd
import`), bench/bd_edges (built with Go, as .ci/install-bd builds bd) inserts those rows as bd
import would, and `bd recompute-blocked` sets bd's blocked flags. `--check N` loads an N-task
queue both ways and checks that `bd export`, `bd ready`, `bd blocked` and `bd stats` are
byte-identical (they are at 1,000 tasks; docs/performance.md).

    python bench/bench_bd.py                  # 10k tasks
    python bench/bench_bd.py --sizes 1000 10000 --repeats 5
    python bench/bench_bd.py --check 1000     # the fast load equals a plain `bd import`
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


def edges_tool(bd: Path) -> Path:
    """bench/bd_edges built into bench/out/ against the pinned bd's own build list (a throwaway
    module requiring github.com/steveyegge/beads/cmd/bd at .ci/bd-version, as .ci/install-bd
    does), so it opens the database with the same embedded Dolt as bd."""
    exe = OUT / "bd_edges"
    if exe.exists():
        return exe
    version = (ROOT / ".ci" / "bd-version").read_text().strip()
    env = {**os.environ, "CGO_ENABLED": "1", "GOFLAGS": "-tags=gms_pure_go -buildvcs=false"}
    with tempfile.TemporaryDirectory() as work:
        def go(*args: str) -> None:
            subprocess.run(["go", *args], cwd=work, env=env, check=True, capture_output=True)
        go("mod", "init", "bd-edges")
        go("get", f"github.com/steveyegge/beads/cmd/bd@{version}")
        shutil.copy(ROOT / "bench" / "bd_edges" / "main.go", work)
        OUT.mkdir(parents=True, exist_ok=True)
        go("build", "-o", str(exe), ".")
    return exe


def bd_run(bd: Path, repo: Path, *args: str) -> str:
    env = {**ENV, "BEADS_DIR": str(repo / ".beads")}
    return subprocess.run([str(bd), *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout


def load(bd: Path, repo: Path, src: Path, *, fast: bool) -> None:
    """A fresh bd database in `repo` holding the queue file `src`: `bd import` of it, or (fast)
    of it without its blocks edges, then those edges through bd_edges and `bd recompute-blocked`."""
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    bd_run(bd, repo, "init", "--quiet", "--stealth", "--skip-agents", "--prefix", generate.PREFIX)
    start = time.perf_counter()
    if not fast:
        created = json.loads(bd_run(bd, repo, "import", str(src), "--json"))["created"]
        print(f"# bd import: {created} tasks in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        return
    records = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    edges = [d for r in records for d in r.get("dependencies") or [] if d["type"] == "blocks"]
    rest = repo / "without-blocks.jsonl"
    rest.write_text("".join(json.dumps({**r, "dependencies": [
        d for d in r.get("dependencies") or [] if d["type"] != "blocks"]}) + "\n"
        for r in records), encoding="utf-8")
    created = json.loads(bd_run(bd, repo, "import", str(rest), "--json"))["created"]
    rest.unlink()
    imported = time.perf_counter()
    env = {**ENV, "BEADS_DIR": str(repo / ".beads")}
    subprocess.run([str(edges_tool(bd)), str(repo / ".beads"), generate.PREFIX], cwd=repo,
                   env=env, input="".join(json.dumps(e) + "\n" for e in edges), text=True,
                   check=True, capture_output=True)
    inserted = time.perf_counter()
    bd_run(bd, repo, "recompute-blocked")
    print(f"# {created} tasks: bd import without blocks edges {imported - start:.0f} s, "
          f"{len(edges)} blocks edges {inserted - imported:.0f} s, bd recompute-blocked "
          f"{time.perf_counter() - inserted:.0f} s", file=sys.stderr)


def database(bd: Path, n: int) -> Path:
    """A bd database holding the generated queue (made once); ENV's BEADS_DIR points at it."""
    repo = Path(tempfile.gettempdir()) / "beads-orchestrator-bench" / f"bd-{n}"
    ENV["BEADS_DIR"] = str(repo / ".beads")
    if (repo / ".beads" / "embeddeddolt").exists() and (repo / "loaded").exists():
        return repo
    load(bd, repo, generate.write(OUT / f"bd-{n}-jsonl", n), fast=True)
    (repo / "loaded").write_text("")
    return repo


def check(bd: Path, n: int) -> int:
    """Load an n-task queue with plain `bd import` and the fast way; compare what bd says."""
    src = generate.write(OUT / f"bd-{n}-jsonl", n)
    base = Path(tempfile.gettempdir()) / "beads-orchestrator-bench" / f"check-{n}"
    answers = []
    for fast in (False, True):
        repo = base / ("fast" if fast else "import")
        load(bd, repo, src, fast=fast)
        answers.append([bd_run(bd, repo, *cmd) for cmd in (
            ("export",), ("ready", "--json", "--limit", "0"), ("blocked", "--json"),
            ("stats", "--json"))])
    same = answers[0] == answers[1]
    print(f"{n} tasks: export, ready, blocked and stats "
          f"{'identical' if same else 'DIFFER'} between bd import and the fast load")
    shutil.rmtree(base, ignore_errors=True)
    return 0 if same else 1


def timed(argv: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--bd", type=Path, default=ROOT / ".ci" / "bin" / "bd")
    p.add_argument("--check", type=int, metavar="N",
                   help="check the fast load against bd import on N tasks, then stop")
    args = p.parse_args(argv)
    bd = args.bd.resolve()
    if args.check:
        return check(bd, args.check)
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
