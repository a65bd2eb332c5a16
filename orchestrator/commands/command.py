"""`orchestrator command`: act on an `/orchestrator ...` comment (the issue_comment event at
GITHUB_EVENT_PATH), for people with write access; see orchestrator/forge/comment_commands.py."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestrator.config import Config
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.comment_commands import handle_comment, read_event
from orchestrator.forge.github import GitHubApi, Tuning
from orchestrator.forge.report import CycleInfo, report_to_github
from orchestrator.forge.state import load_state
from orchestrator.tasks.store import TaskStore


def command(repo: Path, store: TaskStore, config: Config, *, token: str | None, actor: str,
            event_path: str | None = None, tuning: Tuning | None = None) -> int:
    env = ActionsEnv.from_environ()
    event = read_event(event_path or env.event_path)

    def refresh(api: GitHubApi) -> int:
        # the last report's cycle and chain: a refresh shows them and counts no cycle
        last = load_state(repo / config.github.state_file)
        info = CycleInfo(cycle=last.cycle or 1, chain_id=last.chain_id)
        return report_to_github(repo, store, config, env, api, info, dispatch=False,
                                count_cycle=False, environ=os.environ).exit_code

    def connect() -> GitHubApi:
        return GitHubApi(env, token or env.token, tuning=tuning or Tuning())

    return handle_comment(repo, store, config, env, connect, event, actor=actor,
                          refresh_status=refresh, out=sys.stdout)
