"""`orchestrator job plan|agent|report`: the GitHub workflow's jobs (action.yml calls them; see
docs/github.md). Thin: the work is orchestrator/coordinator/jobs.py (claims and results
through git as compare-and-swap) and, for the report's GitHub side, orchestrator/forge/report.py.
Step outputs go to $GITHUB_OUTPUT."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from orchestrator.config import Config
from orchestrator.coordinator import jobs
from orchestrator.coordinator.loop import plan_lines
from orchestrator.forge.local import LocalForge
from orchestrator.github_action import write_outputs
from orchestrator.tasks.store import TaskStore


def _branch(repo: Path) -> jobs.Branch:
    name = os.environ.get("GITHUB_REF_NAME", "")
    if not name:
        from orchestrator import gitops
        name = gitops.current_branch(repo)
    return jobs.Branch(repo.resolve(), name)


def plan(repo: Path, stores: Callable[[], TaskStore], config: Config, *, actor: str, cycle: int,
         chain_id: str, dry_run: bool) -> int:
    forge = LocalForge(None)
    result = jobs.plan_job(_branch(repo), stores, config, forge, actor, dry_run=dry_run)
    for line in plan_lines(result.plan, dry_run=dry_run):
        print(line)
    if dry_run:
        from orchestrator.commands.report import cycle_info
        from orchestrator.forge.actions import ActionsEnv
        from orchestrator.forge.report import preview
        env = ActionsEnv.from_environ()
        info = cycle_info(env, cycle=cycle, chain_id=chain_id or None, artifacts=(),
                          environ=os.environ)
        for line in preview(repo, stores(), config, env, info):
            print(line)
    matrix = result.matrix(config)
    write_outputs({"matrix": json.dumps(matrix, separators=(",", ":")),
                   "launches": str(len(result.claimed)), "ready": str(len(result.plan.ready)),
                   "max-parallel": str(config.dispatch.max_parallel), "base": result.base,
                   "cycle": str(cycle)})
    print(f"plan: cycle {cycle}: claimed {len(result.claimed)} task(s) at {result.base[:12]}"
          + (" (dry run: nothing claimed, pushed or posted)" if dry_run else ""))
    return 0


def agent(repo: Path, store: TaskStore, config: Config, *, task_id: str, attempt: int,
          budget: str, kind: str, result_dir: Path, config_path: str | None,
          store_kind: str | None) -> int:
    record = jobs.agent_job(repo, store, config, task_id=task_id, attempt=attempt, budget=budget,
                            kind=kind, result_dir=result_dir, config_path=config_path,
                            store_kind=store_kind)
    o = record.outcome
    print(f"agent: {task_id} attempt {attempt}: {o.kind}"
          + (f" ({o.subclass})" if o.subclass else "") + (f": {o.digest}" if o.digest else ""))
    return 0  # a failed agent is a result like any other; the report job judges it


def report(repo: Path, stores: Callable[[], TaskStore], config: Config, *, actor: str,
           task_id: str, attempt: int, result_dir: Path, agent_job: str, cycle: int,
           chain_id: str, token: str | None) -> int:
    from orchestrator.commands.report import cycle_info
    from orchestrator.forge.actions import ActionsEnv
    from orchestrator.forge.github import GitHubApi
    from orchestrator.forge.report import report_to_github
    from orchestrator.forge.state import load_state

    branch = _branch(repo)
    forge = LocalForge(None)
    record = jobs.load_result(result_dir, task_id=task_id, attempt=attempt, agent_job=agent_job)
    applied = jobs.report_job(branch, stores, config, forge, actor, record)
    for a in applied:
        print(f"report: {a.task_id} attempt {a.decision.attempt}: {a.record.decision}"
              + (f", {len(a.landed)} commit(s) landed" if a.landed else ""))
    env = ActionsEnv.from_environ()
    # the artifact the workflow uploaded for this leg (orchestrator-task.yml names it so)
    artifact = f"orchestrator-result-{task_id}-{attempt}"
    info = cycle_info(env, cycle=cycle, chain_id=chain_id or None, artifacts=(artifact,),
                      environ=os.environ)
    api = GitHubApi(env, token or env.token)
    result = report_to_github(repo, stores(), config, env, api, info, dispatch=True,
                              environ=os.environ)
    state = repo / config.github.state_file
    if state.is_file():  # the forge's cache travels with the branch (last writer wins)
        jobs.commit_and_push(branch, {config.github.state_file: state.read_text()},
                             "orchestrator: status comment state", event=forge.event,
                             tries=jobs.push_tries(config.dispatch.max_parallel))
        saved = load_state(state)
        if saved.target and saved.comment_id and env.repository:
            write_outputs({"comment-url": f"{env.server_url}/{env.repository}/issues/"
                                          f"{saved.target}#issuecomment-{saved.comment_id}",
                           "cycle": str(cycle)})
    return result.exit_code
