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
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore


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
        # one line, exit 2, as every other user error; main() already prints "orchestrator: "
        where = self.prog.removeprefix("orchestrator").strip()
        raise UserError(f"{where}: {message}" if where else message)


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
    p.set_defaults(func=lambda a, c: _cmd("status").status(
        c.store, as_json=a.as_json, escalation_label=c.config.github.escalation_label))

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


def _require_queue(c: Context) -> None:
    """plan/cycle/run in a directory with no queue would report "drained" and exit 0, which
    looks like success when it is the wrong directory: say so first, before any other check.
    (`ready` and `status` keep bd's quiet "Nothing is ready.")"""
    if c.store.kind != "jsonl":
        return
    path = c.repo / c.config.jsonl.path
    if not path.is_file():
        raise UserError(f"no task queue in {c.repo.resolve()}: {c.config.jsonl.path} does not exist; "
                        "start one with `orchestrator task create TITLE` or "
                        "`orchestrator phase start --phase NAME --plan FILE` (or use --repo DIR)")


def _add_dispatch_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """plan, cycle, run, phase, demo: the coordinator (orchestrator/dispatch/)."""

    def _coordinator(a: argparse.Namespace, c: Context, *, echo: Callable[[str], None] | None = None):  # noqa: ANN202
        import dataclasses

        from orchestrator.coordinator.local import Coordinator
        from orchestrator.forge.local import LocalForge

        config = c.config
        _require_queue(c)
        override = getattr(a, "max_parallel", None)
        if override is not None:
            if override < 1:
                raise UserError(f"--max-parallel must be at least 1, got {override}")
            config = dataclasses.replace(
                config, dispatch=dataclasses.replace(config.dispatch, max_parallel=override))
        out = sys.stderr if getattr(a, "as_json", False) else sys.stdout
        forge = LocalForge(c.repo / "logs" / "status.md", out=out, echo=echo)
        return Coordinator(repo=c.repo, store=c.store, config=config, forge=forge,
                           actor=c.actor_flag or config.bd.actor, config_path=c.config_path,
                           store_kind=c.store_kind)

    def _run(a: argparse.Namespace, c: Context) -> int:
        run = _cmd("run")
        progress = run.Progress(sys.stdout, live=run.is_tty(sys.stdout))
        return run.run(_coordinator(a, c, echo=progress.echo), progress)

    p = sub.add_parser("plan", parents=[common], help="the next cycle's decisions (no side effects)")
    _json(p)
    p.set_defaults(func=lambda a, c: _cmd("plan").plan(_coordinator(a, c), as_json=a.as_json))

    p = sub.add_parser("cycle", parents=[common], help="one dispatch cycle: claim, launch, apply")
    _json(p)
    p.add_argument("--dry-run", action="store_true", help="print what it would do, change nothing")
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.add_argument("--task", metavar="ID", help="launch only this task (it must be ready)")
    p.set_defaults(func=lambda a, c: _cmd("cycle").cycle(
        _coordinator(a, c), dry_run=a.dry_run, as_json=a.as_json, task=a.task))

    p = sub.add_parser("run", parents=[common], help="the coordinator loop until nothing is ready")
    p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")
    p.set_defaults(func=_run)

    phase = sub.add_parser("phase", parents=[common], help="phases of work")
    psub = phase.add_subparsers(dest="phase_command", required=True, metavar="ACTION",
                                parser_class=_Parser)
    p = psub.add_parser("start", parents=[common], help="create the bootstrap task of a new phase")
    _json(p)
    p.add_argument("--phase", required=True, help="phase name, e.g. phase2")
    p.add_argument("--plan", required=True, dest="plan_file", help="implementation plan file")
    p.add_argument("--tests", dest="tests_file", help="test specification file")
    p.add_argument("--regression-cmd", help="must pass before a new phase starts (run, no shell)")
    p.add_argument("--prompt", default=None,
                   help="a file the task tells the agent to read for its instructions (default: "
                        "none; the orchestrator gives it the packaged feature-planning prompt, "
                        "which a repo may override in prompt/plan_features.txt)")
    p.set_defaults(func=lambda a, c: _cmd("phase").phase_start(
        c.store, repo=c.repo, phase=a.phase, plan=a.plan_file, tests=a.tests_file,
        regression_cmd=a.regression_cmd, prompt=a.prompt, actor=c.actor, as_json=a.as_json))

    p = sub.add_parser("demo", help="drain a small phase in a throwaway repo with a scripted agent")
    p.add_argument("dir", nargs="?", help="where to create the demo repository (default: a temp dir)")
    p.set_defaults(func=lambda a, c: _cmd("demo").demo(a.dir))


def _add_git_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("merge-driver", parents=[common],
                       help="git merge driver for issues.jsonl: merge-driver %%O %%A %%B [%%P]")
    p.add_argument("base", type=Path, metavar="BASE", help="%%O: the common ancestor's version")
    p.add_argument("ours", type=Path, metavar="OURS", help="%%A: our version; the result is written here")
    p.add_argument("theirs", type=Path, metavar="THEIRS", help="%%B: their version")
    p.add_argument("path", nargs="?", default="", metavar="PATH", help="%%P: the file's path, for messages")
    p.set_defaults(func=lambda a, c: _cmd("merge_driver").merge_driver(
        a.base, a.ours, a.theirs, name=a.path))

    p = sub.add_parser("hook", parents=[common], help="run one git hook (called by the installed shims)")
    p.add_argument("hook_name", metavar="NAME",
                   help="pre-commit | commit-msg | pre-push | post-merge | post-checkout")
    p.add_argument("hook_args", nargs=argparse.REMAINDER, metavar="ARG", help="git's hook arguments")
    p.set_defaults(func=lambda a, c: _cmd("hook").hook(c, a.hook_name, a.hook_args))

    p = sub.add_parser("hooks", parents=[common], help="install, uninstall or show the git hooks")
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.set_defaults(func=lambda a, c: _cmd("hooks").hooks(c, a.action))


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


def _add_setup_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from orchestrator.workflows import ACTION

    p = sub.add_parser("init", parents=[common],
                       help="set up this repository for the GitHub workflow (docs/github.md)")
    p.add_argument("--force", action="store_true", help="replace files that differ from init's")
    p.add_argument("--prompts", action="store_true",
                   help="also copy the prompt templates into prompt/ to edit them")
    p.add_argument("--action", default=ACTION, metavar="OWNER/REPO@REF",
                   help=f"the orchestrator action the workflows use (default: {ACTION})")
    p.set_defaults(func=lambda a, c: _cmd("init").init(
        c.repo, force=a.force, prompts=a.prompts, action=a.action,
        ask=_cmd("init").terminal_question if sys.stdin is not None and sys.stdin.isatty() else None))


def _add_job_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`job plan|agent|report`: the GitHub workflow's jobs (action.yml; docs/github.md)."""
    job = sub.add_parser("job", parents=[common], help="the GitHub workflow's jobs (action.yml runs them)")
    jsub = job.add_subparsers(dest="job_command", required=True, metavar="JOB", parser_class=_Parser)

    def chain(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cycle", type=int, default=1, help="this run's cycle number in its chain")
        p.add_argument("--chain-id", default="", help="the chain (default: a new one)")
        p.add_argument("--max-parallel", type=int, help="override dispatch.max_parallel")

    def config_for(a: argparse.Namespace, c: Context) -> Config:
        import dataclasses
        if a.max_parallel is None:
            return c.config
        if a.max_parallel < 1:
            raise UserError(f"--max-parallel must be at least 1, got {a.max_parallel}")
        return dataclasses.replace(c.config, dispatch=dataclasses.replace(
            c.config.dispatch, max_parallel=a.max_parallel))

    def agent_config(a: argparse.Namespace, c: Context) -> Config:
        import dataclasses
        changes = {k: v for k, v in (("profile", a.profile), ("model", a.model)) if v}
        return dataclasses.replace(c.config, agent=dataclasses.replace(c.config.agent, **changes))

    def stores(c: Context) -> Callable[[], TaskStore]:
        _require_queue(c)
        return lambda: open_store(c.repo, c.config, c.store_kind)

    p = jsub.add_parser("plan", parents=[common], help="plan, claim and push the claims; outputs the matrix")
    chain(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan and the comment; change nothing")
    p.set_defaults(func=lambda a, c: _cmd("job").plan(
        c.repo, stores(c), config_for(a, c), actor=c.actor_flag or c.config.bd.actor,
        cycle=a.cycle, chain_id=a.chain_id, dry_run=a.dry_run))

    p = jsub.add_parser("agent", parents=[common], help="run the agent on one claimed task (read-only)")
    p.add_argument("--task", required=True, metavar="ID")
    p.add_argument("--attempt", required=True, type=int)
    p.add_argument("--budget", default="")
    p.add_argument("--kind", default="")
    p.add_argument("--result-dir", required=True, type=Path, help="where the result bundle goes")
    p.add_argument("--profile", choices=("claude", "codex", "command"), help="override agent.profile")
    p.add_argument("--model", help="override agent.model")
    p.set_defaults(func=lambda a, c: _cmd("job").agent(
        c.repo, c.store, agent_config(a, c), task_id=a.task, attempt=a.attempt, budget=a.budget,
        kind=a.kind, result_dir=a.result_dir, config_path=c.config_path, store_kind=c.store_kind))

    p = jsub.add_parser("report", parents=[common], help="apply one task's result, push, report, dispatch")
    chain(p)
    p.add_argument("--task", required=True, metavar="ID")
    p.add_argument("--attempt", required=True, type=int)
    p.add_argument("--result-dir", required=True, type=Path, help="the downloaded result bundle")
    p.add_argument("--agent-job", default="", help="the agent job's result (success, failure, cancelled)")
    p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")
    p.set_defaults(func=lambda a, c: _cmd("job").report(
        c.repo, stores(c), config_for(a, c), actor=c.actor_flag or c.config.bd.actor,
        task_id=a.task, attempt=a.attempt, result_dir=a.result_dir, agent_job=a.agent_job,
        cycle=a.cycle, chain_id=a.chain_id, token=a.token))


def _add_github_commands(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """report and command: the GitHub forge (orchestrator/forge/github.py, docs/github.md)."""
    def token(p: argparse.ArgumentParser) -> None:
        p.add_argument("--token", help="GitHub token (default: $GITHUB_TOKEN)")

    p = sub.add_parser("report", parents=[common],
                       help="post the status on GitHub and dispatch the next cycle (workflow's last job)")
    token(p)
    p.add_argument("--dispatch", action="store_true",
                   help="dispatch cycle N+1 of the chain unless drained or a guard stops it")
    p.add_argument("--cycle", type=int, help="this cycle's number (default: $ORCHESTRATOR_CYCLE, 1)")
    p.add_argument("--chain-id", help="the chain (default: $ORCHESTRATOR_CHAIN_ID, a new one)")
    p.add_argument("--artifact", action="append", default=[], metavar="NAME",
                   help="an artifact of this run holding agent logs (repeatable)")
    p.set_defaults(func=_report)

    p = sub.add_parser("command", parents=[common],
                       help="act on an /orchestrator comment (issue_comment event)")
    token(p)
    p.add_argument("--event", help="event payload file (default: $GITHUB_EVENT_PATH)")
    p.set_defaults(func=lambda a, c: _cmd("command").command(
        c.repo, c.store, c.config, token=a.token, actor=c.actor_flag or c.config.bd.actor,
        event_path=a.event))


def _report(a: argparse.Namespace, c: Context) -> int:
    _require_queue(c)
    return _cmd("report").report(c.repo, c.store, c.config, dispatch=a.dispatch, cycle=a.cycle,
                                 chain_id=a.chain_id, artifacts=a.artifact, token=a.token)


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
    _add_dispatch_commands(sub, common)
    _add_git_commands(sub, common)
    _add_agent_commands(sub, common)
    _add_setup_commands(sub, common)
    _add_github_commands(sub, common)
    _add_job_commands(sub, common)
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
