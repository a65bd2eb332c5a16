"""Argument parsing only: build the command tree, find the repository, build adapters, call a
command.

Every command lives in orchestrator/commands/<name>.py as a function that takes plain arguments
and returns its exit code. To add one: add its parser to the group it belongs to
(`_add_*_commands`) with `set_defaults(func=_name)`, and write `_name(a, c)` beside it, which
imports the command and calls it with explicit arguments (`c.queue` for a store that must exist,
`c.store` for one the command may create). Every option gets a one-line help
(tests/test_cli_help.py checks).

The queue commands (ready, status, show, task) are imported here; the others import theirs in
their handler, because those modules load GitPython, the agent machinery or the merge code:
`ready`, `status` and the `task` calls agents make all the time start in about half the time
without them."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from orchestrator import __version__
from orchestrator.commands.ready import ready
from orchestrator.commands.show import show
from orchestrator.commands.status import status
from orchestrator.commands.task import (
    task_close,
    task_comment,
    task_create,
    task_dep,
    task_show,
    task_update,
)
from orchestrator.config import STOP_FILE, Config, config_for_repo, find_root
from orchestrator.errors import UserError
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.graph import SORT_POLICIES, ReadyFilter
from orchestrator.tasks.model import Status, parse_priority
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore
from orchestrator.tasks.vocab import DEP_TYPE_HELP, STATUS_HELP, TYPE_HELP

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # one line, exit 2, as every other user error; main() already prints "orchestrator: "
        where = self.prog.removeprefix("orchestrator").strip()
        raise UserError(f"{where}: {message}" if where else message)


Sub: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--repo", default=default,
                        help="a directory in the repository (default: the current one); its "
                             "root is found the way git finds it")
    parser.add_argument("--config", default=default, help="config file (default: ROOT/.orchestrator.yml)")
    parser.add_argument("--store", choices=("auto", "bd", "jsonl"), default=default,
                        help="task store (default: config `store`, auto)")
    parser.add_argument("--actor", default=default, help="who is acting (default: $BD_ACTOR, $USER)")


def _json(parser: argparse.ArgumentParser, *, bd: bool = True) -> None:
    parser.add_argument("--json", action="store_true", dest="as_json",
                        help="print JSON (bd's shapes)" if bd else "print JSON")


def _priority(text: str) -> int:
    try:
        return parse_priority(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _flatten(values: list[list[str]] | None) -> tuple[str, ...]:
    return tuple(x for group in values or () for x in group)


def _group(sub: Sub, name: str, common: _Parser, help: str, dest: str) -> Sub:
    parser = sub.add_parser(name, parents=[common], help=help, description=help)
    return parser.add_subparsers(dest=dest, required=True, metavar="ACTION", parser_class=_Parser)


# -- the queue: ready, status, show, task ... ----------------------------------------------------

def _add_queue_commands(sub: Sub, common: _Parser) -> None:
    p = sub.add_parser("ready", parents=[common], help="tasks that can start now (bd ready)")
    _json(p)
    p.add_argument("-n", "--limit", type=int, default=0, help="at most N tasks (0 = all)")
    p.add_argument("-s", "--sort", choices=SORT_POLICIES, default="priority",
                   help="order (default: priority)")
    p.add_argument("-a", "--assignee", help="only tasks assigned to this actor")
    p.add_argument("-u", "--unassigned", action="store_true",
                   help="only unassigned tasks (wins over --assignee, as in bd)")
    p.add_argument("-l", "--label", type=_csv, action="append", help="all of these labels")
    p.add_argument("--label-any", type=_csv, action="append", help="any of these labels")
    p.add_argument("-p", "--priority", type=_priority, help="only this priority (0-4 or P0-P4)")
    p.add_argument("-t", "--type", dest="only_type", help=f"only this type: {TYPE_HELP}")
    p.add_argument("--exclude-type", type=_csv, action="append", help="not these types (comma-separated)")
    p.add_argument("--parent", help="only descendants of this task")
    p.add_argument("--include-deferred", action="store_true", help="also deferred tasks")
    p.add_argument("--include-ephemeral", action="store_true", help="also ephemeral tasks")
    p.set_defaults(func=_ready)

    help = "queue counts by status, phases, running, escalated and blocked tasks, the kill switch"
    p = sub.add_parser("status", parents=[common], help=help, description=help)
    _json(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("show", parents=[common], help="one or more tasks in full (bd show)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.set_defaults(func=_show)

    tsub = _group(sub, "task", common, "bd-compatible task edits for any store", "task_command")

    p = tsub.add_parser("show", parents=[common], help="show tasks")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.set_defaults(func=_task_show)

    p = tsub.add_parser("close", parents=[common], help="close tasks (bd close)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.add_argument("-r", "--reason", "--resolution", "-m", "--comment", default="Closed",
                   help="why it is closed (default: Closed)")
    p.add_argument("-f", "--force", action="store_true", help="close despite open blockers/children")
    p.set_defaults(func=_task_close)

    p = tsub.add_parser("update", parents=[common], help="update tasks (bd update)")
    _json(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.add_argument("-s", "--status", help=f"new status: {STATUS_HELP}")
    p.add_argument("-p", "--priority", type=_priority, help="new priority (0-4 or P0-P4)")
    p.add_argument("--title", help="new title")
    p.add_argument("-t", "--type", dest="issue_type", help=f"new type: {TYPE_HELP}")
    p.add_argument("-a", "--assignee", help="new assignee ('' to clear)")
    p.add_argument("-d", "--description", "--body", help="new description")
    p.add_argument("--design", help="new design notes")
    p.add_argument("--acceptance", help="new acceptance criteria")
    p.add_argument("--notes", help="new notes (replaces them)")
    p.add_argument("--append-notes", help="text added to the notes")
    p.add_argument("--add-label", type=_csv, action="append", help="add labels (comma-separated)")
    p.add_argument("--remove-label", type=_csv, action="append", help="remove labels (comma-separated)")
    p.add_argument("--set-labels", type=_csv, help="replace all labels (comma-separated)")
    p.add_argument("--claim", action="store_true", help="atomically claim (open -> in_progress, assignee = actor)")
    p.add_argument("--reset-branch", action="store_true",
                   help="with --status open: archive the task's branch (orchestrator/ID) so the "
                        "next attempt starts fresh from the working branch")
    p.set_defaults(func=_task_update)

    p = tsub.add_parser("create", parents=[common], help="create a task (bd create)")
    _json(p)
    p.add_argument("title_arg", nargs="?", metavar="TITLE", help="the title (or --title)")
    p.add_argument("--title", help="the title")
    p.add_argument("-t", "--type", default="task", help=f"type (default: task): {TYPE_HELP}")
    p.add_argument("-p", "--priority", type=_priority, default=2, help="priority 0-4 or P0-P4 (default: 2)")
    p.add_argument("-d", "--description", "--body", default="", help="description")
    p.add_argument("--design", default="", help="design notes")
    p.add_argument("--acceptance", default="", help="acceptance criteria")
    p.add_argument("--notes", default="", help="notes")
    p.add_argument("-a", "--assignee", default="", help="assignee")
    p.add_argument("-l", "--labels", "--label", type=_csv, action="append", help="labels (comma-separated)")
    p.add_argument("--parent", help="the parent task (a parent-child dependency)")
    p.add_argument("--deps", type=_csv, action="append",
                   help="'id' or 'type:id' (this task depends on id); 'blocks:id' (this task blocks id)")
    p.add_argument("--id", dest="explicit_id", help="this ID instead of a generated one")
    p.add_argument("--silent", action="store_true", help="print only the new ID")
    p.set_defaults(func=_task_create)

    p = tsub.add_parser("dep", parents=[common], help="add or remove a dependency (bd dep)")
    _json(p)
    p.add_argument("action", choices=("add", "remove", "rm"), help="add, or remove (rm)")
    p.add_argument("issue_id", metavar="ISSUE", help="the task that depends")
    p.add_argument("depends_on", nargs="?", metavar="DEPENDS_ON", help="the task it depends on")
    p.add_argument("--blocked-by", "--depends-on", dest="blocked_by", help="the task it depends on")
    p.add_argument("-t", "--type", default="blocks", help=DEP_TYPE_HELP)
    p.set_defaults(func=_task_dep)

    p = tsub.add_parser("comment", parents=[common], help="add a comment (bd comment)")
    _json(p)
    p.add_argument("task_id", metavar="ID", help="the task")
    p.add_argument("text", nargs="+", help="the comment (words are joined)")
    p.add_argument("--author", help="default: the actor")
    p.set_defaults(func=_task_comment)


def _ready(a: argparse.Namespace, c: Context) -> int:
    # bd semantics: epics are ready unless excluded (the dispatcher excludes them by config)
    flt = ReadyFilter(
        exclude_types=frozenset(_flatten(a.exclude_type)), only_type=a.only_type, assignee=a.assignee,
        unassigned=a.unassigned, labels=_flatten(a.label), labels_any=_flatten(a.label_any),
        priority=a.priority, parent=a.parent, include_deferred=a.include_deferred,
        include_ephemeral=a.include_ephemeral)
    if a.limit < 0:
        raise UserError("--limit must be 0 (all) or more")
    return ready(c.queue, filter=flt, sort=a.sort, limit=a.limit, as_json=a.as_json)


def _status(a: argparse.Namespace, c: Context) -> int:
    return status(c.queue, as_json=a.as_json, escalation_label=c.config.github.escalation_label,
                  stop_file=c.repo / STOP_FILE)


def _show(a: argparse.Namespace, c: Context) -> int:
    return show(c.queue, a.ids, as_json=a.as_json)


def _task_show(a: argparse.Namespace, c: Context) -> int:
    return task_show(c.queue, a.ids, as_json=a.as_json)


def _task_close(a: argparse.Namespace, c: Context) -> int:
    return task_close(c.queue, a.ids, reason=a.reason, force=a.force, actor=c.actor,
                      as_json=a.as_json)


def _task_update(a: argparse.Namespace, c: Context) -> int:
    if a.reset_branch and a.status != Status.OPEN:
        raise UserError("task update: --reset-branch goes with --status open (a restart)")
    changes = TaskChanges(
        status=a.status, title=a.title, description=a.description, design=a.design,
        acceptance_criteria=a.acceptance, notes=a.notes, append_notes=a.append_notes,
        assignee=a.assignee, priority=a.priority, issue_type=a.issue_type,
        add_labels=_flatten(a.add_label), remove_labels=_flatten(a.remove_label),
        set_labels=tuple(a.set_labels) if a.set_labels is not None else None)
    return task_update(c.queue, a.ids, changes, claim=a.claim, actor=c.actor, as_json=a.as_json,
                       reset_branch_in=c.repo if a.reset_branch else None)


def _task_create(a: argparse.Namespace, c: Context) -> int:
    title = a.title or a.title_arg
    if not title:
        raise UserError("task create: a title is required (positional or --title)")
    new = NewTask(title=title, issue_type=a.type, priority=a.priority, description=a.description,
                  design=a.design, acceptance_criteria=a.acceptance, notes=a.notes,
                  assignee=a.assignee, labels=_flatten(a.labels), parent=a.parent,
                  deps=_flatten(a.deps), id=a.explicit_id)
    return task_create(c.store, new, actor=c.actor, silent=a.silent, as_json=a.as_json)


def _task_dep(a: argparse.Namespace, c: Context) -> int:
    target = a.depends_on or a.blocked_by
    if not target:
        raise UserError("task dep: give the task it depends on (DEPENDS_ON or --blocked-by)")
    return task_dep(c.queue, a.action, a.issue_id, target, dep_type=a.type, actor=c.actor,
                    as_json=a.as_json)


def _task_comment(a: argparse.Namespace, c: Context) -> int:
    return task_comment(c.queue, a.task_id, " ".join(a.text), author=a.author or c.actor,
                        as_json=a.as_json)


# -- the coordinator: plan, cycle, run, phase, demo ----------------------------------------------

def _add_dispatch_commands(sub: Sub, common: _Parser) -> None:
    p = sub.add_parser("plan", parents=[common], help="the next cycle's decisions (no side effects)")
    _json(p, bd=False)
    p.set_defaults(func=_plan)

    p = sub.add_parser("cycle", parents=[common], help="one dispatch cycle: claim, launch, apply")
    _json(p, bd=False)
    p.add_argument("--dry-run", action="store_true", help="print what it would do, change nothing")
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.add_argument("--task", metavar="ID", help="launch only this task (it must be ready)")
    p.set_defaults(func=_cycle)

    help = "the coordinator loop until nothing is ready"
    p = sub.add_parser("run", parents=[common], help=help, description=help, epilog=RUN_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.set_defaults(func=_run)

    psub = _group(sub, "phase", common, "phases of work", "phase_command")
    p = psub.add_parser("start", parents=[common], help="create the bootstrap task of a new phase")
    _json(p, bd=False)
    p.add_argument("--phase", required=True, help="phase name, e.g. phase2")
    p.add_argument("--plan", required=True, dest="plan_file", help="implementation plan file")
    p.add_argument("--tests", dest="tests_file", help="test specification file")
    p.add_argument("--regression-cmd", help="must pass before a new phase starts (run, no shell)")
    p.add_argument("--prompt", default=None,
                   help="a file the task tells the agent to read for its instructions (default: "
                        "none; the orchestrator gives it the packaged feature-planning prompt, "
                        "which a repo may override in prompt/plan_features.txt)")
    p.set_defaults(func=_phase_start)

    p = sub.add_parser("demo", help="drain a small phase in a throwaway repo with a scripted agent")
    p.add_argument("dir", nargs="?", help="where to create the demo repository (default: a temp dir)")
    p.set_defaults(func=_demo)


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


def _demo(a: argparse.Namespace, c: Context) -> int:
    from orchestrator.commands.demo import demo
    # The demo drives the CLI as a user would type it: it gets `main` rather than importing it.
    return demo(a.dir, cli=main)


# -- git: hooks, and the hook and merge driver git calls -------------------------------------------

def _add_git_commands(sub: Sub, common: _Parser) -> None:
    hsub = _group(sub, "hooks", common, "install, uninstall or show the git hooks", "hooks_command")
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


# -- agents: agent, logs ---------------------------------------------------------------------------

def _add_agent_commands(sub: Sub, common: _Parser) -> None:
    p = sub.add_parser("agent", parents=[common], help="run one agent on one task (manual single task)")
    _json(p, bd=False)
    p.add_argument("--task", required=True, metavar="ID", help="the task to work on")
    p.add_argument("--attempt", type=int, help="attempt number (default: recorded attempts + 1)")
    p.add_argument("--profile", choices=("claude", "codex", "command"),
                   help="agent profile (default: the task's agent:<profile> label, else config)")
    p.add_argument("--budget", help="thinking budget (default: agent.budgets for the attempt)")
    p.set_defaults(func=_agent)

    lsub = _group(sub, "logs", common, "agent run logs (logs/run/)", "logs_command")
    p = lsub.add_parser("list", parents=[common], help="recent runs with their outcome")
    _json(p, bd=False)
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


def _add_github_commands(sub: Sub, common: _Parser) -> None:
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


def _add_setup_commands(sub: Sub, common: _Parser) -> None:
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


def _add_job_commands(sub: Sub, common: _Parser) -> None:
    """`job plan|agent|report`: the GitHub workflow's jobs (action.yml runs them; docs/github.md)."""
    jsub = _group(sub, "job", common, "the GitHub workflow's jobs (action.yml runs them)",
                  "job_command")

    def chain(p: _Parser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orchestrator",
                     description="Drain a Beads task queue with AI coding agents.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    common = _Parser(add_help=False)
    _common(common, suppress=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    _add_queue_commands(sub, common)
    _add_dispatch_commands(sub, common)
    _add_git_commands(sub, common)
    _add_agent_commands(sub, common)
    _add_github_commands(sub, common)
    _add_setup_commands(sub, common)
    _add_job_commands(sub, common)
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
