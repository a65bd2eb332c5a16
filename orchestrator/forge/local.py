"""Where status goes when running locally: a Markdown file (replaced atomically) and plain
lines on the terminal. A GitHub forge implements the same small protocol."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from orchestrator.fileio import write_atomic


class Forge(Protocol):
    def event(self, line: str) -> None: ...                  # one thing that happened
    def report_status(self, markdown: str) -> None: ...      # the whole status view
    def alert(self, task_id: str, message: str) -> None: ... # a human is needed


class LocalForge:
    """Status to `status_file`, events and alerts as lines on `out` (stdout by default).
    `echo` may wrap the printing (the run command's live progress line uses it)."""

    def __init__(self, status_file: Path | None, *, out: TextIO | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self.status_file = status_file
        self.out = out or sys.stdout
        self._echo = echo
        self._lock = threading.Lock()
        self.alerts: list[str] = []

    def _print(self, line: str) -> None:
        with self._lock:
            if self._echo is not None:
                self._echo(line)
            else:
                print(line, file=self.out, flush=True)

    def event(self, line: str) -> None:
        self._print(line)

    def report_status(self, markdown: str) -> None:
        if self.status_file is not None:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.status_file, markdown)

    def alert(self, task_id: str, message: str) -> None:
        self.alerts.append(task_id)
        bar = "!" * 72
        for line in (bar, f"!! HUMAN NEEDED: {task_id}", *(f"!! {m}" for m in message.splitlines()),
                     bar):
            self._print(line)
