"""GitHub: report, command (comments), init, and the workflow's job plan|agent|report."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from orchestrator.cli.base import (
    Context,
    Parser,
    Sub,
    group,
)
from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.store import TaskStore


def add_github_commands(sub: Sub, common: Parser) -> None:
    """report and command: the GitHub forge (orchestrator/forge/, docs/github.md)."""
    p = sub.add_parser("report", parents=[common],
                       help="post the status on GitHub, dispatch the next cycle (the report job)")
    p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")
    p.add_argument("--dispatch", action="store_true",
                   help="dispatch cycle N+1 of the chain unless drained or a guard stops it")
    p.add_argument("--cycle", type=int, help="this cycle's number (default: $ORCHESTRATOR_CYCLE, 1)")
    p.add_argument("--chain-id", help="the chain (default: $ORCHESTRATOR_CHAIN_ID, a new one)")
    p.add_argument("--artifact", action="append", default=[], metavar="NAME",
                   help="an artifact of this run holding agent logs (repeatable)")
    p.set_defaults(func=_report)

    p = sub.add_parser("command", parents=[common],
                       help="act on an /orchestrator comment (issue_comment event)")
    p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")
    p.add_argument("--event", help="event payload file (default: $GITHUB_EVENT_PATH)")
    p.add_argument("--push", action="store_true",
                   help="commit and push what the command changes to the branch "
                        "($GITHUB_REF_NAME), as the workflow's jobs push")
    p.set_defaults(func=_command)


def _report(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.report import report
    return report(c.repo, c.queue, c.config, dispatch=a.dispatch, cycle=a.cycle,
                  chain_id=a.chain_id, artifacts=a.artifact, token=a.token)


def _command(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.command import command
    return command(c.repo, lambda: open_store(c.repo, c.config, c.store_kind), c.config,
                   token=a.token, actor=c.actor_flag or c.config.bd.actor, event_path=a.event,
                   push=a.push)


def add_setup_commands(sub: Sub, common: Parser) -> None:
    from orchestrator.workflows import ACTION

    p = sub.add_parser("init", parents=[common],
                       help="set up this repository for the GitHub workflow (docs/github.md)")
    p.add_argument("--force", action="store_true", help="replace files that differ from init's")
    p.add_argument("--prompts", action="store_true",
                   help="also copy the prompt templates into prompt/ to edit them")
    p.add_argument("--action", default=ACTION, metavar="OWNER/REPO@REF",
                   help=f"the orchestrator action the workflows use (default: {ACTION})")
    p.set_defaults(func=_init)


def _init(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.init import init, terminal_question
    ask = terminal_question if sys.stdin is not None and sys.stdin.isatty() else None
    return init(c.repo, force=a.force, prompts=a.prompts, action=a.action, ask=ask)


def add_job_commands(sub: Sub, common: Parser) -> None:
    """`job plan|agent|report`: the GitHub workflow's jobs (action.yml runs them; docs/github.md)."""
    jsub = group(sub, "job", common, "the GitHub workflow's jobs (action.yml runs them)",
                  "job_command")

    def chain(p: Parser) -> None:
        p.add_argument("--cycle", type=int, default=1, help="this run's cycle number in its chain")
        p.add_argument("--chain-id", default="", help="the chain (default: a new one)")
        p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")

    p = jsub.add_parser("plan", parents=[common], help="plan, claim and push the claims; outputs the matrix")
    chain(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan and the comment; change nothing")
    p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")
    p.set_defaults(func=_job_plan)

    p = jsub.add_parser("agent", parents=[common], help="run the agent on one claimed task (read-only)")
    p.add_argument("--task", required=True, metavar="ID", help="the claimed task (the matrix leg's)")
    p.add_argument("--attempt", required=True, type=int, help="the attempt number the plan gave it")
    p.add_argument("--budget", default="", help="the thinking budget the plan gave the attempt")
    p.add_argument("--kind", default="", help="the task's kind (default: recognised from the task)")
    p.add_argument("--result-dir", required=True, type=Path, help="where the result bundle goes")
    p.add_argument("--profile", choices=("claude", "codex", "command"), help="override agent.profile")
    p.add_argument("--model", help="override agent.model")
    p.set_defaults(func=_job_agent)

    p = jsub.add_parser("report", parents=[common], help="apply one task's result, push, report, dispatch")
    chain(p)
    p.add_argument("--task", required=True, metavar="ID", help="the leg's task")
    p.add_argument("--attempt", required=True, type=int, help="the leg's attempt number")
    p.add_argument("--result-dir", required=True, type=Path, help="the downloaded result bundle")
    p.add_argument("--agent-job", default="", help="the agent job's result (success, failure, cancelled)")
    p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")
    p.set_defaults(func=_job_report)


def _job_config(a: argparse.Namespace, c: Context) -> Config:
    if a.max_parallel is None:
        return c.config
    if a.max_parallel < 1:
        raise UserError(f"--max-parallel must be at least 1, got {a.max_parallel}")
    return dataclasses.replace(c.config, dispatch=dataclasses.replace(
        c.config.dispatch, max_parallel=a.max_parallel))


def _job_stores(c: Context) -> Callable[[], TaskStore]:
    """A fresh store per compare-and-swap try (the queue file changes under it between tries)."""
    c.queue  # noqa: B018 - no queue: one clear error before anything else
    return lambda: open_store(c.repo, c.config, c.store_kind)


def _job_plan(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.job import plan
    return plan(c.repo, _job_stores(c), _job_config(a, c), actor=c.actor_flag or c.config.bd.actor,
                cycle=a.cycle, chain_id=a.chain_id, dry_run=a.dry_run, token=a.token)


def _job_agent(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.job import agent
    changes = {k: v for k, v in (("profile", a.profile), ("model", a.model)) if v}
    config = dataclasses.replace(c.config, agent=dataclasses.replace(c.config.agent, **changes))
    return agent(c.repo, c.queue, config, task_id=a.task, attempt=a.attempt, budget=a.budget,
                 kind=a.kind, result_dir=a.result_dir, config_path=c.config_path,
                 store_kind=c.store_kind)


def _job_report(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.job import report
    return report(c.repo, _job_stores(c), _job_config(a, c), actor=c.actor_flag or c.config.bd.actor,
                  task_id=a.task, attempt=a.attempt, result_dir=a.result_dir, agent_job=a.agent_job,
                  cycle=a.cycle, chain_id=a.chain_id, token=a.token)
