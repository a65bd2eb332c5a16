"""`orchestrator run`: the local coordinator loop until nothing is ready or a guard stops it.

On a terminal a live line shows done/total, running, blocked and elapsed time under the event
lines; otherwise only plain event lines are printed. Exit codes: `coordinator.loop.EXIT_*`,
described in docs/coordinator.md ("Exit codes")."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.loop import run_loop, summary_lines, terminate_as_interrupt
from orchestrator.tasks import graph
from orchestrator.tasks.model import Status


class Progress:
    """Event lines, plus (on a TTY) one status line that is redrawn below them."""

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self.out = out
        self.live = live
        self.started = time.monotonic()
        self.coord: Coordinator | None = None
        self._line = ""
        self._lock = threading.Lock()

    def _status(self) -> str:
        if self.coord is None:
            return ""
        tasks = self.coord.store.all()
        total = len(tasks)
        done = sum(1 for t in tasks.values() if t.status == Status.CLOSED)
        blocked = len(graph.blocked_by(tasks))
        running = ", ".join(sorted(self.coord.running)) or "-"
        elapsed = int(time.monotonic() - self.started)
        return (f"[{done}/{total} done | running: {running} | blocked: {blocked} | "
                f"{elapsed // 60:d}:{elapsed % 60:02d}]")

    def echo(self, line: str) -> None:
        with self._lock:
            if self.live:
                self.out.write("\r\033[K")
            self.out.write(line + "\n")
            if self.live:
                self._line = self._status()
                self.out.write(self._line)
            self.out.flush()

    def tick(self) -> None:
        if not self.live:
            return
        with self._lock:
            self._line = self._status()
            self.out.write("\r\033[K" + self._line)
            self.out.flush()

    def finish(self) -> None:
        if self.live:
            self.out.write("\r\033[K")
            self.out.flush()


def run(coord: Coordinator, progress: Progress) -> int:
    progress.coord = coord
    try:
        with terminate_as_interrupt():
            summary = run_loop(coord, tick=progress.tick)
    finally:
        progress.finish()
    for line in summary_lines(summary):
        print(line, file=progress.out, flush=True)
    return summary.exit_code


def is_tty(out: TextIO = sys.stdout) -> bool:
    return bool(getattr(out, "isatty", lambda: False)())
