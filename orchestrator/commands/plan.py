"""`orchestrator plan`: the next cycle's decisions, without side effects."""
from __future__ import annotations

from orchestrator.dispatch.cycle import Coordinator, plan_json, plan_lines
from orchestrator.dispatch.policy import LoopState


def plan(coord: Coordinator, *, as_json: bool) -> int:
    coord.preflight(coord.store.all(), launching=False)
    p = coord.plan(LoopState())
    if as_json:
        print(plan_json(p))
    else:
        for line in plan_lines(p, dry_run=False):
            print(line)
    return 0
