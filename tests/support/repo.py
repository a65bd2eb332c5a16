"""Test helpers for real git repositories, bd export records and queue files."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def init_git_repo(repo: Path) -> Path:
    """A real, empty git repository (no commit yet) with an identity, on `main`."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.invalid")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "commit.gpgsign", "false")
    return repo


def task_record(tid: str, *, title: str | None = None, status: str = "open", priority: int = 2,
                issue_type: str = "task", created_at: str = "2026-05-29T08:00:00Z",
                blocks_on: Iterable[str] = (), parent: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """A bd export record; `blocks_on` are the IDs this task depends on."""
    deps = [{"issue_id": tid, "depends_on_id": parent, "type": "parent-child", "created_at": created_at,
             "metadata": "{}"}] if parent else []
    deps += [{"issue_id": tid, "depends_on_id": b, "type": "blocks", "created_at": created_at,
              "metadata": "{}"} for b in blocks_on]
    rec: dict[str, Any] = {"_type": "issue", "id": tid, "title": title or f"Task {tid}",
                           "status": status, "priority": priority, "issue_type": issue_type,
                           "created_at": created_at, "updated_at": created_at}
    if status == "closed":
        rec["closed_at"] = created_at
    if deps:
        rec["dependencies"] = deps
    rec.update(extra)
    return rec


def write_queue(repo: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path = repo / ".beads" / "issues.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    return path


class BdStub:
    """A `bd` on PATH that answers from tests/fixtures/bd (see tests/bd_stub/bd)."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.answers = root / "answers"
        self.log = root / "argv.log"

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def answer(self, key: str, *, stdout: str | None = None, stderr: str | None = None,
               rc: int | None = None) -> None:
        """Override the recorded answer for one command key (e.g. "update", "dep_add")."""
        for ext, value in (("stdout", stdout), ("stderr", stderr), ("rc", rc)):
            if value is not None:
                (self.answers / f"{key}.{ext}").write_text(str(value))


