"""Which task-store adapter a repository gets (`--store auto|bd|jsonl`)."""
from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.tasks.bd import BdStore
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.store import TaskStore


def has_bd_database(repo: Path) -> bool:
    """bd 1.x keeps Dolt data in .beads/embeddeddolt (embedded) or .beads/dolt (server);
    metadata.json marks a bd-initialised repo on a fresh clone."""
    beads = repo / ".beads"
    return any((beads / name).exists() for name in ("embeddeddolt", "dolt", "metadata.json"))


def open_store(repo: Path, config: Config, kind: str | None = None) -> TaskStore:
    """--store auto|bd|jsonl: auto is bd when bd is on PATH and the repo has a bd database."""
    kind = kind or config.store
    if kind == "auto":
        kind = "bd" if shutil.which(config.bd.path) and has_bd_database(repo) else "jsonl"
    if kind == "bd":
        return BdStore(repo, config.bd)
    if kind == "jsonl":
        return JsonlStore(repo / config.jsonl.path, prefix=config.jsonl.prefix)
    raise UserError(f"unknown store {kind!r} (expected auto, bd or jsonl)")
