"""`orchestrator report`: the workflow's last job. After the cycle's results are applied to the
store, put the status on GitHub (one comment, edited in place), announce escalations and, with
--dispatch, dispatch the next cycle unless the queue is drained or a guard stops the chain."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.github import GitHubApi, Tuning
from orchestrator.forge.report import CycleInfo, new_chain_id, report_to_github
from orchestrator.tasks.store import TaskStore


def cycle_info(env: ActionsEnv, *, cycle: int | None, chain_id: str | None,
               artifacts: Sequence[str], environ: Mapping[str, str]) -> CycleInfo:
    """--cycle/--chain-id, else ORCHESTRATOR_CYCLE/ORCHESTRATOR_CHAIN_ID (the workflow maps its
    inputs there rather than into a `run:` line), else cycle 1 of a new chain."""
    if cycle is None:
        text = environ.get("ORCHESTRATOR_CYCLE", "") or "1"
        if not text.isdigit() or int(text) < 1:
            raise UserError(f"ORCHESTRATOR_CYCLE must be a positive integer, got {text!r}")
        cycle = int(text)
    if cycle < 1:
        raise UserError(f"--cycle must be at least 1, got {cycle}")
    chain = chain_id or environ.get("ORCHESTRATOR_CHAIN_ID", "") or new_chain_id(env)
    return CycleInfo(cycle=cycle, chain_id=chain[:100], artifacts=tuple(artifacts))


def report(repo: Path, store: TaskStore, config: Config, *, dispatch: bool, cycle: int | None,
           chain_id: str | None, artifacts: Sequence[str], token: str | None,
           apply_results: Callable[[], object] | None = None,
           tuning: Tuning | None = None) -> int:
    env = ActionsEnv.from_environ()
    info = cycle_info(env, cycle=cycle, chain_id=chain_id, artifacts=artifacts,
                      environ=os.environ)
    api = GitHubApi(env, token or env.token, tuning=tuning or Tuning())
    result = report_to_github(repo, store, config, env, api, info, dispatch=dispatch,
                              apply_results=apply_results, environ=os.environ)
    return result.exit_code
