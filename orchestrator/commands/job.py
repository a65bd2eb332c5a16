"""`orchestrator job plan|agent|report`: the GitHub workflow's jobs (action.yml calls them; see
docs/github.md). Thin: the work is orchestrator/coordinator/jobs.py (claims and results
through git as compare-and-swap) and, for the report's GitHub side, orchestrator/forge/report.py.
Step outputs go to $GITHUB_OUTPUT."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.config import Config
from orchestrator.coordinator import jobs
from orchestrator.coordinator.loop import plan_lines
from orchestrator.fileio import write_atomic
from orchestrator.forge.local import LocalForge
from orchestrator.github_action import write_outputs
from orchestrator.gitops import run_git
from orchestrator.tasks.store import TaskStore

if TYPE_CHECKING:
    from orchestrator.forge.actions import ActionsEnv
    from orchestrator.forge.report import CycleInfo
    from orchestrator.forge.state import ForgeState


def branch_of(repo: Path) -> jobs.Branch:
    """The branch the jobs write: the one the run is on (GITHUB_REF_NAME: the dispatched branch,
    or the default branch for a comment), else the checkout's."""
    name = os.environ.get("GITHUB_REF_NAME", "")
    if not name:
        from orchestrator import gitops
        name = gitops.current_branch(repo)
    return jobs.Branch(repo.resolve(), name)


def plan(repo: Path, stores: Callable[[], TaskStore], config: Config, *, actor: str, cycle: int,
         chain_id: str, dry_run: bool, token: str | None = None) -> int:
    from orchestrator.commands.report import cycle_info
    from orchestrator.forge.actions import ActionsEnv
    from orchestrator.forge.report import comment_url, preview
    from orchestrator.forge.state import load_state

    forge = LocalForge(None)
    branch = branch_of(repo)
    result = jobs.plan_job(branch, stores, config, forge, actor, dry_run=dry_run)
    for line in plan_lines(result.plan, dry_run=dry_run):
        print(line)
    env = ActionsEnv.from_environ()
    info = cycle_info(env, cycle=cycle, chain_id=chain_id or None, artifacts=(),
                      environ=os.environ)
    if dry_run:
        for line in preview(repo, stores(), config, env, info):
            print(line)
        url = comment_url(env, load_state(repo / config.github.state_file))
    else:
        url = _ensure_status(branch, stores, config, env, info, token or env.token, forge)
    matrix = result.matrix(config)
    write_outputs({"matrix": json.dumps(matrix, separators=(",", ":")),
                   "launches": str(len(result.claimed)), "ready": str(len(result.plan.ready)),
                   "max-parallel": str(config.dispatch.max_parallel), "base": result.base,
                   "cycle": str(cycle), "comment-url": url})
    print(f"plan: cycle {cycle}: claimed {len(result.claimed)} task(s) at {result.base[:12]}"
          + (" (dry run: nothing claimed, pushed or posted)" if dry_run else ""))
    return 0


def _ensure_status(branch: jobs.Branch, stores: Callable[[], TaskStore], config: Config,
                   env: ActionsEnv, info: CycleInfo, token: str, forge: LocalForge) -> str:
    """Make the status comment now, once per queue, so the legs' reports only edit it; push
    its id in the state file. Returns its URL ('' outside a workflow: no token or repository)."""
    from orchestrator.forge.github import GitHubApi
    from orchestrator.forge.report import comment_url, ensure_status
    from orchestrator.forge.state import load_state, merge_text

    path = branch.repo / config.github.state_file
    if not token or not env.repository:
        return comment_url(env, load_state(path))
    state, changed = ensure_status(branch.repo, stores(), config, env,
                                   GitHubApi(env, token), info)
    if changed:
        jobs.commit_and_push(branch, {config.github.state_file: lambda tip: merge_text(
            state, tip)}, "orchestrator: status comment state", event=forge.event,
            tries=jobs.push_tries(config.dispatch.max_parallel))
    return comment_url(env, state)


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


def claim_escalations(branch: jobs.Branch, config: Config, keys: Sequence[str],
                      forge: LocalForge) -> set[str]:
    """Record `keys` as announced in the branch's state file before announcing them, as a
    compare-and-swap: the keys already there were claimed by another leg's report (both legs
    of a run may see the same new escalation), and are left to it."""
    from orchestrator.forge.state import dump, load_state

    rel = config.github.state_file
    path = branch.repo / rel

    def change(tip: str) -> tuple[set[str], bool]:
        there = load_state(path) if path.is_file() else None
        taken = set(there.escalations) if there is not None else set()
        won = {k for k in keys if k not in taken}
        if not won or there is None:
            return won, False   # no state file at the tip: nobody else can have claimed them
        write_atomic(path, dump(replace(there, escalations=(*there.escalations, *sorted(won)))))
        run_git(branch.repo, "add", "--", rel)
        run_git(branch.repo, "commit", "-q", "--no-verify", "-m",
                "orchestrator: escalations announced")
        return won, True

    return jobs.compare_and_swap(branch, change, tries=jobs.push_tries(
        config.dispatch.max_parallel), event=forge.event)


def report(repo: Path, stores: Callable[[], TaskStore], config: Config, *, actor: str,
           task_id: str, attempt: int, result_dir: Path, agent_job: str, cycle: int,
           chain_id: str, token: str | None) -> int:
    from orchestrator.commands.report import cycle_info
    from orchestrator.forge.actions import ActionsEnv
    from orchestrator.forge.github import GitHubApi
    from orchestrator.forge.report import comment_url, report_to_github

    branch = branch_of(repo)
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
    result = report_to_github(
        repo, stores(), config, env, api, info, dispatch=True, environ=os.environ,
        claim_escalations=lambda keys: claim_escalations(branch, config, keys, forge))
    ours = push_state(branch, config, forge)
    if ours is not None:
        write_outputs({"comment-url": comment_url(env, ours), "cycle": str(cycle)})
    return result.exit_code


def push_state(branch: jobs.Branch, config: Config, forge: LocalForge) -> ForgeState | None:
    """Push the forge's cache (`github.state_file`) as the report left it in the checkout,
    merged with the branch's copy at the tip (compare-and-swap); None when there is none."""
    from orchestrator.forge.state import load_state, merge_text

    path = branch.repo / config.github.state_file
    if not path.is_file():
        return None
    ours = load_state(path)
    jobs.commit_and_push(branch, {config.github.state_file: lambda tip: merge_text(ours, tip)},
                         "orchestrator: status comment state", event=forge.event,
                         tries=jobs.push_tries(config.dispatch.max_parallel))
    return ours
