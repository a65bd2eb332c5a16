"""The queue-state commit: the embedded store's file travels with the branch it describes."""
from __future__ import annotations

import json
from pathlib import Path

from orchestrator import gitops
from orchestrator.coordinator.ports import Ports

# fields a claim and its release rewrite without changing what the queue says
_BOOKKEEPING = frozenset({"updated_at", "started_at", "dependency_count", "dependent_count",
                          "comment_count"})


def commit_queue_state(ports: Ports) -> str:
    """Commit the embedded store file when it is tracked in git and changed, so the queue
    state travels with the branch (bd keeps its own database). Returns the path committed."""
    if not ports.git or ports.store.kind != "jsonl":
        return ""
    path = getattr(ports.store, "path", None)
    if path is None:
        return ""
    repo = ports.repo
    try:
        rel = str(Path(path).resolve().relative_to(repo))
    except ValueError:  # a queue file outside the repository
        return ""
    tracked = gitops.run_git(repo, "ls-files", "--error-unmatch", "--", rel,
                             check=False).status == 0
    changed = gitops.run_git(repo, "status", "--porcelain", "--", rel).stdout.strip()
    if not tracked or not changed:  # a queue the user keeps out of git stays out
        return ""
    committed = gitops.run_git(repo, "show", f"HEAD:{rel}", check=False)
    if committed.status == 0 and _bookkeeping_only(committed.stdout, Path(path)):
        return ""  # e.g. a failed launch's claim and release: no state worth a commit
    # a failed commit (no identity, say) is reported, not swallowed: the queue file simply
    # stays modified for the next commit
    done = gitops.run_git(repo, "commit", "-q", "--no-verify", "-m",
                          "orchestrator: queue state", "--", rel, check=False)
    if done.status != 0:
        ports.event(f"could not commit {rel}: {(done.stderr or done.stdout).strip()[:200]}")
        return ""
    return rel


def _bookkeeping_only(committed: str, path: Path) -> bool:
    """True when the queue file differs from its committed text only in timestamps and
    derived counts (so committing it would be noise)."""
    def normal(text: str) -> list[str] | None:
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return None
            if not isinstance(record, dict):
                return None
            out.append(json.dumps({k: v for k, v in record.items() if k not in _BOOKKEEPING},
                                  sort_keys=True))
        return sorted(out)
    try:
        now = path.read_text(encoding="utf-8")
    except OSError:
        return False
    old = normal(committed)
    return old is not None and old == normal(now)
