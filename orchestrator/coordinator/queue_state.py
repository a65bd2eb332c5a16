"""The queue-state commit: the embedded store's file travels with the branch it describes."""
from __future__ import annotations

import json
from pathlib import Path

from orchestrator import gitops
from orchestrator.coordinator import crashpoints, queue_guard, recovery
from orchestrator.coordinator.ports import Ports
from orchestrator.fileio import write_atomic
from orchestrator.secrets import find_tokens, scrub

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
    queue_guard.check(ports)  # a deleted or truncated queue is put back, never committed
    # a task is closed in the committed queue only when its work is on the working branch
    recovery.restore_invariant(ports, ports.store.all(), ports.leases.live())
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
    # the token check runs whatever hooks the clone has: what looks like a credential is cut
    # out of the queue before it is committed (the task command scrubs what agents write; this
    # catches what reached the file another way)
    found = find_tokens(gitops.run_git(repo, "diff", "-U0", "--no-color", "--no-ext-diff",
                                       "HEAD", "--", rel, check=False).raw)
    if found:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        write_atomic(Path(path), scrub(text))
        ports.event(f"{rel}: cut what looked like credentials out of the queue before "
                    f"committing it ({'; '.join(found[:3])})")
    # the project's own hooks run (no --no-verify); a failed commit (no identity, a hook that
    # refuses) is reported, not swallowed: the queue file simply stays modified
    done = gitops.run_git(repo, "commit", "-q", "-m", "orchestrator: queue state", "--", rel,
                          check=False)
    if done.status != 0:
        ports.event(f"could not commit {rel}: {(done.stderr or done.stdout).strip()[:200]}")
        return ""
    head = gitops.run_git(repo, "symbolic-ref", "-q", "HEAD", check=False).stdout.strip()
    if head:  # the working branch moved by our own hand: not an agent's doing
        gitops.note_ref_moved(repo, head, gitops.head_commit(repo))
    queue_guard.keep(ports)
    crashpoints.reached("queue-committed")
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
