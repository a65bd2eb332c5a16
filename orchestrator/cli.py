"""Argument parsing only: build the command tree, load config, build adapters, call a command.

Every command lives in orchestrator/commands/<name>.py and returns its exit code."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from orchestrator import __version__
from orchestrator.config import Config, config_for_repo
from orchestrator.errors import UserError
from orchestrator.tasks.graph import SORT_POLICIES, ReadyFilter
from orchestrator.tasks.model import parse_priority
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore, open_store


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
        return open_store(self.repo, self.config, self.store_kind)

    @property
    def actor(self) -> str:
        """bd's actor order: --actor, BD_ACTOR, BEADS_ACTOR, then the user."""
        return (self.actor_flag or os.environ.get("BD_ACTOR") or os.environ.get("BEADS_ACTOR")
                or os.environ.get("USER") or "orchestrator")


Handler = Callable[[argparse.Namespace, Context], int]


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--repo", default=default if suppress else ".",
                        help="repository root (default: current directory)")
    parser.add_argument("--config", default=default, help="config file (default: REPO/.orchestrator.yml)")
    parser.add_argument("--store", choices=("auto", "bd", "jsonl"), default=default,
                        help="task store (default: config `store`, auto)")
    parser.add_argument("--actor", default=default, help="who is acting (default: $BD_ACTOR, $USER)")


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON (bd's shapes)")


def _priority(text: str) -> int:
    try:
        return parse_priority(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _flatten(values: list[list[str]] | None) -> tuple[str, ...]:
    return tuple(x for group in values or () for x in group)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # one line, exit 2, as every other user error
        raise UserError(f"{self.prog}: {message}")


def _add_queue_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ready", parents=[common], help="tasks that can start now (bd ready)")
    _json(p)
    p.add_argument("-n", "--limit", type=int, default=0, help="at most N tasks (0 = all)")
    p.add_argument("-s", "--sort", choices=SORT_POLICIES, default="priority")
    p.add_argument("-a", "--assignee")
    p.add_argument("-u", "--unassigned", action="store_true")
    p.add_argument("-l", "--label", type=_csv, action="append", help="all of these labels")
    p.add_argument("--label-any", type=_csv, action="append", help="any of these labels")
    p.add_argument("-p", "--priority", type=_priority)
    p.add_argument("-t", "--type", dest="only_type")
    p.add_argument("--exclude-type", type=_csv, action="append")
    p.add_argument("--parent", help="only descendants of this task")
    p.add_argument("--include-deferred", action="store_true")
    p.add_argument("--include-ephemeral", action="store_true")
    p.set_defaults(func=_ready)

    p = sub.add_parser("status", parents=[common], help="queue counts, running and blocked tasks")
    _json(p)
    p.set_defaults(func=lambda a, c: _cmd("status").status(c.store, as_json=a.as_json))

    p = sub.add_parser("show", parents=[common], help="one or more tasks in full (bd show)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(func=lambda a, c: _cmd("show").show(c.store, a.ids, as_json=a.as_json))

    task = sub.add_parser("task", parents=[common], help="bd-compatible task edits for any store")
    tsub = task.add_subparsers(dest="task_command", required=True, metavar="ACTION",
                               parser_class=_Parser)

    p = tsub.add_parser("show", parents=[common], help="show tasks")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID")
    p.set_defaults(func=lambda a, c: _cmd("task").task_show(c.store, a.ids, as_json=a.as_json))

    p = tsub.add_parser("close", parents=[common], help="close tasks (bd close)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("-r", "--reason", "--resolution", "-m", "--comment", default="Closed")
    p.add_argument("-f", "--force", action="store_true", help="close despite open blockers/children")
    p.set_defaults(func=lambda a, c: _cmd("task").task_close(
        c.store, a.ids, reason=a.reason, force=a.force, actor=c.actor, as_json=a.as_json))

    p = tsub.add_parser("update", parents=[common], help="update tasks (bd update)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("-s", "--status")
    p.add_argument("-p", "--priority", type=_priority)
    p.add_argument("--title")
    p.add_argument("-t", "--type", dest="issue_type")
    p.add_argument("-a", "--assignee")
    p.add_argument("-d", "--description", "--body")
    p.add_argument("--design")
    p.add_argument("--acceptance")
    p.add_argument("--notes")
    p.add_argument("--append-notes")
    p.add_argument("--add-label", type=_csv, action="append")
    p.add_argument("--remove-label", type=_csv, action="append")
    p.add_argument("--set-labels", type=_csv)
    p.add_argument("--claim", action="store_true", help="atomically claim (open -> in_progress, assignee = actor)")
    p.set_defaults(func=_task_update)

    p = tsub.add_parser("create", parents=[common], help="create a task (bd create)")
    _json(p)
    p.add_argument("title_arg", nargs="?", metavar="TITLE")
    p.add_argument("--title")
    p.add_argument("-t", "--type", default="task")
    p.add_argument("-p", "--priority", type=_priority, default=2)
    p.add_argument("-d", "--description", "--body", default="")
    p.add_argument("--design", default="")
    p.add_argument("--acceptance", default="")
    p.add_argument("--notes", default="")
    p.add_argument("-a", "--assignee", default="")
    p.add_argument("-l", "--labels", "--label", type=_csv, action="append")
    p.add_argument("--parent")
    p.add_argument("--deps", type=_csv, action="append",
                   help="'id' or 'type:id' (this task depends on id); 'blocks:id' (this task blocks id)")
    p.add_argument("--id", dest="explicit_id")
    p.add_argument("--silent", action="store_true", help="print only the new ID")
    p.set_defaults(func=_task_create)

    p = tsub.add_parser("dep", parents=[common], help="add or remove a dependency (bd dep)")
    _json(p)
    p.add_argument("action", choices=("add", "remove", "rm"))
    p.add_argument("issue_id", metavar="ISSUE")
    p.add_argument("depends_on", nargs="?", metavar="DEPENDS_ON")
    p.add_argument("--blocked-by", "--depends-on", dest="blocked_by")
    p.add_argument("-t", "--type", default="blocks")
    p.set_defaults(func=_task_dep)

    p = tsub.add_parser("comment", parents=[common], help="add a comment (bd comment)")
    _json(p)
    p.add_argument("task_id", metavar="ID")
    p.add_argument("text", nargs="+")
    p.add_argument("--author", help="default: the actor")
    p.set_defaults(func=lambda a, c: _cmd("task").task_comment(
        c.store, a.task_id, " ".join(a.text), author=a.author or c.actor, as_json=a.as_json))


def _add_agent_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("agent", parents=[common], help="run one agent on one task (manual single task)")
    _json(p)
    p.add_argument("--task", required=True, metavar="ID", help="the task to work on")
    p.add_argument("--attempt", type=int, help="attempt number (default: recorded attempts + 1)")
    p.add_argument("--profile", choices=("claude", "codex", "command"),
                   help="agent profile (default: the task's agent:<profile> label, else config)")
    p.add_argument("--budget", help="thinking budget (default: agent.budgets for the attempt)")
    p.set_defaults(func=lambda a, c: _cmd("agent").agent(
        c.repo, c.store, c.config, task_id=a.task, attempt=a.attempt, profile=a.profile,
        budget=a.budget, actor=c.actor, as_json=a.as_json, config_path=c.config_path,
        store_kind=c.store_kind))

    logs = sub.add_parser("logs", parents=[common], help="agent run logs (logs/run/)")
    lsub = logs.add_subparsers(dest="logs_command", required=True, metavar="ACTION",
                               parser_class=_Parser)
    p = lsub.add_parser("list", parents=[common], help="recent runs with their outcome")
    p.add_argument("--json", action="store_true", dest="as_json", help="print JSON")
    p.add_argument("-n", "--limit", type=int, default=20, help="at most N runs (0 = all)")
    p.add_argument("--task", metavar="ID", help="only runs of this task")
    p.set_defaults(func=lambda a, c: _cmd("logs").logs_list(
        c.repo / "logs" / "run", limit=a.limit, as_json=a.as_json, task_id=a.task))
    p = lsub.add_parser("show", parents=[common], help="readable transcript of a run (RUN or TASK)")
    p.add_argument("ref", metavar="RUN|TASK", help="run directory name or path, or a task ID (latest run)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing while the agent runs")
    p.set_defaults(func=lambda a, c: _cmd("logs").logs_show(
        c.repo / "logs" / "run", a.ref, follow=a.follow))


def _cmd(name: str):  # noqa: ANN202 - a command module
    import importlib
    return importlib.import_module(f"orchestrator.commands.{name}")


def _ready(a: argparse.Namespace, c: Context) -> int:
    # bd semantics: epics are ready unless excluded (the dispatcher excludes them by config)
    flt = ReadyFilter(
        exclude_types=frozenset(_flatten(a.exclude_type)), only_type=a.only_type, assignee=a.assignee,
        unassigned=a.unassigned, labels=_flatten(a.label), labels_any=_flatten(a.label_any),
        priority=a.priority, parent=a.parent, include_deferred=a.include_deferred,
        include_ephemeral=a.include_ephemeral)
    if a.limit < 0:
        raise UserError("--limit must be 0 (all) or more")
    return _cmd("ready").ready(c.store, filter=flt, sort=a.sort, limit=a.limit, as_json=a.as_json)


def _task_update(a: argparse.Namespace, c: Context) -> int:
    changes = TaskChanges(
        status=a.status, title=a.title, description=a.description, design=a.design,
        acceptance_criteria=a.acceptance, notes=a.notes, append_notes=a.append_notes,
        assignee=a.assignee, priority=a.priority, issue_type=a.issue_type,
        add_labels=_flatten(a.add_label), remove_labels=_flatten(a.remove_label),
        set_labels=tuple(a.set_labels) if a.set_labels is not None else None)
    return _cmd("task").task_update(c.store, a.ids, changes, claim=a.claim, actor=c.actor,
                                    as_json=a.as_json)


def _task_create(a: argparse.Namespace, c: Context) -> int:
    title = a.title or a.title_arg
    if not title:
        raise UserError("task create: a title is required (positional or --title)")
    new = NewTask(title=title, issue_type=a.type, priority=a.priority, description=a.description,
                  design=a.design, acceptance_criteria=a.acceptance, notes=a.notes,
                  assignee=a.assignee, labels=_flatten(a.labels), parent=a.parent,
                  deps=_flatten(a.deps), id=a.explicit_id)
    return _cmd("task").task_create(c.store, new, actor=c.actor, silent=a.silent, as_json=a.as_json)


def _task_dep(a: argparse.Namespace, c: Context) -> int:
    target = a.depends_on or a.blocked_by
    if not target:
        raise UserError("task dep: give the task it depends on (DEPENDS_ON or --blocked-by)")
    return _cmd("task").task_dep(c.store, a.action, a.issue_id, target, dep_type=a.type,
                                 actor=c.actor, as_json=a.as_json)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orchestrator",
                     description="Drain a Beads task queue with AI coding agents.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    _add_queue_commands(sub, common)
    _add_agent_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        ctx = Context(repo=Path(args.repo), config_path=args.config, store_kind=args.store,
                      actor_flag=args.actor)
        if not ctx.repo.is_dir():
            raise UserError(f"--repo {args.repo}: not a directory")
        return args.func(args, ctx)
    except UserError as e:
        print(f"orchestrator: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("orchestrator: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `orchestrator ready | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
