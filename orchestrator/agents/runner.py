"""Run one agent process: its own process group, a wall-clock and an idle timeout that end the
whole group (SIGTERM, then SIGKILL), and three log files written while it runs:

- `verbose.jsonl`: the raw stdout stream, byte for byte (secrets scrubbed);
- `output.log`: a readable transcript of it, plus stderr lines marked `[stderr]`;
- `monitor.log`: start, heartbeats, kill, exit, duration (the session adds budget and outcome).

Every log is capped (`agent.log_max_mb`): past the cap the middle is dropped and the start and the
last part are kept, so the final `result` event still reaches the classifier.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from orchestrator import runlog
from orchestrator.agents.transcript import render_line
from orchestrator.errors import UserError
from orchestrator.process import stop_group
from orchestrator.secrets import REDACTED as REDACTED_TEXT
from orchestrator.secrets import scrub_pattern
from orchestrator.tasks.model import now_rfc3339

# Environment variables whose values are secrets: scrubbed from every log.
_SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASS|PAT|API_KEY|APIKEY|ACCESS_KEY|"
                          r"PRIVATE_KEY|CREDENTIALS?|AUTH|KEY)(_|$)", re.IGNORECASE)
REDACTED = REDACTED_TEXT.encode()
_CHUNK = 1 << 16
_DRAIN_S = 5.0  # how long the pipes are read after the group is gone (an escaped process may hold them)
_MAX_LINE = 16 << 20  # longest stdout line kept whole before it is logged in pieces


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
        self._re = scrub_pattern(secrets)

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
            if self._f.closed:  # a process that escaped the group still writing to the pipe
                return
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
    monitor = CappedLog(log_dir / runlog.MONITOR, max(1 << 20, max_log_bytes // 50))

    def note(text: str) -> None:
        monitor.write(scrub(f"{now_rfc3339()} {text}\n".encode()))

    note(runlog.start_line({**(monitor_fields or {}), "cwd": str(cwd), "timeout": f"{timeout_s:g}s",
                            "idle_timeout": f"{idle_timeout_s:g}s"}, _display_argv(argv)))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)  # setsid: own group, pgid == pid
    except OSError as e:  # not found, not executable, no #! line (ENOEXEC), argv too long
        note(f"failed to start: {e}")
        for log in (verbose, output, monitor):
            log.close()
        what = "command not found (is it installed and on PATH?)" \
            if isinstance(e, FileNotFoundError) and Path(cwd).is_dir() else str(e.strerror or e)
        raise UserError(f"{argv[0]}: {what}") from None
    pgid = proc.pid
    note(runlog.running_line(proc.pid, pgid))

    last_output = [time.monotonic()]
    fmt = [stream]
    stderr_buf = bytearray()
    out_lock = threading.Lock()

    def whole_lines(pipe: IO[bytes]) -> Iterator[bytes]:
        """Scrubbed lines of a pipe, whole: a stream-json line can be far longer than one read
        (a big tool result); scrubbed and rendered in pieces, a secret across the cut would
        survive and the transcript would get raw JSON fragments."""
        line = bytearray()
        for chunk in iter(lambda: pipe.readline(_CHUNK), b""):
            last_output[0] = time.monotonic()
            line += chunk
            if chunk.endswith(b"\n") or len(line) >= _MAX_LINE:
                yield scrub(bytes(line))
                line.clear()
        if line:  # a last line without a newline (a killed agent)
            yield scrub(bytes(line))

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for clean in whole_lines(proc.stdout):
            verbose.write(clean)
            lines, fmt[0] = render_line(clean.decode("utf-8", "replace"), fmt[0])
            if lines:
                with out_lock:
                    output.write(("\n".join(lines) + "\n").encode())

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for clean in whole_lines(proc.stderr):
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
            stop_group(pgid, kill_grace_s, leader=proc)
            proc.wait()
            break
        if now >= next_beat:
            note(f"heartbeat elapsed={now - started:.0f}s stdout={verbose.total}B "
                 f"stderr={len(stderr_buf)}B idle={now - last_output[0]:.0f}s")
            next_beat = now + heartbeat_s
    duration = time.monotonic() - started
    exit_code = proc.returncode
    # the agent is gone; anything it left running in its group goes too
    leftovers = stop_group(pgid, kill_grace_s)
    if leftovers:
        note(f"killed {leftovers} leftover process(es) in group {pgid}")
    drain_until = time.monotonic() + _DRAIN_S  # one deadline for both readers
    for t in readers:
        t.join(timeout=max(0.0, drain_until - time.monotonic()))
    if any(t.is_alive() for t in readers):
        note("output pipe still held open by a process outside the group (daemonized?); "
             "stopped reading it")
    note(runlog.exit_line(exit_code, duration, f"stdout={verbose.total}B stderr={len(stderr_buf)}B"
                          + (f" killed={killed}" if killed else "")))
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
    with open(log_dir / runlog.MONITOR, "ab") as f:
        f.write(Scrubber(secrets)(f"{now_rfc3339()} {text}\n".encode()))
