"""The coordinator's commands: plan, cycle, run, phase start (demo is in __init__: it drives
main)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from orchestrator.cli.base import (
    Context,
    Parser,
    Sub,
    group,
    json_option,
)
from orchestrator.errors import UserError

if TYPE_CHECKING:
    from orchestrator.coordinator.local import Coordinator

# coordinator/loop.py's EXIT_* (not imported: it loads the coordinator); test_cli_help checks
RUN_EXIT_CODES = """exit codes (docs/coordinator.md, "Exit codes"):
  0    the queue drained (nothing is ready and nothing is running)
  1    an unexpected error (a bug: a traceback is printed)
  2    a user error, one line on stderr (no task queue here, a bad config, a dependency
       cycle, an agent command that cannot run)
  3    stopped for a human: a task was escalated, or a guard (.beads/STOP, a limit) stopped it
  130  Ctrl-C: running agents are stopped, their attempts recorded, their claims released
  143  SIGTERM (a cancelled CI job, `kill`): handled as Ctrl-C"""



def add_dispatch_commands(sub: Sub, common: Parser) -> None:
    p = sub.add_parser("plan", parents=[common], help="the next cycle's decisions (no side effects)")
    json_option(p, bd=False)
    p.set_defaults(func=_plan)

    p = sub.add_parser("cycle", parents=[common], help="one dispatch cycle: claim, launch, apply")
    json_option(p, bd=False)
    p.add_argument("--dry-run", action="store_true", help="print what it would do, change nothing")
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.add_argument("--task", metavar="ID", help="launch only this task (it must be ready)")
    p.set_defaults(func=_cycle)

    help = "the coordinator loop until nothing is ready"
    p = sub.add_parser("run", parents=[common], help=help, description=help, epilog=RUN_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.set_defaults(func=_run)

    psub = group(sub, "phase", common, "phases of work", "phase_command")
    p = psub.add_parser("start", parents=[common], help="create the bootstrap task of a new phase")
    json_option(p, bd=False)
    p.add_argument("--phase", required=True, help="phase name, e.g. phase2")
    p.add_argument("--plan", required=True, dest="plan_file", help="implementation plan file")
    p.add_argument("--tests", dest="tests_file", help="test specification file")
    p.add_argument("--regression-cmd", help="must pass before a new phase starts (run, no shell)")
    p.add_argument("--prompt", default=None,
                   help="a file the task tells the agent to read for its instructions (default: "
                        "none; the orchestrator gives it the packaged feature-planning prompt, "
                        "which a repo may override in prompt/plan_features.txt)")
    p.set_defaults(func=_phase_start)


def _coordinator(a: argparse.Namespace, c: Context, *,
                 echo: Callable[[str], None] | None = None) -> Coordinator:
    from orchestrator.coordinator.local import Coordinator
    from orchestrator.forge.local import LocalForge

    store, config = c.queue, c.config
    override = getattr(a, "max_parallel", None)
    if override is not None:
        if override < 1:
            raise UserError(f"--max-parallel must be at least 1, got {override}")
        config = dataclasses.replace(
            config, dispatch=dataclasses.replace(config.dispatch, max_parallel=override))
    out = sys.stderr if getattr(a, "as_json", False) else sys.stdout
    forge = LocalForge(c.repo / "logs" / "status.md", out=out, echo=echo)
    return Coordinator(repo=c.repo, store=store, config=config, forge=forge,
                       actor=c.actor_flag or config.bd.actor, config_path=c.config_path,
                       store_kind=c.store_kind)


def _plan(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.plan import plan
    return plan(_coordinator(a, c), as_json=a.as_json)


def _cycle(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.cycle import cycle
    return cycle(_coordinator(a, c), dry_run=a.dry_run, as_json=a.as_json, task=a.task)


def _run(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.run import Progress, is_tty, run
    progress = Progress(sys.stdout, live=is_tty(sys.stdout))
    return run(_coordinator(a, c, echo=progress.echo), progress)


def _phase_start(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.phase import phase_start
    return phase_start(c.store, repo=c.repo, phase=a.phase, plan=a.plan_file, tests=a.tests_file,
                       regression_cmd=a.regression_cmd, prompt=a.prompt, actor=c.actor,
                       as_json=a.as_json)
