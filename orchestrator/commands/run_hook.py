"""`orchestrator hook NAME [ARGS]`: run one git hook, what the installed shims call (installing
them is `orchestrator hooks`, commands/install_hooks.py and githooks.py).

- pre-commit: a staged issues.jsonl must parse as a valid queue (duplicate IDs, dangling
  dependencies, cycles through blocking and parent-child edges, mixed ones included: the same
  checks as the store's writes); run logs and
  anything that looks like a token are refused.
- commit-msg: in an agent run (ORCHESTRATOR_TASK_ID set) add `Task: <id>` and `Attempt: <n>`
  trailers, once.
- pre-push: an agent run may not push to a protected branch (git.protected_branches).
- post-merge / post-checkout: when the queue file changed, re-validate it and print what is
  ready now (never fails the checkout or merge, which already happened).

Git's input is checked by shape before use (the refs on pre-push's stdin, post-checkout's object
names, the task ID and attempt a trailer is built from): anything else is a one-line error naming
the input and its line or field, exit 2, and nothing is changed.
"""
from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.githooks import HOOK_NAMES
from orchestrator.gitops import run_git, toplevel
from orchestrator.secrets import find_tokens
from orchestrator.tasks import graph
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.jsonl import parse

MAX_STDIN_BYTES = 16 << 20      # pre-push: ~100,000 refs
MAX_MESSAGE_BYTES = 16 << 20    # commit-msg
_OBJECT_NAME = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")     # SHA-1 or SHA-256
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")  # what bd IDs look like
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
        data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
        if len(data) > MAX_STDIN_BYTES:
            raise UserError(f"hook pre-push: more than {MAX_STDIN_BYTES >> 20} MB on stdin")
        return pre_push(config.git.protected_branches, args, data.decode("utf-8", "replace"))
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
            state = parse(Path(queue_path), data)
        except UserError as e:
            problems.append(f"{e} (the staged task queue is invalid)")
        else:  # what parsing lets through: a cycle of mixed edges (a child blocking its parent)
            for members, cycle in graph.deadlock_cycles(state.tasks):
                line = min(state.line_of[tid] for tid in members)
                problems.append(f"{queue_path}:{line}: dependency cycle: {cycle}; no task on it "
                                "can ever become ready (the staged task queue is invalid)")
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


# -- commit-msg ---------------------------------------------------------------------------------

def trailer_values(env: Any) -> tuple[str, str]:
    """(task ID, attempt) for the trailers, from the agent's environment; ("", "") outside an
    agent run. They become lines of the commit message, so a value that is not a task ID or a
    number (a newline would add a trailer of its own) is refused."""
    task_id = env.get("ORCHESTRATOR_TASK_ID", "").strip()
    attempt = env.get("ORCHESTRATOR_ATTEMPT", "").strip()
    if not task_id:
        return "", ""
    if not _TASK_ID.fullmatch(task_id):
        raise UserError(f"hook commit-msg: ORCHESTRATOR_TASK_ID {task_id[:60]!r} is not a task ID")
    if attempt and not (attempt.isascii() and attempt.isdigit() and len(attempt) <= 6):
        raise UserError(f"hook commit-msg: ORCHESTRATOR_ATTEMPT {attempt[:60]!r} is not a number")
    return task_id, attempt


def has_message(text: str) -> bool:
    """Whether a commit message has a line that is not blank or a comment (git aborts a
    commit whose message has none)."""
    return any(line.strip() and not line.startswith("#") for line in text.splitlines())


def commit_msg(top: Path, message_file: Path) -> int:
    task_id, attempt = trailer_values(os.environ)
    if not task_id:
        return 0
    path = message_file if message_file.is_absolute() else top / message_file
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MESSAGE_BYTES + 1)
    except OSError as e:
        raise UserError(f"hook commit-msg: cannot read the message file {path}: {e.strerror}") from None
    if len(data) > MAX_MESSAGE_BYTES:
        raise UserError(f"hook commit-msg: {path}: larger than {MAX_MESSAGE_BYTES >> 20} MB")
    if not has_message(data.decode("utf-8", "replace")):
        return 0  # an empty message aborts the commit; a trailer must not rescue it
    args = ["interpret-trailers", "--in-place", "--if-exists", "addIfDifferent",
            "--trailer", f"Task: {task_id}"]
    if attempt:
        args += ["--if-exists", "replace", "--trailer", f"Attempt: {attempt}"]
    run_git(top, *args, str(path))
    return 0


# -- pre-push -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PushedRef:
    """One line of pre-push's stdin (githooks(5))."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


_PUSH_FIELDS = ("local ref", "local object name", "remote ref", "remote object name")


def parse_push_refs(text: str) -> list[PushedRef]:
    """`<local ref> SP <local sha> SP <remote ref> SP <remote sha> LF` per line; a line of
    another shape is a UserError naming its line and field (a push the hook cannot read is
    refused, not waved through)."""
    out = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parts = line.split(" ")
        if len(parts) != 4:
            raise UserError(f"hook pre-push: stdin line {n}: expected 4 fields ("
                            f"{', '.join(_PUSH_FIELDS)}), got {len(parts)}")
        for field, value in zip(_PUSH_FIELDS, parts, strict=True):
            sha = field.endswith("object name")
            if (sha and not _OBJECT_NAME.fullmatch(value)) or (not sha and not _ref_ok(value)):
                raise UserError(f"hook pre-push: stdin line {n}: {field} {value[:60]!r} is not "
                                + ("an object name" if sha else "a ref name"))
        out.append(PushedRef(*parts))
    return out


def _ref_ok(name: str) -> bool:
    # git check-ref-format's rules, the ones that matter here: no control characters or
    # spaces, not empty; "(delete)" is what git sends as the local ref of a deletion
    return 0 < len(name) <= 4096 and name.isprintable() and " " not in name


def pre_push(protected: Sequence[str], args: Sequence[str], refs: str) -> int:
    task_id = os.environ.get("ORCHESTRATOR_TASK_ID", "").strip()
    if not task_id:
        return 0
    remote = args[0] if args else "the remote"
    refused = 0
    for ref in parse_push_refs(refs):
        if not ref.remote_ref.startswith("refs/heads/"):
            continue
        branch = ref.remote_ref.removeprefix("refs/heads/")
        if any(fnmatch.fnmatchcase(branch, pat) for pat in protected):
            action = "delete" if set(ref.local_sha) == {"0"} else "push to"
            _say("pre-push", f"task {task_id}: an agent may not {action} protected branch {branch} "
                 f"of {remote} (git.protected_branches); the orchestrator lands task work itself")
            refused += 1
    return 1 if refused else 0


# -- post-merge / post-checkout -------------------------------------------------------------------

def _queue_changed(top: Path, old: str, new: str, queue_path: str) -> bool:
    if not old or set(old) == {"0"}:
        return True
    return run_git(top, "diff", "--quiet", old, new, "--", queue_path, check=False).status != 0


def post_change(top: Path, name: str, args: Sequence[str], queue_path: str,
                exclude_types: frozenset[str]) -> int:
    if name == "post-checkout":
        if len(args) >= 3 and args[2] == "0":
            return 0  # a file checkout, not a branch switch
        old, new = (args[0], args[1]) if len(args) >= 2 else ("", "HEAD")
        for label, value in (("previous HEAD", old), ("new HEAD", new)):
            # they reach `git diff` as arguments: only object names (never an --option)
            if value and value != "HEAD" and not _OBJECT_NAME.fullmatch(value):
                raise UserError(f"hook post-checkout: {label} {value[:60]!r} is not an object name")
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
