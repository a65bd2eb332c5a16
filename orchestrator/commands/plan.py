"""`orchestrator plan`: the next cycle's decisions, without side effects."""
from __future__ import annotations

import sys
from collections.abc import Sequence

from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.loop import plan_json, plan_lines
from orchestrator.dispatch.policy import LoopState


def warn(problems: Sequence[str]) -> None:
    """What would stop `run` or a real `cycle` from launching; the plan is printed anyway."""
    for problem in problems:
        print(f"orchestrator: warning: {problem} (run and cycle would refuse)", file=sys.stderr)


def plan(coord: Coordinator, *, as_json: bool) -> int:
    warn(coord.preflight(coord.store.all(), launching=False))
    p = coord.plan(LoopState())
    if as_json:
        print(plan_json(p))
    else:
        for line in plan_lines(p, dry_run=False):
            print(line)
    return 0
