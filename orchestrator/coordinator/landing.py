"""What may land: the one check a task branch passes before it reaches the working branch,
whoever lands it (`apply.apply_result` after a run, `recovery` after a hard stop, in this
process or in the GitHub report job)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orchestrator import gitops
from orchestrator.config import Config
from orchestrator.secrets import find_tokens


def vet_branch(repo: Path, wt: gitops.TaskWorktree, config: Config,
               protected: Sequence[str] = ()) -> str:
    """Why the commits base..branch may not land ("" when they may): a change to a protected
    path (CI definitions, the orchestrator config, `protected`: the queue file, which only the
    coordinator writes), or an added line that looks like a credential (the pre-commit hook's
    check)."""
    paths = gitops.changed_paths(repo, wt.base, wt.branch)
    hit = gitops.protected_paths(paths, (*config.git.tamper_paths, *protected))
    if hit:
        return "The work changes protected paths: " + ", ".join(hit) + "."
    found = find_tokens(gitops.added_lines_diff(repo, wt.base, wt.branch))
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        return ("The work contains what looks like a secret, so it is not landed: "
                + "; ".join(found[:3]) + more + ".")
    return ""


def queue_paths(repo: Path, store: object) -> tuple[str, ...]:
    """The embedded store's file relative to the repository, when it is inside it: an agent's
    copy of it in its worktree is not the live queue, and a change to it is a tamper."""
    path = getattr(store, "path", None)
    if getattr(store, "kind", "") != "jsonl" or path is None:
        return ()
    try:
        return (str(Path(path).resolve().relative_to(Path(repo).resolve())),)
    except ValueError:
        return ()
