"""What an agent may do to the queue: the one rule, asked by the task command the agent is
given (`orchestrator task` with ORCHESTRATOR_AGENT_TASK set) and by `apply.apply_results` on
the changes a result record carries (the GitHub report job's only view of the agent).

An agent may read anything; change its own task (notes, comments, close, its status); create
tasks; and add or remove dependencies of its own task (a blocker it discovered). Anything else
(closing, reopening, editing or re-wiring another task) is refused with a message saying why,
and recorded beside the run's logs (`refused.log`), so the attempt record names it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.tasks.store import NewTask

ENV = "ORCHESTRATOR_AGENT_TASK"   # the agent's own task (set in the agent's environment)
REFUSED_LOG = "refused.log"       # in the run's log directory, one refusal a line


def refusal(own: str, action: str, targets: Iterable[str]) -> str:
    """Why `action` on `targets` is not the agent's to do ("" when it is)."""
    others = sorted({t for t in targets if t != own})
    if action == "create" or not others:
        return ""
    return (f"refused: an agent may change only its own task {own}, and `{action}` would "
            f"change {', '.join(others)}. Leave a note or a comment on {own}, or create a task, "
            "instead.")


def new_task_targets(new: NewTask) -> list[str]:
    """The existing tasks `create` changes: those the new task is made to block."""
    return [d.split(":", 1)[1] for d in new.deps if d.startswith("blocks:")]


def confined_to() -> str:
    return os.environ.get(ENV, "").strip()


def enforce(action: str, targets: Sequence[str]) -> None:
    """For the task command: a UserError (exit 2, one line, to the agent) when the agent this
    command runs for may not do it; recorded for its run. Without ORCHESTRATOR_AGENT_TASK (a
    human at a shell) everything is allowed."""
    own = confined_to()
    if not own:
        return
    why = refusal(own, action, targets)
    if why:
        record(why)
        raise UserError(why)


def record(line: str) -> None:
    log_dir = os.environ.get("ORCHESTRATOR_LOG_DIR", "").strip()
    if log_dir and Path(log_dir).is_dir():
        with open(Path(log_dir) / REFUSED_LOG, "a", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")


def read_refused(log_dir: Path) -> tuple[str, ...]:
    try:
        text = (Path(log_dir) / REFUSED_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(line for line in text.splitlines() if line.strip())
