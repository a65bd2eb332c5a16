"""The queue commands: ready, status, show, task (bd-compatible, for any store)."""
from __future__ import annotations

import argparse

from orchestrator.cli.base import (
    Context,
    Parser,
    Sub,
    csv_arg,
    flatten,
    group,
    json_option,
    priority_arg,
)
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
from orchestrator.config import STOP_FILE
from orchestrator.errors import UserError
from orchestrator.tasks.graph import SORT_POLICIES, ReadyFilter
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import NewTask, TaskChanges
from orchestrator.tasks.vocab import DEP_TYPE_HELP, STATUS_HELP, TYPE_HELP


def add_queue_commands(sub: Sub, common: Parser) -> None:
    p = sub.add_parser("ready", parents=[common], help="tasks that can start now (bd ready)")
    json_option(p)
    p.add_argument("-n", "--limit", type=int, default=0, help="at most N tasks (0 = all)")
    p.add_argument("-s", "--sort", choices=SORT_POLICIES, default="priority",
                   help="order (default: priority)")
    p.add_argument("-a", "--assignee", help="only tasks assigned to this actor")
    p.add_argument("-u", "--unassigned", action="store_true",
                   help="only unassigned tasks (wins over --assignee, as in bd)")
    p.add_argument("-l", "--label", type=csv_arg, action="append", help="all of these labels")
    p.add_argument("--label-any", type=csv_arg, action="append", help="any of these labels")
    p.add_argument("-p", "--priority", type=priority_arg, help="only this priority (0-4 or P0-P4)")
    p.add_argument("-t", "--type", dest="only_type", help=f"only this type: {TYPE_HELP}")
    p.add_argument("--exclude-type", type=csv_arg, action="append", help="not these types (comma-separated)")
    p.add_argument("--parent", help="only descendants of this task")
    p.add_argument("--include-deferred", action="store_true", help="also deferred tasks")
    p.add_argument("--include-ephemeral", action="store_true", help="also ephemeral tasks")
    p.set_defaults(func=_ready)

    help = "queue counts by status, phases, running, escalated and blocked tasks, the kill switch"
    p = sub.add_parser("status", parents=[common], help=help, description=help)
    json_option(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("show", parents=[common], help="one or more tasks in full (bd show)")
    json_option(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.set_defaults(func=_show)

    tsub = group(sub, "task", common, "bd-compatible task edits for any store", "task_command")

    p = tsub.add_parser("show", parents=[common], help="show tasks")
    json_option(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.set_defaults(func=_task_show)

    p = tsub.add_parser("close", parents=[common], help="close tasks (bd close)")
    json_option(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.add_argument("-r", "--reason", "--resolution", "-m", "--comment", default="Closed",
                   help="why it is closed (default: Closed)")
    p.add_argument("-f", "--force", action="store_true", help="close despite open blockers/children")
    p.set_defaults(func=_task_close)

    p = tsub.add_parser("update", parents=[common], help="update tasks (bd update)")
    json_option(p)
    p.add_argument("ids", nargs="+", metavar="ID", help="task IDs")
    p.add_argument("-s", "--status", help=f"new status: {STATUS_HELP}")
    p.add_argument("-p", "--priority", type=priority_arg, help="new priority (0-4 or P0-P4)")
    p.add_argument("--title", help="new title")
    p.add_argument("-t", "--type", dest="issue_type", help=f"new type: {TYPE_HELP}")
    p.add_argument("-a", "--assignee", help="new assignee ('' to clear)")
    p.add_argument("-d", "--description", "--body", help="new description")
    p.add_argument("--design", help="new design notes")
    p.add_argument("--acceptance", help="new acceptance criteria")
    p.add_argument("--notes", help="new notes (replaces them)")
    p.add_argument("--append-notes", help="text added to the notes")
    p.add_argument("--add-label", type=csv_arg, action="append", help="add labels (comma-separated)")
    p.add_argument("--remove-label", type=csv_arg, action="append", help="remove labels (comma-separated)")
    p.add_argument("--set-labels", type=csv_arg, help="replace all labels (comma-separated)")
    p.add_argument("--claim", action="store_true", help="atomically claim (open -> in_progress, assignee = actor)")
    p.add_argument("--reset-branch", action="store_true",
                   help="with --status open: archive the task's branch (orchestrator/ID) so the "
                        "next attempt starts fresh from the working branch")
    p.set_defaults(func=_task_update)

    p = tsub.add_parser("create", parents=[common], help="create a task (bd create)")
    json_option(p)
    p.add_argument("title_arg", nargs="?", metavar="TITLE", help="the title (or --title)")
    p.add_argument("--title", help="the title")
    p.add_argument("-t", "--type", default="task", help=f"type (default: task): {TYPE_HELP}")
    p.add_argument("-p", "--priority", type=priority_arg, default=2, help="priority 0-4 or P0-P4 (default: 2)")
    p.add_argument("-d", "--description", "--body", default="", help="description")
    p.add_argument("--design", default="", help="design notes")
    p.add_argument("--acceptance", default="", help="acceptance criteria")
    p.add_argument("--notes", default="", help="notes")
    p.add_argument("-a", "--assignee", default="", help="assignee")
    p.add_argument("-l", "--labels", "--label", type=csv_arg, action="append", help="labels (comma-separated)")
    p.add_argument("--parent", help="the parent task (a parent-child dependency)")
    p.add_argument("--deps", type=csv_arg, action="append",
                   help="'id' or 'type:id' (this task depends on id); 'blocks:id' (this task blocks id)")
    p.add_argument("--id", dest="explicit_id", help="this ID instead of a generated one")
    p.add_argument("--silent", action="store_true", help="print only the new ID")
    p.set_defaults(func=_task_create)

    p = tsub.add_parser("dep", parents=[common], help="add or remove a dependency (bd dep)")
    json_option(p)
    p.add_argument("action", choices=("add", "remove", "rm"), help="add, or remove (rm)")
    p.add_argument("issue_id", metavar="ISSUE", help="the task that depends")
    p.add_argument("depends_on", nargs="?", metavar="DEPENDS_ON", help="the task it depends on")
    p.add_argument("--blocked-by", "--depends-on", dest="blocked_by", help="the task it depends on")
    p.add_argument("-t", "--type", default="blocks", help=DEP_TYPE_HELP)
    p.set_defaults(func=_task_dep)

    p = tsub.add_parser("comment", parents=[common], help="add a comment (bd comment)")
    json_option(p)
    p.add_argument("task_id", metavar="ID", help="the task")
    p.add_argument("text", nargs="+", help="the comment (words are joined)")
    p.add_argument("--author", help="default: the actor")
    p.set_defaults(func=_task_comment)


def _ready(a: argparse.Namespace, c: Context) -> int:
    # bd semantics: epics are ready unless excluded (the dispatcher excludes them by config)
    flt = ReadyFilter(
        exclude_types=frozenset(flatten(a.exclude_type)), only_type=a.only_type, assignee=a.assignee,
        unassigned=a.unassigned, labels=flatten(a.label), labels_any=flatten(a.label_any),
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
        add_labels=flatten(a.add_label), remove_labels=flatten(a.remove_label),
        set_labels=tuple(a.set_labels) if a.set_labels is not None else None)
    return task_update(c.queue, a.ids, changes, claim=a.claim, actor=c.actor, as_json=a.as_json,
                       reset_branch_in=c.repo if a.reset_branch else None)


def _task_create(a: argparse.Namespace, c: Context) -> int:
    title = a.title or a.title_arg
    if not title:
        raise UserError("task create: a title is required (positional or --title)")
    new = NewTask(title=title, issue_type=a.type, priority=a.priority, description=a.description,
                  design=a.design, acceptance_criteria=a.acceptance, notes=a.notes,
                  assignee=a.assignee, labels=flatten(a.labels), parent=a.parent,
                  deps=flatten(a.deps), id=a.explicit_id)
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
