"""Helpers for tests of the GitHub forge: a queue in a temp repo, the Actions environment
pointing at the loopback stand-in, and a GitHubApi with waits shrunk to milliseconds."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestrator.config import Config
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.github import GitHubApi, Tuning
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.jsonl import JsonlStore
from support.github_api import GitHubStandIn
from support.repo import task_record, write_queue

# retries and pacing for tests: the same code paths, no seconds of sleeping
FAST = Tuning(timeout=1, retries=3, backoff_factor=0.01, secondary_rate_wait=0.01,
              max_rate_limit_wait=5, seconds_between_requests=0, seconds_between_writes=0)


def token() -> str:
    return "ghp_" + "x" * 36


def actions_env(gh: GitHubStandIn, tmp: Path, **over: str) -> ActionsEnv:
    fields: dict[str, Any] = dict(
        api_url=gh.url, server_url="http://github.invalid", repository=gh.repo.full_name,
        run_id="77", run_attempt="1", ref_name="main",
        workflow_ref=f"{gh.repo.full_name}/.github/workflows/orchestrator.yml@refs/heads/main",
        event_name="workflow_dispatch", step_summary=str(tmp / "summary.md"), token=token(),
        in_actions=True)
    fields.update(over)
    return ActionsEnv(**fields)


def api_for(env: ActionsEnv, tuning: Tuning = FAST) -> GitHubApi:
    return GitHubApi(env, env.token, tuning=tuning)


def escalated_record(tid: str, *, attempts: int = 3, title: str | None = None) -> dict[str, Any]:
    """A task the coordinator escalated after `attempts` failed tries."""
    comments = []
    for n in range(1, attempts + 1):
        rec = AttemptRecord(attempt=n, kind="error", budget=["high", "xhigh", "max"][min(n, 3) - 1],
                            digest=f"try {n} failed: tests red", log_dir=f"logs/run/{n}_{tid}",
                            at=f"2026-05-29T08:0{n}:00Z",
                            decision="escalate" if n == attempts else "retry", cost_usd=0.5)
        comments.append({"id": f"c{n}", "issue_id": tid, "author": "orchestrator",
                         "text": render(rec), "created_at": rec.at})
    return task_record(tid, title=title, status="blocked", labels=["needs-human"],
                       comments=comments)


def queue(repo: Path, records: Iterable[Mapping[str, Any]]) -> JsonlStore:
    write_queue(repo, records)
    return JsonlStore(repo / ".beads" / "issues.jsonl")


def many_tasks(n: int) -> list[dict[str, Any]]:
    """n tasks: a tenth closed, chains of blockers, some running."""
    out = []
    for i in range(n):
        status = "closed" if i % 10 == 0 else "in_progress" if i % 97 == 1 else "open"
        blocks = [f"t-{i - 1}"] if i % 3 == 2 else []
        out.append(task_record(f"t-{i}", title=f"Task {i} | with a title long enough to matter",
                               status=status, blocks_on=blocks))
    return out


__all__ = ["FAST", "Config", "actions_env", "api_for", "escalated_record", "many_tasks",
           "queue", "token"]
