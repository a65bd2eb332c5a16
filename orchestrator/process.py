"""The one way the orchestrator runs a short-lived process (agents have their own runner), and
the process-level facts both need: whether a pid is alive, and stopping a process group."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UserError


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = 300,
    check: bool = True,
) -> Completed:
    """Run argv (never through a shell); with check, a non-zero exit is a UserError
    naming the command and the tail of its stderr."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise UserError(f"{argv[0]}: command not found (is it installed and on PATH?)") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"{' '.join(argv[:3])}: timed out after {timeout:g}s") from None
    done = Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        detail = _tail(proc.stderr) or _tail(proc.stdout) or "no output"
        raise UserError(f"{' '.join(argv[:3])} exited {proc.returncode}: {detail}")
    return done


def pid_alive(pid: int) -> bool:
    """Whether a process exists on this host (another user's counts: kill(0) says EPERM)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, from /proc; without /proc, whether
    signal 0 reaches the group."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    out = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            out.append(int(entry.name))
    return out


def stop_group(pgid: int, grace_s: float = 5.0, *,
               leader: subprocess.Popen[bytes] | None = None) -> int:
    """SIGTERM the process group, wait up to grace_s for it to go, SIGKILL what is left. Returns
    how many processes were still there when it started. `leader`, when it is our child, is
    reaped while waiting so it does not linger as a zombie (a zombie is not counted as alive).
    The agent runner ends its agents with it, the coordinator the orphans of a dead one."""
    members = group_members(pgid)
    if not members:
        return 0
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()  # reap the leader so it does not linger as a zombie
        if not group_members(pgid):
            return len(members)
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return len(members)
