"""The one way the orchestrator runs a short-lived process (agents have their own runner)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
