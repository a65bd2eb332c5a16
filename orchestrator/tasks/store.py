"""The task-queue port: what the orchestrator needs from a beads store.

Two adapters implement it: `jsonl.JsonlStore` (the embedded default, `.beads/issues.jsonl`) and
`bd.BdStore` (the real `bd` CLI); both import the shared types from here, and
`tasks.factory.open_store` picks one. Argument names and semantics follow bd's flags.
"""
from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.model import DEFAULT_PRIORITY, Comment, IssueType, Task


@dataclass(frozen=True)
class TaskChanges:
    """`bd update` flags; None (or empty) leaves a field as it is."""

    status: str | None = None
    title: str | None = None
    description: str | None = None
    design: str | None = None
    acceptance_criteria: str | None = None
    notes: str | None = None
    append_notes: str | None = None
    assignee: str | None = None
    priority: int | None = None
    issue_type: str | None = None
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()
    set_labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NewTask:
    """`bd create` flags. deps: 'id', 'type:id' or 'blocks:id' (the new task blocks id)."""

    title: str
    issue_type: str = IssueType.TASK
    priority: int = DEFAULT_PRIORITY
    description: str = ""
    design: str = ""
    acceptance_criteria: str = ""
    notes: str = ""
    assignee: str = ""
    labels: tuple[str, ...] = ()
    parent: str | None = None
    deps: tuple[str, ...] = ()
    id: str | None = None


@dataclass(frozen=True)
class CloseResult:
    closed: tuple[Task, ...]
    refused: tuple[str, ...]  # one message per refused ID, as bd prints them
    missing: tuple[str, ...] = ()         # unknown IDs (also in `refused` as "no task ID")
    already_closed: tuple[str, ...] = ()  # closed before: unchanged, old reason kept (bd 1.0.5)


class TaskStore(Protocol):
    # `builtins.list`: inside this class `list` is the method below
    kind: str  # "jsonl" or "bd"
    task_cmd: str  # how an agent updates tasks: "bd" or "orchestrator task"

    def all(self) -> Mapping[str, Task]: ...  # read-only: the jsonl store shares it between reads
    def list(self, *, statuses: Sequence[str] = ..., assignee: str | None = ...,
             labels: Sequence[str] = ..., issue_type: str | None = ...,
             parent: str | None = ...) -> builtins.list[Task]: ...
    def ready(self, filter: ReadyFilter = ..., *, sort: str = ...,
              limit: int = ...) -> builtins.list[Task]: ...
    def show(self, ids: Sequence[str]) -> builtins.list[Task]: ...
    def create(self, new: NewTask, *, actor: str) -> Task: ...
    def update(self, ids: Sequence[str], changes: TaskChanges, *,
               actor: str) -> builtins.list[Task]: ...
    def claim(self, task_id: str, *, actor: str) -> Task: ...
    def close(self, ids: Sequence[str], *, reason: str, force: bool = ..., actor: str) -> CloseResult: ...
    def dep_add(self, issue_id: str, depends_on_id: str, *, dep_type: str = ..., actor: str) -> None: ...
    def dep_remove(self, issue_id: str, depends_on_id: str, *, actor: str) -> None: ...
    def comment(self, task_id: str, text: str, *, author: str) -> Comment: ...
    def sync_pull(self) -> None: ...
    def sync_push(self) -> None: ...

