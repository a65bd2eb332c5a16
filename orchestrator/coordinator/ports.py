"""What every coordinator step works against: one repository's store, config, forge and leases."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config import Config
from orchestrator.coordinator.graph_memo import GraphMemo
from orchestrator.forge.local import Forge
from orchestrator.leases import Leases
from orchestrator.tasks.store import TaskStore


@dataclass(frozen=True)
class Ports:
    repo: Path                      # resolved
    store: TaskStore
    config: Config
    forge: Forge
    actor: str                      # who claims and records (bd's --actor)
    leases: Leases
    git: bool                       # the repository is a git repository (agents get worktrees)
    event: Callable[[str], None]    # one line of what happened (kept for the status view)
    graphs: GraphMemo = field(default_factory=GraphMemo, compare=False)  # per queue version
