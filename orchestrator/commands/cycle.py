"""`orchestrator cycle`: one dispatch cycle (reconcile, claim, launch, wait, apply, report).
With --dry-run, what it would claim, launch and comment, changing nothing (what would stop a
real cycle, such as a missing agent command or uncommitted changes, is a warning on stderr)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

from orchestrator.commands.plan import warn
from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.loop import (
    EXIT_DRAINED,
    RunSummary,
    plan_json,
    plan_lines,
    run_loop,
    summary_lines,
    terminate_as_interrupt,
)
from orchestrator.dispatch.policy import RELEASE, LoopState
from orchestrator.forge.actions import ActionsEnv
from orchestrator.tasks.history import AttemptRecord, render


def cycle(coord: Coordinator, *, dry_run: bool, as_json: bool, task: str | None = None) -> int:
    coord.only = task
    if dry_run:
        warn(coord.preflight(coord.store.all(), launching=False))
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
        github_preview(coord)
        return 0
    with terminate_as_interrupt():
        summary = run_loop(coord, once=True)
    coord.only = None  # what is still ready in the whole queue, not only --task
    still_ready = len(coord.plan(LoopState()).ready)
    if as_json:
        out: dict[str, Any] = {**asdict(summary), "still_ready": still_ready}
        print(json.dumps(out, indent=2))
    else:
        for line in cycle_summary_lines(summary, still_ready):
            coord.forge.event(line)
    return summary.exit_code


def cycle_summary_lines(summary: RunSummary, still_ready: int) -> list[str]:
    """One cycle drains the queue only when nothing is ready after it: otherwise say what
    happened and how much is left (`run` is the loop that drains)."""
    lines = summary_lines(summary)
    if summary.exit_code == EXIT_DRAINED and still_ready:
        rest = lines[0].split("); ", 1)[1]  # "N cycle(s), Ts"
        lines[0] = (f"summary: {summary.reason}; {still_ready} task(s) still ready "
                    f"(`orchestrator run` drains the queue); {rest}")
    return lines


def github_preview(coord: Coordinator) -> None:
    """On GitHub Actions, a dry run also shows the status comment the report would post and
    the dispatch it would send, from the store and the state file (no request is made)."""
    env = ActionsEnv.from_environ()
    if not (env.in_actions and env.repository):
        return
    from orchestrator.commands.report import cycle_info
    from orchestrator.forge.report import preview
    info = cycle_info(env, cycle=None, chain_id=None, artifacts=(), environ=os.environ)
    for line in preview(coord.repo, coord.store, coord.config, env, info):
        print(line)
