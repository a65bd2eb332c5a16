"""What every command's parser and handler share: the context built from the global options,
the parser that turns argparse's errors into one-line user errors, and the option helpers."""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeAlias

from orchestrator.config import Config, config_for_repo
from orchestrator.errors import UserError
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.model import parse_priority
from orchestrator.tasks.store import TaskStore


@dataclass
class Context:
    """What every command may need, built once from the global options."""

    repo: Path
    config_path: str | None
    store_kind: str | None
    actor_flag: str | None = None

    @cached_property
    def config(self) -> Config:
        return config_for_repo(self.repo, self.config_path)

    @cached_property
    def store(self) -> TaskStore:
        """The task store, for commands that may start a queue (task create, phase start)."""
        return open_store(self.repo, self.config, self.store_kind)

    @property
    def queue(self) -> TaskStore:
        """The task store of a command that needs a queue: without one, every such command says
        so the same way (exit 2) rather than report an empty queue from the wrong directory."""
        store = self.store
        path = self.repo / self.config.jsonl.path
        if store.kind == "jsonl" and not path.is_file():
            raise UserError(f"no task queue in {self.repo}: {self.config.jsonl.path} does not "
                            "exist; start one with `orchestrator task create TITLE` or "
                            "`orchestrator phase start --phase NAME --plan FILE` (or use --repo DIR)")
        return store

    @property
    def actor(self) -> str:
        """bd's actor order: --actor, BD_ACTOR, BEADS_ACTOR, then the user."""
        return (self.actor_flag or os.environ.get("BD_ACTOR") or os.environ.get("BEADS_ACTOR")
                or os.environ.get("USER") or "orchestrator")


Handler = Callable[[argparse.Namespace, Context], int]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # one line, exit 2, as every other user error; main() already prints "orchestrator: "
        where = self.prog.removeprefix("orchestrator").strip()
        raise UserError(f"{where}: {message}" if where else message)


Sub: TypeAlias = "argparse._SubParsersAction[Parser]"


def common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--repo", default=default,
                        help="a directory in the repository (default: the current one); its "
                             "root is found the way git finds it")
    parser.add_argument("--config", default=default, help="config file (default: ROOT/.orchestrator.yml)")
    parser.add_argument("--store", choices=("auto", "bd", "jsonl"), default=default,
                        help="task store (default: config `store`, auto)")
    parser.add_argument("--actor", default=default, help="who is acting (default: $BD_ACTOR, $USER)")


def json_option(parser: argparse.ArgumentParser, *, bd: bool = True) -> None:
    parser.add_argument("--json", action="store_true", dest="as_json",
                        help="print JSON (bd's shapes)" if bd else "print JSON")


def priority_arg(text: str) -> int:
    try:
        return parse_priority(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def csv_arg(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def flatten(values: list[list[str]] | None) -> tuple[str, ...]:
    return tuple(x for group in values or () for x in group)


def group(sub: Sub, name: str, common: Parser, help: str, dest: str) -> Sub:
    parser = sub.add_parser(name, parents=[common], help=help, description=help)
    return parser.add_subparsers(dest=dest, required=True, metavar="ACTION", parser_class=Parser)
