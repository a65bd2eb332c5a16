"""Text that goes into and comes out of GitHub comments (pure): the hidden markers that let the
forge find its own comments again, and the `/orchestrator ...` command a human writes.

A marker is one HTML comment on a line of its own, invisible in the rendered comment. It names
the queue, so two queues (two branches, two workflows) sharing an issue never edit each other's
comment: peers that found "their" comment by bot id alone clobbered each other
(anthropics/claude-code-action#770).

Comment bodies are untrusted data: they are only ever matched against fixed patterns here,
never passed to a shell or a workflow expression."""
from __future__ import annotations

import re
from dataclasses import dataclass

STATUS = "status"
ESCALATION = "escalation"
TRACKING = "tracking"

_SAFE = re.compile(r"[^A-Za-z0-9._/:@+-]")
_MARKER = re.compile(
    r"^<!-- orchestrator:(status|escalation|tracking) v1 queue=(\S{1,300})"
    r"(?: task=([A-Za-z0-9][A-Za-z0-9._-]{0,63}) attempt=([0-9]{1,6}))? -->$")
# bd IDs: prefix-hash, with .N for children (bd-a1b2, proj-12.3)
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

VERBS = ("run", "stop", "retry", "status")
RESET_BRANCH = "--reset-branch"
PREFIX = "/orchestrator"


def queue_identity(repository: str, branch: str, queue_path: str) -> str:
    """A stable name for one queue: which repository, which working branch, which store."""
    text = f"{repository}@{branch or '-'}:{queue_path or '-'}"
    return _SAFE.sub("_", text)[:300]


def marker(kind: str, queue: str, *, task: str = "", attempt: int = 0) -> str:
    queue = _SAFE.sub("_", queue)[:300] or "-"
    tail = f" task={task} attempt={attempt}" if task and TASK_ID.match(task) else ""
    return f"<!-- orchestrator:{kind} v1 queue={queue}{tail} -->"


@dataclass(frozen=True)
class Marker:
    kind: str
    queue: str
    task: str = ""
    attempt: int = 0


def parse_markers(text: str) -> list[Marker]:
    """Every marker in a comment body, in order; anything else is ignored."""
    out = []
    for line in text.splitlines():
        m = _MARKER.match(line.strip())
        if m:
            out.append(Marker(m[1], m[2], m[3] or "", int(m[4]) if m[4] else 0))
    return out


def has_marker(text: str, kind: str, queue: str) -> bool:
    return any(m.kind == kind and m.queue == queue for m in parse_markers(text))


@dataclass(frozen=True)
class Command:
    """`verb` is one of VERBS, or "unknown" for a `/orchestrator` line that is not a command
    (answered with the usage, never guessed at)."""

    verb: str
    task_id: str = ""
    reset_branch: bool = False   # `retry ID --reset-branch`: set the task's branch aside too


USAGE = ("Commands: `/orchestrator run` (start a chain), `/orchestrator stop` (pause), "
         "`/orchestrator retry ID` (reopen an escalated task; add `--reset-branch` to also set "
         "its branch aside and start over), `/orchestrator status` "
         "(refresh the status comment).")


def parse_command(body: str) -> Command | None:
    """The first line that starts with `/orchestrator`, outside fenced code and quotes, read
    as a command; None when there is no such line. Exact words only: anything extra on the
    line makes it "unknown" rather than a command the commenter did not write."""
    fenced = False
    for raw in body.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or not line.startswith(PREFIX):
            continue
        words = line.split()
        if words[0] != PREFIX:
            continue  # "/orchestratorfoo" is someone else's command
        args = words[1:]
        if len(args) == 1 and args[0] in ("run", "stop", "status"):
            return Command(args[0])
        if len(args) in (2, 3) and args[0] == "retry" and TASK_ID.match(args[1]):
            if len(args) == 2:
                return Command("retry", args[1])
            if args[2] == RESET_BRANCH:
                return Command("retry", args[1], reset_branch=True)
        return Command("unknown")
    return None
