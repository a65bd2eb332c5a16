"""One agent on one task, and the run logs: agent, logs list|show."""
from __future__ import annotations

import argparse

from orchestrator.cli.base import (
    Context,
    Parser,
    Sub,
    group,
    json_option,
)


def add_agent_commands(sub: Sub, common: Parser) -> None:
    p = sub.add_parser("agent", parents=[common], help="run one agent on one task (manual single task)")
    json_option(p, bd=False)
    p.add_argument("--task", required=True, metavar="ID", help="the task to work on")
    p.add_argument("--attempt", type=int, help="attempt number (default: recorded attempts + 1)")
    p.add_argument("--profile", choices=("claude", "codex", "command"),
                   help="agent profile (default: the task's agent:<profile> label, else config)")
    p.add_argument("--budget", help="thinking budget (default: agent.budgets for the attempt)")
    p.set_defaults(func=_agent)

    lsub = group(sub, "logs", common, "agent run logs (logs/run/)", "logs_command")
    p = lsub.add_parser("list", parents=[common], help="recent runs with their outcome")
    json_option(p, bd=False)
    p.add_argument("-n", "--limit", type=int, default=20, help="at most N runs (0 = all)")
    p.add_argument("--task", metavar="ID", help="only runs of this task")
    p.set_defaults(func=_logs_list)
    p = lsub.add_parser("show", parents=[common], help="readable transcript of a run (RUN or TASK)")
    p.add_argument("ref", metavar="RUN|TASK", help="run directory name or path, or a task ID (latest run)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing while the agent runs")
    p.set_defaults(func=_logs_show)


def _agent(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.agent import agent
    return agent(c.repo, c.queue, c.config, task_id=a.task, attempt=a.attempt, profile=a.profile,
                 budget=a.budget, actor=c.actor, as_json=a.as_json, config_path=c.config_path,
                 store_kind=c.store_kind)


def _logs_list(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.logs import logs_list
    return logs_list(c.repo / "logs" / "run", limit=a.limit, as_json=a.as_json, task_id=a.task)


def _logs_show(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.logs import logs_show
    return logs_show(c.repo / "logs" / "run", a.ref, follow=a.follow)
