"""`orchestrator hook NAME [ARGS]`: run one git hook, what the installed shims call (installing
them is `orchestrator hooks`, commands/install_hooks.py and githooks.py).

- pre-commit: a staged issues.jsonl must parse as a valid queue (duplicate IDs, dangling
  dependencies, cycles through blocking edges: the same checks as the store); run logs and
  anything that looks like a token are refused.
- commit-msg: in an agent run (ORCHESTRATOR_TASK_ID set) add `Task: <id>` and `Attempt: <n>`
  trailers, once.
- pre-push: an agent run may not push to a protected branch (git.protected_branches).
- post-merge / post-checkout: when the queue file changed, re-validate it and print what is
  ready now (never fails the checkout or merge, which already happened).
"""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.githooks import HOOK_NAMES
from orchestrator.gitops import run_git, toplevel
from orchestrator.secrets import find_secrets
from orchestrator.tasks import graph
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.jsonl import parse

NULL_SHA = "0" * 40
RUN_LOG_DIRS = ("logs/run/",)


def _say(hook: str, message: str) -> None:
    print(f"orchestrator {hook}: {message}", file=sys.stderr)


def run_hook(repo: Path, config: Config, name: str, args: Sequence[str]) -> int:
    if name not in HOOK_NAMES:
        raise UserError(f"hook {name!r}: unknown (known: {', '.join(HOOK_NAMES)})")
    top = toplevel(repo)
    if name == "pre-commit":
        return pre_commit(top, config.jsonl.path)
    if name == "commit-msg":
        if not args:
            raise UserError("hook commit-msg: give the message file (git passes it)")
        return commit_msg(top, Path(args[0]))
    if name == "pre-push":
        if not os.environ.get("ORCHESTRATOR_TASK_ID", "").strip():
            return 0  # only agent runs are restricted (and stdin may be a terminal)
        return pre_push(config.git.protected_branches, args, sys.stdin.read())
    return post_change(top, name, args, config.jsonl.path,
                       frozenset(config.dispatch.exclude_types))


# -- pre-commit ---------------------------------------------------------------------------------

def pre_commit(top: Path, queue_path: str) -> int:
    staged = [p for p in run_git(top, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR")
              .stdout.split("\0") if p]
    problems: list[str] = []
    if queue_path in staged:
        data = run_git(top, "cat-file", "blob", f":{queue_path}").raw
        try:
            parse(Path(queue_path), data)
        except UserError as e:
            problems.append(f"{e} (the staged task queue is invalid)")
    log_dirs = list(RUN_LOG_DIRS)
    log_env = os.environ.get("ORCHESTRATOR_LOG_DIR")
    if log_env:
        rel = os.path.relpath(Path(log_env).resolve(), top.resolve())
        if not rel.startswith(".."):
            log_dirs.append(rel.rstrip("/") + "/")
    logs = [path for path in staged if any(path.startswith(d) or f"/{d}" in f"/{path}" for d in log_dirs)]
    if logs:  # one line, not one per file: a run directory holds several
        more = f" (and {len(logs) - 1} more run log file(s))" if len(logs) > 1 else ""
        problems.append(f"{logs[0]}{more}: run logs are uploaded as artifacts, not committed; "
                        "unstage them (git restore --staged PATH) and ignore logs/")
    problems += find_tokens(run_git(top, "diff", "--cached", "-U0", "--no-color", "--no-ext-diff",
                                    "--diff-filter=ACMR").raw)
    for p in problems:
        _say("pre-commit", p)
    if problems:
        _say("pre-commit", "commit refused")
    return 1 if problems else 0


def find_tokens(diff: bytes) -> list[str]:
    """'path:line: looks like a <kind>' for every added line of a unified diff (-U0) that does."""
    found: list[str] = []
    path, line = "", 0
    for raw in diff.decode("utf-8", "replace").split("\n"):
        if raw.startswith("+++ "):
            path = raw[4:].removeprefix("b/")
        elif raw.startswith("@@"):
            m = re.match(r"@@ -\S+ \+(\d+)", raw)
            line = int(m.group(1)) if m else 0
        elif raw.startswith("+"):
            # credentials an agent's environment holds must never be committed; the match is
            # reported by kind and place, never printed
            kinds = find_secrets(raw[1:], strict=True)
            if kinds:
                found.append(f"{path}:{line}: looks like a {kinds[0]}; remove it (and rotate it)")
            line += 1
    return found


# -- commit-msg ---------------------------------------------------------------------------------

def commit_msg(top: Path, message_file: Path) -> int:
    task_id = os.environ.get("ORCHESTRATOR_TASK_ID", "").strip()
    if not task_id:
        return 0
    path = message_file if message_file.is_absolute() else top / message_file
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"hook commit-msg: cannot read the message file {path}: {e.strerror}") from None
    if not any(line.strip() and not line.startswith("#") for line in text.splitlines()):
        return 0  # an empty message aborts the commit; a trailer must not rescue it
    args = ["interpret-trailers", "--in-place", "--if-exists", "addIfDifferent",
            "--trailer", f"Task: {task_id}"]
    attempt = os.environ.get("ORCHESTRATOR_ATTEMPT", "").strip()
    if attempt:
        args += ["--if-exists", "replace", "--trailer", f"Attempt: {attempt}"]
    run_git(top, *args, str(path))
    return 0


# -- pre-push -----------------------------------------------------------------------------------

def pre_push(protected: Sequence[str], args: Sequence[str], refs: str) -> int:
    task_id = os.environ.get("ORCHESTRATOR_TASK_ID", "").strip()
    if not task_id:
        return 0
    remote = args[0] if args else "the remote"
    refused = 0
    for line in refs.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[2].startswith("refs/heads/"):
            continue
        branch = parts[2].removeprefix("refs/heads/")
        if any(fnmatch.fnmatchcase(branch, pat) for pat in protected):
            action = "delete" if parts[1] == NULL_SHA else "push to"
            _say("pre-push", f"task {task_id}: an agent may not {action} protected branch {branch} "
                 f"of {remote} (git.protected_branches); the orchestrator lands task work itself")
            refused += 1
    return 1 if refused else 0


# -- post-merge / post-checkout -------------------------------------------------------------------

def _queue_changed(top: Path, old: str, new: str, queue_path: str) -> bool:
    if not old or old == NULL_SHA:
        return True
    return run_git(top, "diff", "--quiet", old, new, "--", queue_path, check=False).status != 0


def post_change(top: Path, name: str, args: Sequence[str], queue_path: str,
                exclude_types: frozenset[str]) -> int:
    if name == "post-checkout":
        if len(args) >= 3 and args[2] == "0":
            return 0  # a file checkout, not a branch switch
        old, new = (args[0], args[1]) if len(args) >= 2 else ("", "HEAD")
    else:
        has_orig = run_git(top, "rev-parse", "-q", "--verify", "ORIG_HEAD", check=False)
        old, new = (has_orig.stdout.strip() if has_orig.status == 0 else ""), "HEAD"
    path = top / queue_path
    if not path.is_file() or not _queue_changed(top, old, new, queue_path):
        return 0
    try:
        tasks = parse(Path(queue_path), path.read_bytes()).tasks
    except UserError as e:
        _say(name, f"the task queue is invalid now: {e}")
        return 0  # the merge/checkout already happened; say so, do not fail it
    ready = graph.ready(tasks, filter=ReadyFilter(exclude_types=exclude_types))
    print(f"orchestrator: {len(ready)} task(s) ready")
    for task in ready[:10]:
        print(f"  {task.id}  P{task.priority}  {task.title}")
    if len(ready) > 10:
        print(f"  ... and {len(ready) - 10} more (orchestrator ready)")
    return 0
