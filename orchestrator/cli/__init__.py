"""Argument parsing only: build the command tree, find the repository, build adapters, call a
command.

Every command lives in orchestrator/commands/<name>.py as a function that takes plain arguments
and returns its exit code. To add one: add its parser to its group's `add_*_commands` (one
module per group here: queue, coordinator, git, agents, github) with `set_defaults(func=_name)`,
and write `_name(a, c)` beside it, which imports the command and calls it with explicit
arguments (`c.queue` for a store that must exist, `c.store` for one the command may create).
Every option gets a one-line help (tests/test_cli_help.py checks).

The queue commands (ready, status, show, task) are imported at the top of cli/queue.py; the
others import theirs in their handler, because those modules load GitPython, the agent
machinery or the merge code: `ready`, `status` and the `task` calls agents make all the time
start in about half the time without them."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator import __version__
from orchestrator.cli.agents import add_agent_commands
from orchestrator.cli.base import Context, Handler, Parser, common_options
from orchestrator.cli.coordinator import add_dispatch_commands
from orchestrator.cli.git import add_git_commands
from orchestrator.cli.github import add_github_commands, add_job_commands, add_setup_commands
from orchestrator.cli.queue import add_queue_commands
from orchestrator.config import find_root
from orchestrator.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="orchestrator",
                    description="Drain a Beads task queue with AI coding agents.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common_options(parser, suppress=False)
    common = Parser(add_help=False)
    common_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser)
    add_queue_commands(sub, common)
    add_dispatch_commands(sub, common)
    add_git_commands(sub, common)
    add_agent_commands(sub, common)
    add_github_commands(sub, common)
    add_setup_commands(sub, common)
    add_job_commands(sub, common)
    p = sub.add_parser("demo", help="drain a small phase in a throwaway repo with a scripted agent")
    p.add_argument("dir", nargs="?", help="where to create the demo repository (default: a temp dir)")
    p.set_defaults(func=_demo)
    return parser


def _demo(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.demo import demo
    # The demo drives the CLI as a user would type it: it gets `main` rather than importing it.
    return demo(a.dir, cli=main)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        start = Path(args.repo) if args.repo else Path.cwd()
        if not start.is_dir():
            raise UserError(f"--repo {args.repo}: not a directory")
        ctx = Context(repo=find_root(start), config_path=args.config,
                      store_kind=args.store, actor_flag=args.actor)
        func: Handler = args.func
        return func(args, ctx)
    except UserError as e:
        print(f"orchestrator: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("orchestrator: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `orchestrator ready | head`
        return 0

