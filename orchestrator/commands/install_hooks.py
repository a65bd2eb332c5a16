"""`orchestrator hooks install | uninstall | status`: put the git hook shims in place (the files
are githooks.py's job; running one hook is `orchestrator hook`, commands/run_hook.py)."""
from __future__ import annotations

from pathlib import Path

from orchestrator import githooks
from orchestrator.gitops import toplevel

WHY = "hooks need a repository with a work tree"


def hooks_install(repo: Path, queue_path: str) -> int:
    notes = githooks.install(toplevel(repo, why=WHY), queue_path)
    print("\n".join(notes) if notes else "nothing to do")
    return 0


def hooks_uninstall(repo: Path, queue_path: str) -> int:
    notes = githooks.uninstall(toplevel(repo, why=WHY), queue_path)
    print("\n".join(notes) if notes else "nothing to do")
    return 0


def hooks_status(repo: Path, queue_path: str) -> int:
    """Exit 0 when every hook and the merge driver are installed and current, else 1."""
    complete, lines = githooks.status(toplevel(repo, why=WHY), queue_path)
    print("\n".join(lines))
    return 0 if complete else 1
