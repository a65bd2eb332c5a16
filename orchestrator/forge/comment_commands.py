"""`/orchestrator run | stop | retry ID | status` written in an issue or pull request comment.

Who may: a person with write, maintain or admin permission on the repository, asked of GitHub
(`GET /repos/{owner}/{repo}/collaborators/{username}/permission`), not read from the event's
`author_association`; a bot only when `github.allowed_bots` names it; never on a pull request
from a fork. Anyone else gets a 👎 reaction and nothing happens.

The comment body is data: it is matched against fixed words (forge/comments.parse_command) and
never reaches a shell, a workflow expression or a reply (replies are fixed text).

What a command changes in the queue goes through `edit_queue`, which the caller gives: in the
workflow it makes the edit at the branch's tip and pushes it (coordinator/jobs.edit_job), so the
change outlives the job; run by hand it edits the checkout."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.forge import actions
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.comments import USAGE, Command, parse_command
from orchestrator.forge.github import ForgeError, GitHubApi
from orchestrator.forge.report import new_chain_id, parse_target
from orchestrator.forge.state import load_state
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import TaskChanges, TaskStore

WRITERS = frozenset({"admin", "maintain", "write"})
# runs an edit of the queue where it lasts, and returns the edit's answer
QueueEdit = Callable[[Callable[[TaskStore], str]], str]


@dataclass(frozen=True)
class CommentEvent:
    action: str
    issue_number: int
    comment_id: int
    body: str
    author: str
    author_is_bot: bool
    on_pull_request: bool


def read_event(path: str) -> CommentEvent:
    """The `issue_comment` payload at GITHUB_EVENT_PATH."""
    if not path:
        raise UserError("GITHUB_EVENT_PATH is not set: `orchestrator command` reads an "
                        "issue_comment event (run it from a workflow `on: issue_comment`)")
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
        comment, issue = data["comment"], data["issue"]
        user = comment.get("user") or {}
        login = str(user.get("login") or "")
        return CommentEvent(
            action=str(data.get("action", "")), issue_number=int(issue["number"]),
            comment_id=int(comment["id"]), body=str(comment.get("body") or ""), author=login,
            author_is_bot=user.get("type") == "Bot" or login.endswith("[bot]"),
            on_pull_request=bool(issue.get("pull_request")))
    except FileNotFoundError:
        raise UserError(f"{path}: event file not found") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not an issue_comment event ({type(e).__name__}: {e})") from None


def refusal(api: GitHubApi, env: ActionsEnv, config: Config, event: CommentEvent) -> str:
    """Why this commenter's command is not honoured, or '' when it is."""
    if event.author_is_bot and event.author not in config.github.allowed_bots:
        return f"{event.author} is a bot not named in github.allowed_bots"
    if not event.author:
        return "the comment has no author"
    permission = api.permission(event.author)
    if permission not in WRITERS:
        return f"{event.author} has {permission} permission (write, maintain or admin needed)"
    if event.on_pull_request:
        head = api.pull_head_repository(event.issue_number)
        if head != env.repository:
            return f"#{event.issue_number} is a pull request from a fork ({head or 'deleted'})"
    return ""


def _label_target(config: Config, repo: Path, event: CommentEvent) -> int:
    """Where the pause label goes: the status comment's issue/PR (what the report reads)."""
    kind, number = parse_target(config.github.status_target)
    if kind != "auto":
        return number
    return load_state(repo / config.github.state_file).target or event.issue_number


def handle_comment(repo: Path, config: Config, env: ActionsEnv,
                   api_factory: Callable[[], GitHubApi], event: CommentEvent, *, actor: str,
                   edit_queue: QueueEdit, refresh_status: Callable[[GitHubApi], int],
                   out: TextIO) -> int:
    cmd = parse_command(event.body)
    if cmd is None or event.action != "created":
        print("command: no /orchestrator command in a new comment; nothing to do", file=out)
        return 0
    api = api_factory()
    try:
        why = refusal(api, env, config, event)
        if why:
            api.react(event.issue_number, event.comment_id, "-1")
            print(f"command: refused: {why}", file=out)
            return 0
        return _execute(repo, config, env, api, event, cmd, actor=actor, edit_queue=edit_queue,
                        refresh_status=refresh_status, out=out)
    except ForgeError as e:
        actions.error(str(e), title="orchestrator command", out=out)
        return 1


def _execute(repo: Path, config: Config, env: ActionsEnv, api: GitHubApi, event: CommentEvent,
             cmd: Command, *, actor: str, edit_queue: QueueEdit,
             refresh_status: Callable[[GitHubApi], int], out: TextIO) -> int:
    n, cid = event.issue_number, event.comment_id
    if cmd.verb == "unknown":
        api.react(n, cid, "confused")
        api.create_comment(n, f"@{event.author} that is not a command I know. {USAGE}")
        print("command: not a known command; replied with the usage", file=out)
        return 0
    if cmd.verb == "stop":  # a label on the issue: no file changes, nothing to push
        target = _label_target(config, repo, event)
        api.add_labels(target, [config.github.pause_label])
        api.react(n, cid, "+1")
        print(f"command: paused: label {config.github.pause_label} on #{target}", file=out)
        return 0
    if cmd.verb == "run":
        workflow = config.github.workflow or env.workflow_file
        if not workflow or not env.ref_name:
            raise UserError("cannot start a chain: set github.workflow (the workflow file to "
                            "dispatch); GITHUB_REF_NAME comes from the runner")
        target = _label_target(config, repo, event)
        api.remove_label(target, config.github.pause_label)
        chain = new_chain_id(env)
        api.dispatch(workflow, env.ref_name, {"cycle": "1", "chain_id": chain})
        api.react(n, cid, "rocket")
        print(f"command: started chain {chain}: dispatched {workflow} on {env.ref_name}",
              file=out)
        return 0
    if cmd.verb == "retry":
        return _retry(repo, config, api, event, cmd.task_id, actor=actor, edit_queue=edit_queue,
                      reset_branch=cmd.reset_branch, out=out)
    api.react(n, cid, "eyes")
    return refresh_status(api)


def reopen_escalated(store: TaskStore, config: Config, task_id: str, *, actor: str) -> str:
    """`orchestrator task update ID --status open` for a task that waits for a human: the next
    launch drops the escalation label and the attempt count starts afresh after the escalated
    record. Returns why not ('' when reopened)."""
    task = store.all().get(task_id)
    if task is None:
        return "no such task"
    if not (task.status == Status.BLOCKED or config.github.escalation_label in task.labels):
        return "it is not waiting for a human"
    store.update([task_id], TaskChanges(status=Status.OPEN), actor=actor)
    return ""


def _retry(repo: Path, config: Config, api: GitHubApi, event: CommentEvent, task_id: str, *,
           actor: str, edit_queue: QueueEdit, reset_branch: bool, out: TextIO) -> int:
    n, cid = event.issue_number, event.comment_id
    why = edit_queue(lambda store: reopen_escalated(store, config, task_id, actor=actor))
    if why:
        api.react(n, cid, "confused")
        api.create_comment(n, f"@{event.author} cannot retry {task_id}: {why}.")
        print(f"command: retry {task_id} refused: {why}", file=out)
        return 0
    if reset_branch:
        # the clean restart of `task update ID --status open --reset-branch`: the next attempt
        # starts from the working branch, not from the escalated work (kept, archived)
        from orchestrator import gitops
        archived = gitops.archive_task_branch(repo, task_id)
        print(f"command: {task_id}: branch {gitops.task_branch(task_id)} "
              + (f"archived as {archived}" if archived else "absent: nothing to reset"),
              file=out)
    api.react(n, cid, "+1")
    print(f"command: reopened {task_id}; `/orchestrator run` starts a chain", file=out)
    return 0
