"""Attempt history, kept on the task itself as comments, so `bd show`, any later cycle and any
runner see the same story (the status comment is only a view).

Each attempt the coordinator judged adds one comment: a human first line, the digest, the log
location, and a last line `<!-- orchestrator:attempt {json} -->` that this module parses back.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.tasks.model import Task

MARKER = "<!-- orchestrator:attempt "


@dataclass(frozen=True)
class AttemptRecord:
    attempt: int            # 1-based count of tries at this task, handoffs included
    kind: str               # outcome class: success, error, context_exhausted, interrupted, ...
    subclass: str = ""      # rate_limit, overloaded, auth, ...
    budget: str = ""        # thinking budget this try ran with
    digest: str = ""        # one paragraph for the next attempt and for humans
    log_dir: str = ""
    at: str = ""            # RFC 3339
    decision: str = ""      # what the policy did next: done, retry, handoff, escalate, wait, ...
    cost_usd: float | None = None


def render(rec: AttemptRecord) -> str:
    what = rec.kind + (f" ({rec.subclass})" if rec.subclass else "")
    head = f"orchestrator: attempt {rec.attempt} ended: {what}"
    if rec.budget:
        head += f", budget {rec.budget}"
    if rec.decision:
        head += f"; next: {rec.decision}"
    lines = [head + "."]
    if rec.digest:
        lines.append(rec.digest)
    if rec.log_dir:
        lines.append(f"Logs: {rec.log_dir}")
    payload = {k: v for k, v in asdict(rec).items() if v not in ("", None)}
    lines.append(f"{MARKER}{json.dumps(payload, sort_keys=True)} -->")
    return "\n".join(lines)


def parse(text: str) -> AttemptRecord | None:
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER) and line.endswith("-->"):
            try:
                data: dict[str, Any] = json.loads(line[len(MARKER):-3])
                return AttemptRecord(**{k: v for k, v in data.items()
                                        if k in AttemptRecord.__dataclass_fields__})
            except (ValueError, TypeError):
                return None
    return None


def read_history(task: Task) -> list[AttemptRecord]:
    """Every recorded attempt on the task, oldest first."""
    out = []
    for c in task.comments:
        rec = parse(c.text)
        if rec is not None:
            out.append(rec)
    return out

