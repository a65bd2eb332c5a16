"""`orchestrator cycle`: one dispatch cycle (reconcile, claim, launch, wait, apply, report).
With --dry-run, what it would claim, launch and comment, changing nothing."""
from __future__ import annotations

import json
from dataclasses import asdict

from orchestrator.dispatch.cycle import Coordinator, plan_json, plan_lines, run_loop, summary_lines
from orchestrator.dispatch.history import AttemptRecord, render
from orchestrator.dispatch.policy import RELEASE, LoopState


def cycle(coord: Coordinator, *, dry_run: bool, as_json: bool, task: str | None = None) -> int:
    coord.only = task
    if dry_run:
        coord.preflight(coord.store.all(), launching=False)
        p = coord.plan(LoopState())
        if as_json:
            print(plan_json(p))
            return 0
        for line in plan_lines(p, dry_run=True):
            print(line)
        for r in p.reclaim:
            text = render(AttemptRecord(attempt=r.attempt, kind="interrupted", decision=RELEASE,
                                        digest=f"Reclaimed: {r.reason}."))
            print(f"would comment on {r.task_id}:\n  " + text.replace("\n", "\n  "))
        return 0
    summary = run_loop(coord, once=True)
    if as_json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        for line in summary_lines(summary):
            coord.forge.event(line)
    return summary.exit_code
