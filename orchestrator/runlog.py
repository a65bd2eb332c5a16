"""The run-log layout, written and read here only.

Each agent run gets `logs/run/<UTC timestamp>_<task-id>[.N]/` holding `prompt.md`,
`verbose.jsonl`, `output.log`, `monitor.log`, `outcome.json` and `result.json` (the coordinator's
result record). monitor.log is one timestamped line per event; the lines others read are

    <time> start task=<id> attempt=<n> profile=<p> kind=<k> budget=<b> cwd=<dir> ... argv=<argv>
    <time> running pid=<pid> pgid=<pgid>
    <time> exit code=<code> duration=<s>s ...

Readers: `orchestrator logs` (what ran, how it ended) and the coordinator (agents of a dead
coordinator that still run: `orphaned_agents`).
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.process import pid_alive

RUN_ROOT = Path("logs") / "run"
MONITOR = "monitor.log"
OUTCOME = "outcome.json"
RESULT = "result.json"
_DIR = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)_(?P<task>.+?)(?:\.(?P<n>\d+))?$")
_dir_lock = threading.Lock()


def runs_root(repo: Path) -> Path:
    return repo / RUN_ROOT


def safe_id(task_id: str) -> str:
    """A task ID as a file-name part (bd IDs are safe already; a hand-made one may not be)."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task_id)


def new_log_dir(root: Path, task_id: str, now: datetime | None = None) -> Path:
    """<root>/<UTC timestamp>_<task-id>/, unique even for two runs of a task in one second."""
    now = now or datetime.now(timezone.utc)
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = safe_id(task_id)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # e.g. `logs` is a file
        raise UserError(f"{root}: cannot create the run log folder ({e.strerror or e})") from None
    with _dir_lock:
        for n in range(1, 1000):
            path = root / (f"{stamp}_{name}" if n == 1 else f"{stamp}_{name}.{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    raise UserError(f"{root}: cannot create a log directory for {task_id}")


def parse_dir_name(name: str) -> tuple[str, str] | None:
    """(started_at as RFC 3339, task ID as written in the name) of a run directory's name."""
    m = _DIR.match(name)
    if not m:
        return None
    s = m.group("stamp")
    return f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z", m.group("task")


# -- monitor.log ----------------------------------------------------------------------------------

def start_line(fields: Mapping[str, str], argv: str) -> str:
    """key=value fields (values without spaces), then the argv, which may hold spaces."""
    return " ".join(["start", *(f"{k}={v}" for k, v in fields.items()), f"argv={argv}"])


def running_line(pid: int, pgid: int) -> str:
    return f"running pid={pid} pgid={pgid}"


def exit_line(code: int | None, duration_s: float, detail: str = "") -> str:
    return f"exit code={code} duration={duration_s:.1f}s" + (f" {detail}" if detail else "")


@dataclass(frozen=True)
class Monitor:
    fields: Mapping[str, str] = field(default_factory=dict)   # the start line's, cwd included
    pid: int | None = None
    pgid: int | None = None
    exited: bool = False        # an exit line was written


def read_monitor(run_dir: Path) -> Monitor:
    try:
        text = (run_dir / MONITOR).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Monitor()
    fields: dict[str, str] = {}
    pid = pgid = None
    exited = False
    for line in text.splitlines():
        _, _, event = line.partition(" ")
        if event.startswith("start ") and not fields:
            head = event[len("start "):].split(" argv=", 1)[0]
            fields = {m.group(1): m.group(2) for m in re.finditer(r"(\w+)=(\S+)", head)}
        elif event.startswith("running ") and pid is None:
            m = re.match(r"running pid=(\d+) pgid=(\d+)", event)
            if m:
                pid, pgid = int(m.group(1)), int(m.group(2))
        elif event.startswith("exit code="):
            exited = True
    return Monitor(fields, pid, pgid, exited)


def run_over(mon: Monitor) -> bool:
    """An exit line, or an agent process that is gone without one (its coordinator was killed)."""
    return mon.exited or (mon.pid is not None and not pid_alive(mon.pid))


def orphaned_agents(root: Path, task_id: str) -> list[int]:
    """Process groups of agent runs of this task that never logged an exit (their coordinator
    was killed hard) and are still alive here, with the live process's working directory
    matching the run's `cwd=` (so a reused pid is never taken for the agent). Linux only
    (/proc); elsewhere nothing is found."""
    if not Path("/proc/self/cwd").exists() or not root.is_dir():
        return []
    out = []
    for run_dir in root.glob(f"*_{safe_id(task_id)}*"):
        mon = read_monitor(run_dir)
        if mon.exited or mon.fields.get("task") != task_id or mon.pid is None:
            continue
        cwd = mon.fields.get("cwd")
        try:
            if cwd and os.readlink(f"/proc/{mon.pid}/cwd") == cwd \
                    and os.getpgid(mon.pid) == mon.pgid:
                out.append(mon.pgid)
        except OSError:
            continue
    return out
