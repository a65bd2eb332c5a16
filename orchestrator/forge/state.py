"""What the GitHub report remembers between cycles, in one small JSON file the report job
commits with the queue (default `.beads/orchestrator-github.json`, config `github.state_file`).

It is a cache and a set of counters, never the truth about tasks (the store is): losing it costs
a few extra API calls to find the comment again and restarts the loop-guard counters."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError
from orchestrator.fileio import write_atomic


@dataclass(frozen=True)
class Snapshot:
    """The few numbers progress is judged by, taken at the end of each report."""

    closed: int = 0
    total: int = 0
    handoffs: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ForgeState:
    queue: str = ""                    # the queue identity the cache belongs to
    target: int = 0                    # issue/PR number the status comment is on
    comment_id: int = 0
    listed_at: str = ""                # when comments were last listed (RFC 3339, UTC)
    escalations: tuple[str, ...] = ()  # "TASK@ATTEMPT" already announced
    chain_id: str = ""
    cycle: int = 0
    cycles_since_close: int = 0
    idle_cycles: int = 0
    chain_cost_base: float = 0.0       # total recorded cost when the chain started
    last: Snapshot | None = None

    def for_queue(self, queue: str) -> ForgeState:
        """The cached ids only hold for the queue they were found for."""
        return self if self.queue == queue else ForgeState(queue=queue)


MAX_ESCALATIONS_KEPT = 500  # the comment markers are the long-term record; this is a cache


def load_state(path: Path) -> ForgeState:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ForgeState()
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); delete it to start over") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object; delete it to start over")
    known = {f.name for f in fields(ForgeState)}
    kwargs = {k: v for k, v in data.items() if k in known}
    try:
        if kwargs.get("last") is not None:
            kwargs["last"] = Snapshot(**kwargs["last"])
        kwargs["escalations"] = tuple(kwargs.get("escalations", ()))
        return ForgeState(**kwargs)
    except TypeError as e:
        raise UserError(f"{path}: unexpected content ({e}); delete it to start over") from None


def save_state(path: Path, state: ForgeState) -> None:
    state = replace(state, escalations=state.escalations[-MAX_ESCALATIONS_KEPT:])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(asdict(state), indent=2, sort_keys=True) + "\n")

