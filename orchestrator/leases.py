"""Leases: a file per running task (pid, host, expiry), taken before the store's claim, so two
coordinators never run the same task at once and a claim whose run is gone is found and
reclaimed as an interrupted attempt."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from orchestrator import gitops
from orchestrator.fileio import locked, write_atomic
from orchestrator.process import pid_alive
from orchestrator.tasks.model import now_rfc3339


def lease_dir(repo: Path) -> Path:
    """Inside the git directory when there is one (invisible to `git status`), else .beads/."""
    common = gitops.git_common_dir(repo)
    return (common / "orchestrator" / "leases") if common else (repo / ".beads" / "leases")


@dataclass(frozen=True)
class Lease:
    task_id: str
    pid: int
    host: str
    started: str
    expires: str

    def alive(self, now: datetime) -> bool:
        expires = datetime.fromisoformat(self.expires.replace("Z", "+00:00"))
        if expires <= now:
            return False
        return self.host != socket.gethostname() or pid_alive(self.pid)

    @property
    def here(self) -> bool:
        return self.host == socket.gethostname()


class Leases:
    """One JSON file per running task, created exclusively under a directory lock."""

    def __init__(self, root: Path, ttl: timedelta) -> None:
        self.root = root
        self.ttl = ttl

    def _path(self, task_id: str) -> Path:
        return self.root / f"{task_id}.json"

    def read(self, task_id: str) -> Lease | None:
        try:
            data = json.loads(self._path(task_id).read_text())
            return Lease(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def live(self, now: datetime | None = None) -> set[str]:
        now = now or datetime.now(timezone.utc)
        if not self.root.is_dir():
            return set()
        out = set()
        for p in self.root.glob("*.json"):
            lease = self.read(p.stem)
            if lease is not None and lease.alive(now):
                out.add(lease.task_id)
        return out

    def acquire(self, task_id: str) -> bool:
        """Take the lease unless a live one exists (a stale one is replaced)."""
        now = datetime.now(timezone.utc)
        with locked(self.root / ".lock"):
            old = self.read(task_id)
            if old is not None and old.alive(now):
                return False
            lease = Lease(task_id, os.getpid(), socket.gethostname(), now_rfc3339(now),
                          now_rfc3339(now + self.ttl))
            write_atomic(self._path(task_id), json.dumps(asdict(lease)))
            return True

    def release(self, task_id: str) -> None:
        with locked(self.root / ".lock"):
            lease = self.read(task_id)
            if lease is None or lease.pid == os.getpid():
                self._path(task_id).unlink(missing_ok=True)

    def drop_stale(self, task_id: str) -> None:
        with locked(self.root / ".lock"):
            lease = self.read(task_id)
            if lease is not None and not lease.alive(datetime.now(timezone.utc)):
                self._path(task_id).unlink(missing_ok=True)
