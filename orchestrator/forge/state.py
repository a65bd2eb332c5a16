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


def merge(ours: ForgeState, theirs: ForgeState) -> ForgeState:
    """Two jobs' caches written at once (overlapping runs; the branch keeps `theirs`): the
    escalations either announced, the comment either found (the branch's first: the one the
    reports edit), and the counters of whichever saw the later cycle of the same chain."""
    if theirs.queue != ours.queue:
        return ours
    later = theirs if theirs.chain_id == ours.chain_id and theirs.cycle > ours.cycle else ours
    found = theirs if theirs.target and theirs.comment_id else ours
    seen = dict.fromkeys((*theirs.escalations, *ours.escalations))
    return replace(later, target=found.target, comment_id=found.comment_id,
                   escalations=tuple(seen))


def merge_text(ours: ForgeState, theirs_text: str | None) -> str:
    """`ours` merged into the state file's text at the branch's tip (None: no file there)."""
    theirs = ForgeState()
    if theirs_text:
        try:
            theirs = _parse(json.loads(theirs_text), "the branch's state file")
        except (ValueError, UserError):
            theirs = ForgeState()   # a cache: a broken one is replaced
    return dump(merge(ours, theirs))


MAX_ESCALATIONS_KEPT = 500  # the comment markers are the long-term record; this is a cache


def load_state(path: Path) -> ForgeState:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ForgeState()
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); delete it to start over") from None
    return _parse(data, str(path))


def _parse(data: Any, path: str) -> ForgeState:
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


def dump(state: ForgeState) -> str:
    state = replace(state, escalations=state.escalations[-MAX_ESCALATIONS_KEPT:])
    return json.dumps(asdict(state), indent=2, sort_keys=True) + "\n"


def save_state(path: Path, state: ForgeState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dump(state))

