"""Git's side: hooks install|uninstall|status, and the hook and merge driver git calls."""
from __future__ import annotations

import argparse
from pathlib import Path

from orchestrator.cli.base import (
    Context,
    Parser,
    Sub,
    group,
)


def add_git_commands(sub: Sub, common: Parser) -> None:
    hsub = group(sub, "hooks", common, "install, uninstall or show the git hooks", "hooks_command")
    p = hsub.add_parser("install", parents=[common], help="install the hooks and the queue's merge driver")
    p.set_defaults(func=_hooks_install)
    p = hsub.add_parser("uninstall", parents=[common], help="put back exactly what was there")
    p.set_defaults(func=_hooks_uninstall)
    p = hsub.add_parser("status", parents=[common],
                        help="what is installed; exit 0 when everything is installed and current, else 1")
    p.set_defaults(func=_hooks_status)

    # Internal: git runs these (the installed shims, the merge driver), so no `help=`: argparse
    # leaves a sub-command without one out of the top-level list. `--help` on them still works.
    p = sub.add_parser("hook", parents=[common],
                       description="run one git hook (what the installed shims call)")
    p.add_argument("hook_name", metavar="NAME",  # githooks.HOOK_NAMES; test_cli_help checks
                   help="pre-commit | commit-msg | pre-push | post-merge | post-checkout")
    p.add_argument("hook_args", nargs=argparse.REMAINDER, metavar="ARG", help="git's hook arguments")
    p.set_defaults(func=_hook)

    p = sub.add_parser("merge-driver", parents=[common],
                       description="git merge driver for issues.jsonl: merge-driver %%O %%A %%B [%%P]")
    p.add_argument("base", type=Path, metavar="BASE", help="%%O: the common ancestor's version")
    p.add_argument("ours", type=Path, metavar="OURS", help="%%A: our version; the result is written here")
    p.add_argument("theirs", type=Path, metavar="THEIRS", help="%%B: their version")
    p.add_argument("path", nargs="?", default="", metavar="PATH", help="%%P: the file's path, for messages")
    p.set_defaults(func=_merge_driver)


def _hooks_install(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.install_hooks import hooks_install
    return hooks_install(c.repo, c.config.jsonl.path)


def _hooks_uninstall(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.install_hooks import hooks_uninstall
    return hooks_uninstall(c.repo, c.config.jsonl.path)


def _hooks_status(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.install_hooks import hooks_status
    return hooks_status(c.repo, c.config.jsonl.path)


def _hook(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.run_hook import run_hook
    return run_hook(c.repo, c.config, a.hook_name, a.hook_args)


def _merge_driver(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.merge_driver import merge_driver
    return merge_driver(a.base, a.ours, a.theirs, name=a.path)
