"""Run one agent process: its own process group, a wall-clock and an idle timeout that end the
whole group (SIGTERM, then SIGKILL), and three log files written while it runs:

- `verbose.jsonl`: the raw stdout stream, byte for byte (secrets scrubbed);
- `output.log`: a readable transcript of it, plus stderr lines marked `[stderr]`;
- `monitor.log`: start, heartbeats, kill, exit, duration (the session adds budget and outcome).

Every log is capped (`agent.log_max_mb`): past the cap the middle is dropped and the start and the
last part are kept, so the final `result` event still reaches the classifier.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from orchestrator.agents.transcript import render_line
from orchestrator.errors import UserError

# Environment variables whose values are secrets: scrubbed from every log.
_SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|"
                          r"CREDENTIALS?|AUTH|KEY)(_|$)", re.IGNORECASE)
# Token shapes scrubbed wherever they appear (GitHub, Anthropic/OpenAI, AWS, Slack, GitLab, Google).
TOKEN_SHAPES = (
    rb"gh[pousr]_[A-Za-z0-9]{36,}",
    rb"github_pat_[A-Za-z0-9_]{22,}",
    rb"sk-ant-[A-Za-z0-9_\-]{20,}",
    rb"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
    rb"AKIA[0-9A-Z]{16}",
    rb"xox[abprs]-[A-Za-z0-9\-]{10,}",
    rb"glpat-[A-Za-z0-9_\-]{20,}",
    rb"AIza[0-9A-Za-z_\-]{35}",
)
REDACTED = b"[REDACTED]"
_CHUNK = 1 << 16


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of secret-looking variables (GITHUB_TOKEN, ANTHROPIC_API_KEY, ...) long enough
    to be secrets; plain numbers (MAX_THINKING_TOKENS) are not."""
    out = []
    for name, value in env.items():
        if name.endswith("_TOKENS") or not _SECRET_NAME.search(name):
            continue
        if len(value) >= 8 and not value.isdigit():
            out.append(value)
    return sorted(set(out), key=len, reverse=True)


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        words = [re.escape(s.encode()) for s in sorted(set(secrets), key=len, reverse=True) if s]
        self._re = re.compile(b"|".join([*words, *TOKEN_SHAPES]))

    def __call__(self, data: bytes) -> bytes:
        return self._re.sub(REDACTED, data)

    def text(self, text: str) -> str:
        return self(text.encode()).decode("utf-8", "replace")


class CappedLog:
    """A log file that keeps its first part and its last `tail` bytes once it passes `limit`."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = max(limit, 1024)
        self.tail_keep = min(self.limit // 4, 1 << 20)
        self._head_room = self.limit - self.tail_keep
        self._f: IO[bytes] = open(path, "wb")
        self._written = 0
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            room = self._head_room - self._written
            if room > 0:
                head, data = data[:room], data[room:]
                self._f.write(head)
                self._f.flush()
                self._written += len(head)
            if data:
                self._tail += data
                extra = len(self._tail) - self.tail_keep
                if extra > 0:
                    del self._tail[:extra]
                    self._dropped += extra

    @property
    def total(self) -> int:
        return self._written + len(self._tail) + self._dropped

    def close(self) -> None:
        with self._lock:
            if self._dropped:
                self._f.write(f"\n[orchestrator: {self._dropped} bytes cut here; log capped at "
                              f"{self.limit} bytes]\n".encode())
            self._f.write(bytes(self._tail))
            self._f.close()


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None      # negative: ended by that signal
    killed: str                # "" or how the orchestrator ended it: timeout, idle_timeout, interrupted
    duration_s: float
    stdout: str                # what verbose.jsonl holds (scrubbed, capped)
    stderr: str                # scrubbed, the last 1 MiB at most
    pid: int
    leftovers: int             # processes still in the group after the agent exited, then killed


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def kill_group(pgid: int, grace_s: float, *, leader: subprocess.Popen[bytes] | None = None) -> int:
    """SIGTERM the group, wait up to grace_s for it to go, SIGKILL what is left. Returns how many
    processes were still there when it started."""
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


def _display_argv(argv: Sequence[str]) -> str:
    return shlex.join(w if len(w) <= 200 else f"<{len(w)} chars>" for w in argv)


def run_agent_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_dir: Path,
                      stream: str = "auto", timeout_s: float, idle_timeout_s: float,
                      kill_grace_s: float = 10, heartbeat_s: float = 60,
                      max_log_bytes: int = 50 << 20, secrets: Iterable[str] = (),
                      stop: threading.Event | None = None,
                      monitor_fields: Mapping[str, str] | None = None) -> ProcessResult:
    """Run argv in its own process group with stdin closed, log it into log_dir, and end it
    (the whole group) on timeout, idle timeout or `stop`. A missing executable is a UserError."""
    log_dir.mkdir(parents=True, exist_ok=True)
    scrub = Scrubber(secrets)
    verbose = CappedLog(log_dir / "verbose.jsonl", max_log_bytes)
    output = CappedLog(log_dir / "output.log", max_log_bytes)
    monitor = CappedLog(log_dir / "monitor.log", max(1 << 20, max_log_bytes // 50))

    def note(text: str) -> None:
        monitor.write(scrub(f"{_now()} {text}\n".encode()))

    fields = " ".join(f"{k}={v}" for k, v in (monitor_fields or {}).items())
    note(f"start {fields} cwd={cwd} timeout={timeout_s:g}s idle_timeout={idle_timeout_s:g}s "
         f"argv={_display_argv(argv)}".replace("  ", " "))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)  # setsid: own group, pgid == pid
    except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
        note(f"failed to start: {e}")
        for log in (verbose, output, monitor):
            log.close()
        what = "command not found (is it installed and on PATH?)" \
            if isinstance(e, FileNotFoundError) and Path(cwd).is_dir() else str(e.strerror or e)
        raise UserError(f"{argv[0]}: {what}") from None
    pgid = proc.pid
    note(f"running pid={proc.pid} pgid={pgid}")

    last_output = [time.monotonic()]
    fmt = [stream]
    stderr_buf = bytearray()
    out_lock = threading.Lock()

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.readline(_CHUNK), b""):  # type: ignore[union-attr]
            last_output[0] = time.monotonic()
            clean = scrub(chunk)
            verbose.write(clean)
            lines, fmt[0] = render_line(clean.decode("utf-8", "replace"), fmt[0])
            if lines:
                with out_lock:
                    output.write(("\n".join(lines) + "\n").encode())

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.readline(_CHUNK), b""):  # type: ignore[union-attr]
            last_output[0] = time.monotonic()
            clean = scrub(chunk)
            stderr_buf.extend(clean)
            if len(stderr_buf) > 2 << 20:
                del stderr_buf[: len(stderr_buf) - (1 << 20)]
            with out_lock:
                output.write(b"[stderr] " + clean.rstrip(b"\n") + b"\n")

    readers = [threading.Thread(target=pump_stdout, daemon=True, name=f"agent-stdout-{proc.pid}"),
               threading.Thread(target=pump_stderr, daemon=True, name=f"agent-stderr-{proc.pid}")]
    for t in readers:
        t.start()

    killed = ""
    next_beat = started + heartbeat_s
    while True:
        try:
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if stop is not None and stop.is_set():
            killed, why = "interrupted", "stop requested"
        elif now - started >= timeout_s:
            killed, why = "timeout", f"wall-clock limit {timeout_s:g}s reached"
        elif now - last_output[0] >= idle_timeout_s:
            killed, why = "idle_timeout", f"no output for {now - last_output[0]:.0f}s"
        if killed:
            note(f"kill reason={killed} ({why}): SIGTERM to group {pgid}, SIGKILL after {kill_grace_s:g}s")
            kill_group(pgid, kill_grace_s, leader=proc)
            proc.wait()
            break
        if now >= next_beat:
            note(f"heartbeat elapsed={now - started:.0f}s stdout={verbose.total}B "
                 f"stderr={len(stderr_buf)}B idle={now - last_output[0]:.0f}s")
            next_beat = now + heartbeat_s
    duration = time.monotonic() - started
    exit_code = proc.returncode
    # the agent is gone; anything it left running in its group goes too
    leftovers = kill_group(pgid, kill_grace_s)
    if leftovers:
        note(f"killed {leftovers} leftover process(es) in group {pgid}")
    for t in readers:
        t.join(timeout=5)
    note(f"exit code={exit_code} duration={duration:.1f}s stdout={verbose.total}B "
         f"stderr={len(stderr_buf)}B" + (f" killed={killed}" if killed else ""))
    verbose.close()
    output.close()
    # monitor.log stays open for the session's classification line: closed and reopened
    monitor.close()
    stdout = (log_dir / "verbose.jsonl").read_text(encoding="utf-8", errors="replace")
    return ProcessResult(exit_code=exit_code, killed=killed, duration_s=duration, stdout=stdout,
                         stderr=bytes(stderr_buf).decode("utf-8", "replace"), pid=proc.pid,
                         leftovers=leftovers)


def append_monitor(log_dir: Path, text: str, secrets: Iterable[str] = ()) -> None:
    """One more timestamped line in monitor.log (the session's budget and outcome lines)."""
    with open(log_dir / "monitor.log", "ab") as f:
        f.write(Scrubber(secrets)(f"{_now()} {text}\n".encode()))
