"""The live queue file is never lost: the coordinator keeps a copy of it as it last left it
(the last good state, in the git directory), and a queue that disappeared, became unreadable or
lost tasks since is put back from that copy, alerted, and never committed.

Agents write the live queue only through the task command, which never deletes a task; an
agent that deletes or truncates the file itself (it lives in the main repository, which the
agent can reach) is caught at the next step of the coordinator: applying a result, planning,
or the queue-state commit.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from orchestrator import gitops
from orchestrator.coordinator.ports import Ports
from orchestrator.errors import UserError

LAST_GOOD = "queue-last-good.jsonl"
# the task IDs of each last-good copy this process wrote, by the copy's stat: `check` runs at
# every step, and re-parsing a large queue each time would cost more than the step
_IDS: dict[Path, tuple[tuple[int, int, int], frozenset[str]]] = {}
_KEPT: dict[Path, tuple[int, int, int]] = {}   # the live file's stat when it was last copied


def _key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _paths(ports: Ports) -> tuple[Path, Path] | None:
    path = getattr(ports.store, "path", None)
    if not ports.git or ports.store.kind != "jsonl" or path is None:
        return None
    common = gitops.git_common_dir(ports.repo)
    if common is None:
        return None
    return Path(path), common / "orchestrator" / LAST_GOOD


def _ids(text: str) -> set[str]:
    out = set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            out.add(record["id"])
    return out


def keep(ports: Ports) -> None:
    """Remember the live queue as the coordinator leaves it (after its own writes)."""
    paths = _paths(ports)
    if paths is None or not paths[0].is_file():
        return
    live, copy = paths
    before = _key(live)  # taken before the copy: a write meanwhile makes the next keep copy again
    if _KEPT.get(copy) == before and copy.is_file():
        return  # unchanged since the last copy
    copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = copy.with_suffix(".tmp")
    shutil.copyfile(live, tmp)
    tmp.replace(copy)
    try:
        ids = frozenset(ports.store.all())
    except UserError:
        _IDS.pop(copy, None)
        return
    _IDS[copy] = (_key(copy), ids)
    _KEPT[copy] = before


def check(ports: Ports) -> str:
    """Put the last good queue back when the live one disappeared, cannot be read or lost
    tasks; returns what happened ("" when the queue is whole)."""
    paths = _paths(ports)
    if paths is None or not paths[1].is_file():
        return ""
    live, copy = paths
    cached = _IDS.get(copy)
    if cached is not None and cached[0] == _key(copy):
        good_ids: set[str] | frozenset[str] = cached[1]
    else:
        good_ids = _ids(copy.read_text(encoding="utf-8", errors="replace"))
    why = ""
    if not live.is_file():
        why = f"{live.name} was deleted"
    else:
        try:
            now = set(ports.store.all())
        except UserError as e:
            now, why = set(), f"{live.name} could not be read ({e})"
        lost = sorted(good_ids - now)
        if lost and not why:
            why = f"{len(lost)} task(s) disappeared from {live.name} ({', '.join(lost[:5])})"
    if not why:
        return ""
    shutil.copyfile(copy, live.with_suffix(".restoring"))
    live.with_suffix(".restoring").replace(live)
    msg = f"the live queue was damaged behind the coordinator's back: {why}; it is restored " \
          "from the coordinator's last good copy, and the damage is not committed"
    ports.forge.alert("queue", msg)
    ports.event(msg)
    return msg
