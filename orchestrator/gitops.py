"""Task branches and worktrees on GitPython: isolate each agent, land its work, clean up.

Every task runs in its own worktree on branch `orchestrator/<task-id>`, started from a recorded
base commit. Landing rebases the task's commits onto the current tip of the working branch and
fast-forwards it (optionally pushing, with bounded fetch-rebase-push retries). Nothing here
half-applies: a rebase conflict is aborted and reported, the working branch only ever moves by
fast-forward, and crash cleanup commits leftovers to the task branch before removing a worktree.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git

from orchestrator.errors import UserError
from orchestrator.fileio import locked, write_atomic

BRANCH_PREFIX = "orchestrator/"
ARCHIVE_PREFIX = "orchestrator-archive/"  # not under BRANCH_PREFIX: nothing treats these as live
# Paths an agent must not change (docs/security.md): CI definitions and the orchestrator config.
TAMPER_PATHS = (".github/workflows/", ".orchestrator.yml")
_FALLBACK_IDENTITY = ("orchestrator", "orchestrator@localhost")
# git plumbing the orchestrator does for itself runs no hooks (post-checkout on every worktree
# add would print, cost a Python start, and could fail the add)
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")
MERGE_DRIVER = "orchestrator-jsonl"


def merge_driver_command() -> str:
    """The `merge.<driver>.driver` value: this Python running `orchestrator merge-driver`."""
    return f"{shlex.quote(sys.executable)} -m orchestrator.cli merge-driver %O %A %B %P"


@dataclass(frozen=True)
class TaskWorktree:
    task_id: str
    path: Path
    branch: str            # orchestrator/<task-id>
    base: str              # commit SHA it started from
    # what create_task_worktree did to an existing task branch to bring it up to the tip
    # (moved, rebased, or why it was left as it was); "" for a new or unchanged branch
    update: str = ""


@dataclass(frozen=True)
class LandResult:
    ok: bool
    commits: tuple[str, ...]   # SHAs that landed on the working branch
    conflict: str = ""         # one line: files in conflict (or why it could not land)


# -- running git ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GitResult:
    status: int
    stdout: str
    stderr: str
    raw: bytes = b""       # stdout as git wrote it (a blob need not be UTF-8)


def run_git(path: Path, *args: str, check: bool = True,
            env: dict[str, str] | None = None) -> GitResult:
    """Run one git command through GitPython in `path` (the one way the orchestrator runs git);
    with check, failure is a UserError naming the command and the tail of its output."""
    if not Path(path).is_dir():
        # GitPython runs the command in the process's own directory when the given one is
        # missing (a worktree removed under a run): that committed into the wrong repository
        raise UserError(f"git {' '.join(args[:2])} in {path}: no such directory")
    try:
        status, raw, err = git.Git(str(path)).execute(
            ["git", *args], with_extended_output=True, with_exceptions=False,
            stdout_as_string=False, strip_newline_in_stdout=False, env=env)
    except git.GitCommandNotFound:
        raise UserError("git: command not found (is it installed and on PATH?)") from None
    except git.GitCommandError as e:  # e.g. the working directory does not exist
        raise UserError(f"git {' '.join(args[:2])} in {path}: {e.stderr.strip() or e}") from None
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    err = err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err)
    out = raw.decode("utf-8", "replace")
    result = GitResult(int(status or 0), out, err, raw)
    if check and result.status != 0:
        tail = " | ".join((err or out).strip().splitlines()[-3:]) or "no output"
        raise UserError(f"git {' '.join(args[:2])} in {path} exited {result.status}: {tail}")
    return result


def _open(repo: Path) -> git.Repo:
    try:
        return git.Repo(str(repo), search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UserError(f"{repo}: not a git repository") from None


def git_common_dir(path: Path) -> Path | None:
    """The git directory shared by all worktrees of the repository at `path` (absolute), or
    None when `path` is not in a git repository (or git is missing)."""
    try:
        out = run_git(path, "rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    except UserError:  # git missing, or no such directory
        return None
    return Path(out.stdout.strip()) if out.status == 0 and out.stdout.strip() else None


def is_git_repo(path: Path) -> bool:
    return git_common_dir(path) is not None


def toplevel(path: Path, *, why: str = "") -> Path:
    """The top of the work tree `path` is in; a UserError outside one (`why` says what needs it)."""
    out = run_git(path, "rev-parse", "--show-toplevel", check=False)
    if out.status != 0 or not out.stdout.strip():
        raise UserError(f"{path}: not inside a git working tree{f' ({why})' if why else ''}")
    return Path(out.stdout.strip())


def _common_dir(repo: Path) -> Path:
    common = git_common_dir(repo)
    if common is None:
        raise UserError(f"{repo}: not a git repository")
    return common


def _head_sha(repo: Path) -> str:
    out = run_git(repo, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
    if out.status != 0:
        raise UserError(f"{repo}: the repository has no commits yet; commit something first")
    return out.stdout.strip()


def head_commit(path: Path) -> str:
    """The commit checked out at `path` (a repository or a worktree)."""
    return _head_sha(path)


def _rev(repo: Path, rev: str) -> str:
    out = run_git(repo, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}", check=False)
    if out.status != 0:
        raise UserError(f"{repo}: no commit {rev!r}")
    return out.stdout.strip()


def _identity(repo: Path) -> list[str]:
    """`-c user.*` fallbacks when no identity is configured (fresh CI runners)."""
    has_email = run_git(repo, "config", "user.email", check=False).stdout.strip()
    has_name = run_git(repo, "config", "user.name", check=False).stdout.strip()
    if has_email and has_name:
        return []
    name, email = _FALLBACK_IDENTITY
    return ["-c", f"user.name={has_name or name}", "-c", f"user.email={has_email or email}"]


def current_branch(repo: Path) -> str:
    """The branch checked out in `repo`; a detached HEAD or an empty repository is a UserError."""
    _head_sha(repo)
    out = run_git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    if out.status != 0:
        raise UserError(f"{repo}: HEAD is detached; check out the working branch (or name it)")
    return out.stdout.strip()


def task_branch(task_id: str) -> str:
    return BRANCH_PREFIX + task_id


def rename_branch(repo: Path, old: str, new: str) -> None:
    """`git branch -M old new` (a branch already named `new` is replaced)."""
    run_git(repo, "branch", "-M", old, new)


@contextlib.contextmanager
def _repo_lock(repo: Path) -> Iterator[None]:
    """One lander at a time per repository (threads and processes alike: flock is per open file)."""
    with locked(_common_dir(repo) / "orchestrator-land.lock"):
        yield


# -- worktrees -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _WorktreeEntry:
    path: Path
    head: str
    branch: str      # short name, "" when detached
    prunable: bool


def _worktrees(repo: Path) -> list[_WorktreeEntry]:
    out = run_git(repo, "worktree", "list", "--porcelain").stdout
    entries: list[_WorktreeEntry] = []
    for block in out.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch", "").removeprefix("refs/heads/")
        entries.append(_WorktreeEntry(Path(fields["worktree"]), fields.get("HEAD", ""), branch,
                                      "prunable" in fields))
    return entries


def _default_root(repo: Path) -> Path:
    # inside the git directory: invisible to `git status` of the main tree, removed with the clone
    return _common_dir(repo) / "orchestrator" / "worktrees"


def _base_key(branch: str) -> str:
    return f"branch.{branch}.orchestratorbase"


def _hooks_manifest_path(worktree: Path) -> Path:
    # in the worktree's private git directory: found from the path whatever the agent checks out
    gitdir = run_git(worktree, "rev-parse", "--absolute-git-dir").stdout.strip()
    return Path(gitdir) / "orchestrator-hooks.json"


def create_task_worktree(repo: Path, task_id: str, *, base: str | None = None,
                         root: Path | None = None) -> TaskWorktree:
    """A worktree on `orchestrator/<task-id>` started at `base` (default: HEAD).

    An existing task branch is reused (a retry or handoff continues the earlier work), brought
    up to `base` first so the retry sees what was committed on the working branch since (a
    fix a human made before resuming): a branch with no commits of its own is moved there,
    its own commits are rebased onto it. A conflict aborts the rebase and leaves the branch
    exactly as it was (its recorded base kept); `TaskWorktree.update` says what happened.
    An existing worktree of the branch is returned as it is."""
    repo = Path(repo).resolve()
    _open(repo)
    branch = task_branch(task_id)
    if run_git(repo, "check-ref-format", f"refs/heads/{branch}", check=False).status != 0:
        raise UserError(f"task {task_id}: not usable in a branch name ({branch})")
    head = _head_sha(repo)
    with _repo_lock(repo):  # parallel creators would race on .git/config
        return _create(repo, task_id, branch, head, base, root)


def _create(repo: Path, task_id: str, branch: str, head: str, base: str | None,
            root: Path | None) -> TaskWorktree:
    for entry in _worktrees(repo):
        if entry.branch == branch and not entry.prunable and entry.path.is_dir():
            recorded = run_git(repo, "config", "--get", _base_key(branch), check=False).stdout.strip()
            return TaskWorktree(task_id, entry.path, branch, recorded or entry.head)
    run_git(repo, "worktree", "prune")
    path = (Path(root) if root else _default_root(repo)) / task_id
    if path.exists():
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        else:
            raise UserError(f"{path}: exists and is not a worktree of {branch}; remove it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    exists = run_git(repo, "show-ref", "--verify", "-q", f"refs/heads/{branch}", check=False).status == 0
    target = _rev(repo, base) if base else head
    update = ""
    if exists:
        recorded = run_git(repo, "config", "--get", _base_key(branch), check=False).stdout.strip()
        base_sha = recorded or run_git(repo, "merge-base", head, branch).stdout.strip()
        tip = _rev(repo, branch)
        if tip != target and _is_ancestor(repo, tip, target):
            # no commits of its own: start again from the target
            run_git(repo, "update-ref", "-m", "orchestrator: refresh task branch",
                    f"refs/heads/{branch}", target, tip)
            base_sha = target
            update = f"moved {branch} from {tip[:12]} to {target[:12]}"
        run_git(repo, *_NO_HOOKS, "worktree", "add", "-q", str(path), branch)
        if tip != target and not update and not _is_ancestor(repo, target, tip):
            own = len(_commits(repo, run_git(repo, "merge-base", target, tip).stdout.strip(), tip))
            new, why = _rebase(repo, TaskWorktree(task_id, path, branch, base_sha), target)
            if new is None:  # aborted: the branch and worktree are as they were
                update = f"kept {branch} at {tip[:12]}: {why}"
            else:
                base_sha = target
                update = f"rebased {own} commit(s) of {branch} onto {target[:12]}"
    else:
        base_sha = target
        run_git(repo, *_NO_HOOKS, "worktree", "add", "-q", "-b", branch, str(path), base_sha)
    run_git(repo, "config", _base_key(branch), base_sha)
    _record_hooks(path)
    return TaskWorktree(task_id, path, branch, base_sha, update)


def commit_all(path: Path, message: str, *, verify: bool = True) -> str | None:
    """Stage everything in the worktree and commit; None when there is nothing to commit.

    Hooks run (so the commit-msg trailer and pre-commit checks apply) unless verify is False;
    a refusing hook is a UserError and the changes stay staged."""
    path = Path(path)
    run_git(path, "add", "-A")
    if run_git(path, "diff", "--cached", "--quiet", check=False).status == 0:
        return None
    args = [*_identity(path), "commit", "-q", "-m", message]
    if not verify:
        args.append("--no-verify")
    run_git(path, *args)
    return _head_sha(path)


def remove_task_worktree(repo: Path, wt: TaskWorktree, *, keep_branch: bool = False) -> None:
    """Remove the worktree (uncommitted changes in it are discarded) and, unless keep_branch,
    the task branch and its recorded base."""
    repo = Path(repo)
    with _repo_lock(repo):
        _remove(repo, wt, keep_branch)


def _remove(repo: Path, wt: TaskWorktree, keep_branch: bool) -> None:
    registered = {e.path.resolve() for e in _worktrees(repo)}
    if Path(wt.path).resolve() in registered:
        run_git(repo, "worktree", "remove", "--force", "--force", str(wt.path))
    elif Path(wt.path).is_dir():
        shutil.rmtree(wt.path)
    run_git(repo, "worktree", "prune")
    if not keep_branch:
        run_git(repo, "branch", "-q", "-D", wt.branch, check=False)
        run_git(repo, "config", "--unset", _base_key(wt.branch), check=False)


def prune_task_worktrees(repo: Path, *, keep: Callable[[str], bool] | None = None) -> list[str]:
    """Clean up after a crash: every `orchestrator/*` worktree is removed, after its uncommitted
    changes are committed to its branch (so a retry can continue and nothing is lost).
    `keep(task_id)`, asked under the lock just before each removal, spares the worktree of a
    run that is still going (another coordinator may have just made it). Returns the removed
    worktree paths."""
    repo = Path(repo)
    with _repo_lock(repo):
        return _prune(repo, keep)


def _rebasing_branch(path: Path) -> str:
    """The branch a rebase stopped in `path` is rewriting ("" if none is in progress)."""
    for state in ("rebase-merge", "rebase-apply"):
        head_name = Path(run_git(path, "rev-parse", "--path-format=absolute", "--git-path",
                              f"{state}/head-name").stdout.strip())
        if head_name.is_file():
            return head_name.read_text(encoding="utf-8").strip().removeprefix("refs/heads/")
    return ""


def _prune(repo: Path, keep: Callable[[str], bool] | None = None) -> list[str]:
    run_git(repo, "worktree", "prune")
    # a lander killed mid-rebase leaves the task branch's worktree detached and half-rebased:
    # abort puts the branch back where it was (the rebase only ever rewrites the task branch)
    for entry in _worktrees(repo):
        if not entry.branch and not entry.prunable and entry.path.is_dir() and \
                _rebasing_branch(entry.path).startswith(BRANCH_PREFIX):
            run_git(entry.path, "rebase", "--abort")
    removed: list[str] = []
    for entry in _worktrees(repo):
        if not entry.branch.startswith(BRANCH_PREFIX) or not entry.path.is_dir():
            continue
        task_id = entry.branch.removeprefix(BRANCH_PREFIX)
        if keep is not None and keep(task_id):
            continue
        if run_git(entry.path, "status", "--porcelain", check=False).stdout.strip():
            commit_all(entry.path, "WIP: leftovers of an interrupted orchestrator run",
                       verify=False)
        _remove(repo, TaskWorktree(task_id, entry.path, entry.branch, ""), keep_branch=True)
        removed.append(str(entry.path))
    return removed


def archive_task_branch(repo: Path, task_id: str) -> str | None:
    """Set the task's branch aside so its next attempt starts fresh from the working branch (a
    restart after an escalation: rebasing the old branch would bring back what was escalated).
    The worktree goes (uncommitted changes in it are discarded); the branch is renamed to
    `orchestrator-archive/ID-N`, its work kept for a human. Returns the new name, None when the
    task has no branch."""
    repo = Path(repo)
    branch = task_branch(task_id)
    with _repo_lock(repo):
        if run_git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}", check=False).status:
            return None
        held = _checked_out_at(repo, branch)
        if held is not None:
            _remove(repo, TaskWorktree(task_id, held, branch, ""), keep_branch=True)
        n = 1
        while run_git(repo, "rev-parse", "-q", "--verify",
                      f"refs/heads/{ARCHIVE_PREFIX}{task_id}-{n}", check=False).status == 0:
            n += 1
        archived = f"{ARCHIVE_PREFIX}{task_id}-{n}"
        run_git(repo, "branch", "-m", branch, archived)
        run_git(repo, "config", "--unset", _base_key(archived), check=False)
        return archived


# -- landing -------------------------------------------------------------------------------------

def _checked_out_at(repo: Path, branch: str) -> Path | None:
    for entry in _worktrees(repo):
        if entry.branch == branch and not entry.prunable:
            return entry.path
    return None


def _rebase(repo: Path, wt: TaskWorktree, target: str) -> tuple[str | None, str]:
    """Rebase the task branch onto target; (new tip, "") or (None, reason) with the branch as it was."""
    where = _checked_out_at(repo, wt.branch)
    temp: Path | None = None
    if where is None:  # the worktree is gone (report job, crash): rebase in a temporary one
        temp = Path(tempfile.mkdtemp(prefix="orchestrator-land-"))
        temp.rmdir()
        run_git(repo, *_NO_HOOKS, "worktree", "add", "-q", str(temp), wt.branch)
        where = temp
    try:
        if run_git(where, "status", "--porcelain", "--untracked-files=no").stdout.strip():
            return None, f"uncommitted changes in {where}; commit them first"
        before = _rev(where, "HEAD")
        # no hooks while rewriting (post-checkout noise); the merge driver still applies
        with _driver_attributes(repo) as driver:
            args = [*_identity(repo), *_NO_HOOKS, *driver, "rebase", "-q",
                    "--no-autostash", target, wt.branch]
            done = run_git(where, *args, check=False)
        if done.status != 0:
            files = run_git(where, "diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
            run_git(where, "rebase", "--abort", check=False)
            after = _rev(where, wt.branch)
            if after != before:  # abort must restore the branch; say so loudly if it did not
                raise UserError(f"{wt.branch}: rebase --abort left it at {after}, was {before}")
            what = ", ".join(files) if files else (done.stderr.strip().splitlines() or ["rebase failed"])[-1]
            # a merge driver that refused an input (a corrupt queue) says why: pass it on
            refusals = [x.removeprefix("orchestrator: ") for x in (done.stderr + done.stdout).splitlines()
                        if x.startswith("orchestrator: merge-driver:")]
            why = f" ({refusals[0]})" if refusals else ""
            return None, f"conflict rebasing {wt.branch} onto {target[:12]}: {what}{why}"
        return _rev(where, "HEAD"), ""
    finally:
        if temp is not None:
            run_git(repo, "worktree", "remove", "--force", "--force", str(temp), check=False)
            run_git(repo, "worktree", "prune", check=False)


@contextlib.contextmanager
def _driver_attributes(repo: Path) -> Iterator[tuple[str, ...]]:
    """`-c` options that make a rebase merge every issues.jsonl with our driver even when
    `orchestrator hooks install` never ran: parallel agents all touch the queue file, and a
    line-based merge of neighbouring lines would conflict for nothing. The user's own global
    attributes (core.attributesFile, else git's XDG default) are kept (copied first)."""
    own = run_git(repo, "config", "--path", "--get", "core.attributesFile", check=False).stdout.strip()
    if not own:  # git's default, which setting core.attributesFile would hide (gitattributes(5))
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
        own = str(Path(xdg) / "git" / "attributes")
    text = ""
    if own and Path(own).is_file():
        text = Path(own).read_text(encoding="utf-8", errors="replace").rstrip("\n") + "\n"
    fd, tmp = tempfile.mkstemp(prefix="orchestrator-attributes-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + f"issues.jsonl merge={MERGE_DRIVER}\n")
        yield ("-c", f"core.attributesFile={tmp}",
               "-c", f"merge.{MERGE_DRIVER}.driver={merge_driver_command()}")
    finally:
        os.unlink(tmp)


def _fast_forward(repo: Path, branch: str, old: str, new: str) -> str:
    """Move `branch` from old to new (a descendant); updates a checked-out tree. '' or why not."""
    where = _checked_out_at(repo, branch)
    if where is None:
        done = run_git(repo, "update-ref", "-m", "orchestrator: land", f"refs/heads/{branch}", new, old,
                    check=False)
        return "" if done.status == 0 else f"{branch} moved while landing: {done.stderr.strip()}"
    if _rev(where, "HEAD") != old:
        return f"{branch} moved while landing"
    done = run_git(where, *_NO_HOOKS, "merge", "-q", "--ff-only", new, check=False)
    if done.status != 0:
        lines = done.stderr.strip().splitlines() or ["merge --ff-only failed"]
        # git names the files in the way on indented lines after the first
        files = [x.strip() for x in lines[1:] if x.startswith(("\t", " "))]
        why = lines[0].removeprefix("error: ").rstrip(":")
        return f"cannot fast-forward {branch} in {where}: {why}" + (f": {', '.join(files)}" if files else "")
    return ""


def _commits(repo: Path, old: str, new: str) -> tuple[str, ...]:
    out = run_git(repo, "rev-list", "--reverse", f"{old}..{new}").stdout.split()
    return tuple(out)


def branch_commits(repo: Path, wt: TaskWorktree) -> tuple[str, ...]:
    """The commits on the task branch since it was made (oldest first); none when it is gone."""
    if run_git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{wt.branch}", check=False).status:
        return ()
    return _commits(repo, wt.base, wt.branch) if wt.base else ()


def land_task_branch(repo: Path, wt: TaskWorktree, *, onto: str | None = None,
                     push: bool = False, retries: int = 3) -> LandResult:
    """Rebase the task's commits onto the tip of the working branch `onto` (default: the branch
    checked out in repo) and fast-forward it. With push, fetch the remote first and push the
    result; a rejected push is retried (fetch, rebase, push) up to `retries` more times. A
    conflict is aborted and returned as LandResult(ok=False): the working branch, the task
    branch's commits and the working tree are as they were."""
    repo = Path(repo).resolve()
    _open(repo)
    onto = onto or current_branch(repo)
    if run_git(repo, "show-ref", "--verify", "-q", f"refs/heads/{onto}", check=False).status != 0:
        raise UserError(f"{repo}: no branch {onto!r} to land on")
    _rev(repo, wt.branch)
    with _repo_lock(repo):
        if not push:
            old = _rev(repo, onto)
            new, why = _rebase(repo, wt, old)
            if new is None:
                return LandResult(False, (), why)
            if new == old:
                return LandResult(True, ())
            why = _fast_forward(repo, onto, old, new)
            if not why:
                _note_ref(repo, f"refs/heads/{onto}", new)
            return LandResult(not why, () if why else _commits(repo, old, new), why)
        return _land_and_push(repo, wt, onto, retries)


def _land_and_push(repo: Path, wt: TaskWorktree, onto: str, retries: int) -> LandResult:
    remote = run_git(repo, "config", "--get", f"branch.{onto}.remote", check=False).stdout.strip() or "origin"
    if remote not in run_git(repo, "remote").stdout.split():
        raise UserError(f"{repo}: no git remote {remote!r} to push {onto} to")
    why = ""
    for _attempt in range(max(retries, 0) + 1):
        fetched = run_git(repo, "fetch", "-q", remote, f"refs/heads/{onto}", check=False)
        local = _rev(repo, onto)
        if fetched.status == 0:
            upstream = _rev(repo, "FETCH_HEAD")
        elif "couldn't find remote ref" in fetched.stderr:
            upstream = local  # the remote does not have the branch yet
        else:
            raise UserError(f"git fetch {remote} {onto}: {fetched.stderr.strip()}")
        if _is_ancestor(repo, local, upstream):
            target = upstream
        elif _is_ancestor(repo, upstream, local):
            target = local
        else:
            return LandResult(False, (), f"{onto} has diverged from {remote}/{onto}; reconcile them first")
        new, why = _rebase(repo, wt, target)
        if new is None:
            return LandResult(False, (), why)
        pushed = run_git(repo, "push", "-q", remote, f"{new}:refs/heads/{onto}", check=False)
        if pushed.status != 0:
            why = f"push to {remote}/{onto} rejected: " + \
                (pushed.stderr.strip().splitlines() or ["no output"])[-1]
            continue  # someone pushed in between: fetch, rebase, push again
        # pushed: the work has landed; a local tree that cannot fast-forward is only a note
        note = _fast_forward(repo, onto, local, new)
        if not note:
            _note_ref(repo, f"refs/heads/{onto}", new)
        return LandResult(True, _commits(repo, local, new), f"pushed; local {note}" if note else "")
    return LandResult(False, (), f"gave up after {retries + 1} attempts: {why}")


def _is_ancestor(repo: Path, a: str, b: str) -> bool:
    return run_git(repo, "merge-base", "--is-ancestor", a, b, check=False).status == 0


def configured_root(repo: Path, worktree_root: str | None) -> Path | None:
    """config `git.worktree_root` (relative to the repository) as the `root` argument."""
    if not worktree_root:
        return None
    root = Path(worktree_root).expanduser()
    return root if root.is_absolute() else Path(repo).resolve() / root


# -- handing work between jobs -----------------------------------------------------------------

def write_task_bundle(repo: Path, wt: TaskWorktree, out: Path) -> Path | None:
    """A git bundle of the task's commits since its base (None when there are none), for the
    single-writer report job: `fetch_task_bundle` there recreates the task branch."""
    repo = Path(repo)
    if not _commits(repo, wt.base, wt.branch):
        return None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_git(repo, "bundle", "create", "-q", str(out), f"refs/heads/{wt.branch}", f"^{wt.base}")
    return out


def fetch_task_bundle(repo: Path, bundle: Path, task_id: str) -> TaskWorktree:
    """Recreate `orchestrator/<task-id>` from a bundle (no worktree); land it with land_task_branch."""
    repo = Path(repo).resolve()
    branch = task_branch(task_id)
    verified = run_git(repo, "bundle", "verify", "-q", str(bundle), check=False)
    if verified.status != 0:
        raise UserError(f"{bundle}: not a usable bundle for {repo}: "
                        f"{(verified.stderr.strip().splitlines() or ['verify failed'])[-1]}")
    run_git(repo, "fetch", "-q", str(bundle), f"+refs/heads/{branch}:refs/heads/{branch}")
    tip = _rev(repo, branch)
    base = run_git(repo, "merge-base", tip, "HEAD").stdout.strip()
    return TaskWorktree(task_id, _default_root(repo) / task_id, branch, base)


def write_task_patches(repo: Path, wt: TaskWorktree, out_dir: Path) -> list[Path]:
    """The task's commits since its base as a `git format-patch` series (for `git am`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = run_git(Path(repo), "format-patch", "-o", str(out_dir), f"{wt.base}..{wt.branch}").stdout
    return [Path(line) for line in out.splitlines() if line]


# -- tamper check -------------------------------------------------------------------------------

def _hooks_state(path: Path) -> dict[str, Any]:
    hooks_dir = Path(run_git(path, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
                     .stdout.strip())
    files: dict[str, str] = {}
    if hooks_dir.is_dir():
        for f in sorted(hooks_dir.iterdir()):
            if f.is_file():
                files[f.name] = hashlib.sha256(f.read_bytes()).hexdigest() + \
                    ("+x" if os.access(f, os.X_OK) else "")
    hooks_path = run_git(path, "config", "--get", "core.hooksPath", check=False).stdout.strip()
    return {"hooks_dir": str(hooks_dir), "hooks_path": hooks_path, "files": files}


def _record_hooks(path: Path) -> None:
    manifest = _hooks_manifest_path(path)
    manifest.write_text(json.dumps(_hooks_state(path), sort_keys=True))


def tampered_paths(path: Path, base: str, *, extra: Sequence[str] = ()) -> list[str]:
    """What a run in the worktree `path` changed that an agent must not: `.github/workflows/`,
    the orchestrator config (plus `extra` prefixes) since `base`, committed or not, and the git
    hooks (files or core.hooksPath) since the worktree was created."""
    path = Path(path)
    changed = set(run_git(path, "diff", "--name-only", "--no-renames", base).stdout.split("\n"))
    changed |= set(run_git(path, "ls-files", "--others", "--exclude-standard").stdout.split("\n"))
    prefixes = (*TAMPER_PATHS, *extra)
    found = sorted(p for p in changed if p and any(
        p == x.rstrip("/") or (x.endswith("/") and p.startswith(x)) for x in prefixes))
    manifest = _hooks_manifest_path(path)
    if manifest.is_file():
        before = json.loads(manifest.read_text())
        now = _hooks_state(path)
        if before["hooks_path"] != now["hooks_path"] or before["hooks_dir"] != now["hooks_dir"]:
            found.append("core.hooksPath")
        old_files, new_files = before["files"], now["files"]
        for name in sorted(set(old_files) | set(new_files)):
            if old_files.get(name) != new_files.get(name):
                found.append(f".git/hooks/{name}")
    return found


# -- what a task branch holds ---------------------------------------------------------------------

def task_branches(repo: Path) -> dict[str, str]:
    """Every `orchestrator/<id>` branch: task ID -> tip."""
    out = run_git(Path(repo), "for-each-ref", "--format=%(objectname) %(refname)",
                  f"refs/heads/{BRANCH_PREFIX}").stdout
    branches = {}
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        branches[ref.removeprefix(f"refs/heads/{BRANCH_PREFIX}")] = sha
    return branches


def unlanded_count(repo: Path, tip: str, onto: str = "HEAD") -> int:
    """Commits reachable from tip that the working branch (`onto`) does not have."""
    return int(run_git(Path(repo), "rev-list", "--count", f"{onto}..{tip}").stdout.strip() or 0)


def branch_worktree(repo: Path, task_id: str) -> TaskWorktree:
    """The task branch as a TaskWorktree (its worktree, when one is left, else where one would
    be), with the base it was started from (recorded, else its merge base with HEAD)."""
    repo = Path(repo).resolve()
    branch = task_branch(task_id)
    path = _checked_out_at(repo, branch) or _default_root(repo) / task_id
    base = run_git(repo, "config", "--get", _base_key(branch), check=False).stdout.strip()
    if not base or not _is_ancestor(repo, base, branch):
        base = run_git(repo, "merge-base", "HEAD", branch).stdout.strip()
    return TaskWorktree(task_id, path, branch, base)


def changed_paths(repo: Path, base: str, tip: str) -> list[str]:
    """Paths the commits base..tip change (no rename detection: both names count)."""
    out = run_git(Path(repo), "diff", "--name-only", "--no-renames", base, tip).stdout
    return [p for p in out.split("\n") if p]


def protected_paths(paths: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """Those of `paths` an agent must not change (TAMPER_PATHS plus `extra` prefixes)."""
    prefixes = (*TAMPER_PATHS, *extra)
    return sorted(p for p in paths if p and any(
        p == x.rstrip("/") or (x.endswith("/") and p.startswith(x)) for x in prefixes))


def added_lines_diff(repo: Path, base: str, tip: str) -> bytes:
    """The unified diff (-U0) of base..tip, for a scan of the lines it adds."""
    return run_git(Path(repo), "diff", "-U0", "--no-color", "--no-ext-diff",
                   "--diff-filter=ACMR", base, tip).raw


# -- the ref guard --------------------------------------------------------------------------------
# Worktrees share refs with the main repository: an agent can move the working branch
# (`git update-ref refs/heads/main HEAD~1`). Every ref except the task branches is recorded
# before an agent runs and compared after it; the coordinator's own moves (landing, the
# queue-state commit) are written to a journal under the landing lock, so a parallel landing is
# not taken for the agent's doing. A move nobody journalled is put back; what it pointed at is
# kept under refs/orchestrator/tampered/ (nothing is lost, not even a human's stray commit).
TAMPERED_PREFIX = "refs/orchestrator/tampered/"


def protected_refs(repo: Path) -> dict[str, str]:
    """Branches and tags an agent must not move: every one but the task branches."""
    out = run_git(Path(repo), "for-each-ref", "--format=%(objectname) %(refname)",
                  "refs/heads/", "refs/tags/").stdout
    refs = {}
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        if not ref.startswith(f"refs/heads/{BRANCH_PREFIX}"):
            refs[ref] = sha
    return refs


def _journal_path(repo: Path) -> Path:
    return _common_dir(repo) / "orchestrator" / "refs.json"


def _read_journal(repo: Path) -> tuple[int, dict[str, tuple[str, int]]]:
    """(its position, ref -> (sha, position of that move)); an unreadable journal is empty."""
    try:
        data = json.loads(_journal_path(repo).read_text(encoding="utf-8"))
        seq = int(data["seq"])
        refs = {str(k): (str(v[0]), int(v[1])) for k, v in data["refs"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return 0, {}
    return seq, refs


def ref_seq(repo: Path) -> int:
    """The journal's position: moves journalled after it are the coordinator's own."""
    return _read_journal(Path(repo))[0]


def _note_ref(repo: Path, ref: str, sha: str) -> None:
    """Journal a ref move the orchestrator made itself (the caller holds the landing lock)."""
    seq, refs = _read_journal(repo)
    refs[ref] = (sha, seq + 1)
    path = _journal_path(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"seq": seq + 1, "refs": refs}))


def note_ref_moved(repo: Path, ref: str, sha: str) -> None:
    """Journal a move made outside a landing (the coordinator's queue-state commit)."""
    with _repo_lock(Path(repo)):
        _note_ref(Path(repo), ref, sha)


def guard_refs(repo: Path, before: dict[str, str], since: int, task_id: str) -> list[str]:
    """Put back every ref of `before` that moved since without the orchestrator journalling the
    move; returns one line per ref put back (empty: nothing moved behind our back)."""
    repo = Path(repo)
    with _repo_lock(repo):
        journal = _read_journal(repo)[1]
        now = protected_refs(repo)
        out = []
        for ref, old in sorted(before.items()):
            entry = journal.get(ref)
            expected = entry[0] if entry is not None and entry[1] > since else old
            cur = now.get(ref, "")
            if cur == expected:
                continue
            kept = ""
            if cur:
                kept = f"{TAMPERED_PREFIX}{task_id}/{ref.removeprefix('refs/')}"
                run_git(repo, "update-ref", "-m", "orchestrator: kept a tampered ref", kept, cur)
            run_git(repo, "update-ref", "-m", f"orchestrator: restored after {task_id}", ref,
                    expected)
            out.append(f"{ref} was moved from {expected[:12]} to {cur[:12] or '(deleted)'}; "
                       f"restored" + (f" (the moved tip is kept as {kept})" if kept else ""))
        return out
