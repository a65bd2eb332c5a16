"""`orchestrator logs list|show`: the agent runs under logs/run/ (the seed's Log Management).

`list` shows recent runs with their outcome; `show RUN|TASK` prints a readable transcript of a
run's verbose.jsonl (a task ID picks its latest run), `--follow` keeps printing while it runs.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.agents.session import read_run_file
from orchestrator.agents.transcript import render_line
from orchestrator.errors import UserError
from orchestrator.process import pid_alive

_ENDED_POLLS = 10  # polls `--follow` waits for outcome.json once the agent has gone
_DIR = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)_(?P<task>.+?)(?:\.(?P<n>\d+))?$")


@dataclass(frozen=True)
class RunInfo:
    run: str
    path: Path
    task_id: str
    started_at: str
    attempt: int | None
    profile: str
    budget: str
    state: str              # the outcome kind, or "running" / "unknown"
    subclass: str
    duration_s: float | None
    cost_usd: float | None
    digest: str

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run, "path": str(self.path), "task_id": self.task_id,
                "started_at": self.started_at, "attempt": self.attempt, "profile": self.profile,
                "budget": self.budget, "outcome": self.state, "subclass": self.subclass,
                "duration_s": self.duration_s, "cost_usd": self.cost_usd}


def _monitor_fields(path: Path) -> tuple[dict[str, str], bool]:
    """The key=value fields of monitor.log's start line, and whether the run is over: an exit
    line, or an agent process that is gone without one (the orchestrator itself was killed)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}, False
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if " start " in line and not fields:
            head = line.split(" argv=", 1)[0]
            fields = dict(m.groups() for m in re.finditer(r"(\w+)=(\S+)", head))
    if " exit code=" in text:
        return fields, True
    pid = re.search(r" running pid=(\d+)", text)
    return fields, pid is not None and not pid_alive(int(pid.group(1)))


def read_run(path: Path) -> RunInfo | None:
    m = _DIR.match(path.name)
    if not m or not path.is_dir():
        return None
    stamp = m.group("stamp")
    started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    if (path / "outcome.json").exists():
        try:
            done = read_run_file(path / "outcome.json")
        except UserError as e:  # one bad file must not hide the other runs
            return RunInfo(run=path.name, path=path, task_id=m.group("task"), started_at=started,
                           attempt=None, profile="", budget="", state="unreadable", subclass="",
                           duration_s=None, cost_usd=None, digest=str(e))
        o = done.outcome
        return RunInfo(run=path.name, path=path, task_id=done.task_id,
                       started_at=done.started_at or started, attempt=done.attempt,
                       profile=done.profile, budget=done.budget, state=o.kind, subclass=o.subclass,
                       duration_s=done.duration_s, cost_usd=o.cost_usd, digest=o.digest)
    fields, exited = _monitor_fields(path / "monitor.log")
    attempt = fields.get("attempt")
    return RunInfo(run=path.name, path=path, task_id=fields.get("task", m.group("task")),
                   started_at=started, attempt=int(attempt) if attempt and attempt.isdigit() else None,
                   profile=fields.get("profile", ""), budget=fields.get("budget", "").strip("-"),
                   state="unknown" if exited else "running", subclass="", duration_s=None,
                   cost_usd=None, digest="")


def list_runs(root: Path) -> list[RunInfo]:
    """Newest first."""
    if not root.is_dir():
        return []
    runs = [r for r in (read_run(p) for p in root.iterdir()) if r is not None]
    return sorted(runs, key=lambda r: (r.started_at, r.run), reverse=True)


def logs_list(root: Path, *, limit: int, as_json: bool, task_id: str | None = None) -> int:
    runs = [r for r in list_runs(root) if task_id is None or r.task_id == task_id]
    runs = runs[:limit] if limit > 0 else runs
    if as_json:
        print(json.dumps([r.as_dict() for r in runs], indent=2))
        return 0
    if not runs:
        print(f"No agent runs in {root}")
        return 0
    rows = [("RUN", "TASK", "ATTEMPT", "OUTCOME", "DURATION", "COST")]
    for r in runs:
        rows.append((r.run, r.task_id, str(r.attempt or "-"),
                     r.state + (f" ({r.subclass})" if r.subclass else ""),
                     f"{r.duration_s:.1f}s" if r.duration_s is not None else "-",
                     f"${r.cost_usd:.4f}" if r.cost_usd is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def find_run(root: Path, ref: str) -> Path:
    """A run directory (name or path), or the latest run of a task ID."""
    as_path = Path(ref)
    for candidate in (as_path, root / ref):
        if candidate.is_dir() and (candidate / "monitor.log").exists():
            return candidate
    for r in list_runs(root):
        if r.task_id == ref:
            return r.path
    raise UserError(f"no run or task {ref!r} in {root}")


def logs_show(root: Path, ref: str, *, follow: bool, poll_s: float = 0.5) -> int:
    path = find_run(root, ref)
    info = read_run(path)
    if info is not None:
        print(f"== {info.run}: task {info.task_id}, attempt {info.attempt or '?'}, "
              f"profile {info.profile or '?'}" + (f", budget {info.budget}" if info.budget else ""))
    verbose = path / "verbose.jsonl"
    fmt = "auto"
    offset = 0
    pending = b""
    ended_polls = 0
    while True:
        done = (path / "outcome.json").exists()
        now = read_run(path) if follow and not done else None
        if now is not None and now.state != "running":
            # the agent is gone but no outcome was written (yet): give the orchestrator a
            # moment to classify, then stop rather than follow a dead run forever
            ended_polls += 1
            done = ended_polls > _ENDED_POLLS
        if verbose.exists():
            with open(verbose, "rb") as f:
                f.seek(offset)
                data = f.read()
            offset += len(data)
            pending += data
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines, fmt = render_line(raw.decode("utf-8", "replace"), fmt)
                for line in lines:
                    print(line, flush=True)
        if not follow or done:
            break
        time.sleep(poll_s)
    if pending.strip():
        lines, fmt = render_line(pending.decode("utf-8", "replace"), fmt)
        for line in lines:
            print(line)
    info = read_run(path)
    if info is not None and info.state not in ("running", "unknown"):
        print(f"== outcome: {info.state}" + (f" ({info.subclass})" if info.subclass else "")
              + (f" in {info.duration_s:.1f}s" if info.duration_s is not None else ""))
        if info.digest:
            print(info.digest)
    elif info is not None:
        print(f"== {info.state}")
    return 0
