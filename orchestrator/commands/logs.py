"""`orchestrator logs list|show`: the agent runs under logs/run/.

`list` shows recent runs with their outcome; `show RUN|TASK` prints a run's readable transcript
(output.log, with the agent's stderr lines; a task ID picks its latest run); `--follow` keeps
printing while it runs.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator import runlog
from orchestrator.agents.session import read_run_file
from orchestrator.agents.transcript import render_line
from orchestrator.errors import UserError
from orchestrator.tasks.table import table

_ENDED_POLLS = 10  # polls `--follow` waits for outcome.json once the agent has gone


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


def read_run(path: Path) -> RunInfo | None:
    named = runlog.parse_dir_name(path.name)
    if named is None or not path.is_dir():
        return None
    started, dir_task = named
    if (path / runlog.OUTCOME).exists():
        try:
            done = read_run_file(path / runlog.OUTCOME)
        except UserError as e:  # one bad file must not hide the other runs
            return RunInfo(run=path.name, path=path, task_id=dir_task, started_at=started,
                           attempt=None, profile="", budget="", state="unreadable", subclass="",
                           duration_s=None, cost_usd=None, digest=str(e))
        o = done.outcome
        return RunInfo(run=path.name, path=path, task_id=done.task_id,
                       started_at=done.started_at or started, attempt=done.attempt,
                       profile=done.profile, budget=done.budget, state=o.kind, subclass=o.subclass,
                       duration_s=done.duration_s, cost_usd=o.cost_usd, digest=o.digest)
    mon = runlog.read_monitor(path)
    fields = mon.fields
    attempt = fields.get("attempt")
    return RunInfo(run=path.name, path=path, task_id=fields.get("task", dir_task),
                   started_at=started, attempt=int(attempt) if attempt and attempt.isdigit() else None,
                   profile=fields.get("profile", ""), budget=fields.get("budget", "").strip("-"),
                   state="unknown" if runlog.run_over(mon) else "running", subclass="",
                   duration_s=None, cost_usd=None, digest="")


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
    print(table(("RUN", "TASK", "ATTEMPT", "OUTCOME", "DURATION", "COST"),
                [(r.run, r.task_id, str(r.attempt or "-"),
                  r.state + (f" ({r.subclass})" if r.subclass else ""),
                  f"{r.duration_s:.1f}s" if r.duration_s is not None else "-",
                  f"${r.cost_usd:.4f}" if r.cost_usd is not None else "-") for r in runs]))
    return 0


def find_run(root: Path, ref: str) -> Path:
    """A run directory (name or path), or the latest run of a task ID."""
    as_path = Path(ref)
    for candidate in (as_path, root / ref):
        if candidate.is_dir() and (candidate / runlog.MONITOR).exists():
            return candidate
    for r in list_runs(root):
        if r.task_id == ref:
            return r.path
    raise UserError(f"no run or task {ref!r} in {root}")


def _render(raw: bytes, rendered: bool, fmt: str) -> tuple[list[str], str]:
    text = raw.decode("utf-8", "replace")
    if rendered:
        return [text.rstrip("\r")], fmt
    return render_line(text, fmt)


def logs_show(root: Path, ref: str, *, follow: bool, poll_s: float = 0.5) -> int:
    path = find_run(root, ref)
    info = read_run(path)
    if info is not None:
        print(f"== {info.run}: task {info.task_id}, attempt {info.attempt or '?'}, "
              f"profile {info.profile or '?'}" + (f", budget {info.budget}" if info.budget else ""))
    # output.log is the transcript the runner rendered, with the agent's stderr lines in the
    # order they came; verbose.jsonl (stdout only) is rendered here for a run without one
    transcript = path / "output.log"
    rendered = transcript.exists()
    verbose = transcript if rendered else path / "verbose.jsonl"
    fmt = "auto"
    offset = 0
    pending = b""
    ended_polls = 0
    while True:
        done = (path / runlog.OUTCOME).exists()
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
                lines, fmt = _render(raw, rendered, fmt)
                for line in lines:
                    print(line, flush=True)
        if not follow or done:
            break
        time.sleep(poll_s)
    if pending.strip():
        lines, fmt = _render(pending, rendered, fmt)
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
