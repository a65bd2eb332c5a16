"""`orchestrator command`: act on an `/orchestrator ...` comment (the issue_comment event at
GITHUB_EVENT_PATH), for people with write access; see orchestrator/forge/comment_commands.py.

With `--push` (the workflow's step) what a command changes on the branch is committed and pushed
as the plan and report jobs push (coordinator/jobs.py: compare-and-swap at the tip): the queue
after `/orchestrator retry`, the status comment's cache after `/orchestrator status`. The branch
is GITHUB_REF_NAME, the one the comment workflow runs on and `/orchestrator run` dispatches."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.commands.job import branch_of, claim_escalations, push_state
from orchestrator.config import Config
from orchestrator.coordinator import jobs
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.comment_commands import handle_comment, read_event
from orchestrator.forge.github import GitHubApi, Tuning
from orchestrator.forge.local import LocalForge
from orchestrator.forge.report import CycleInfo, report_to_github
from orchestrator.forge.state import load_state
from orchestrator.tasks.store import TaskStore


def command(repo: Path, stores: Callable[[], TaskStore], config: Config, *, token: str | None,
            actor: str, event_path: str | None = None, tuning: Tuning | None = None,
            push: bool = False) -> int:
    env = ActionsEnv.from_environ()
    event = read_event(event_path or env.event_path)
    branch = branch_of(repo) if push else None
    forge = LocalForge(None)

    def edit_queue(edit: Callable[[TaskStore], str]) -> str:
        if branch is None:
            answer = edit(stores())
            if not answer:
                print("command: the queue is changed in this checkout only (--push commits "
                      "and pushes it)")
            return answer
        answer, pushed = jobs.edit_job(branch, stores, config, forge, actor, edit)
        if pushed:
            print(f"command: pushed the queue to {branch.remote}/{branch.name}")
        return answer

    def refresh(api: GitHubApi) -> int:
        if branch is not None:
            jobs.sync(branch)   # the status of the branch as it is now
        # the last report's cycle and chain: a refresh shows them and counts no cycle
        last = load_state(repo / config.github.state_file)
        info = CycleInfo(cycle=last.cycle or 1, chain_id=last.chain_id)
        claim = None if branch is None else (
            lambda keys: claim_escalations(branch, config, keys, forge))
        code = report_to_github(repo, stores(), config, env, api, info, dispatch=False,
                                count_cycle=False, environ=os.environ,
                                claim_escalations=claim).exit_code
        if branch is not None:
            push_state(branch, config, forge)
        return code

    def connect() -> GitHubApi:
        return GitHubApi(env, token or env.token, tuning=tuning or Tuning())

    return handle_comment(repo, config, env, connect, event, actor=actor, edit_queue=edit_queue,
                          refresh_status=refresh, out=sys.stdout)
