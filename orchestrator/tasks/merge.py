"""Pure 3-way merge of `.beads/issues.jsonl` texts by task ID and by field (the git merge driver
and the report job's apply step use it).

Per task present on all sides, per field:
- a field changed on one side only takes that side's value;
- a field changed on both sides takes the value of the side with the later `updated_at` (ours on
  a tie), and the result records a `Resolution` saying which;
- `closed` is never undone by an older change: when one side is closed and the other is not, the
  task stays closed unless the other side explicitly reopened it (closed in base) and either the
  closed side left the close as it was in base or the reopen is later; closed_at / close_reason /
  closed_by_session follow the status;
- labels, dependencies (by target and type) and comments (by ID) merge as sets: additions from
  both sides are kept, removals from either side are applied;
- `updated_at` is the later of the two.
A task created on both sides with the same ID and different content is a conflict (both versions
are written between git conflict markers, so the file does not parse until someone resolves it).
A task deleted on one side and changed on the other is kept, and so is one a kept dependency
still points at. Unknown fields take part like any
other field and keep their place; unchanged lines are kept byte for byte; the order is ours, then
tasks only theirs has, in their order.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.tasks import graph
from orchestrator.tasks.jsonl import parse
from orchestrator.tasks.model import (
    COUNT_KEYS,
    PARENT_CHILD,
    Status,
    Task,
    dumps,
    parse_time,
    place_keys,
    task_from_record,
    to_record,
)

OURS, THEIRS = "ours", "theirs"
_MISSING: Any = object()
_STATUS_GROUP = ("status", "closed_at", "close_reason", "closed_by_session")
_SET_FIELDS = ("labels", "dependencies", "comments")
_SPECIAL = frozenset({"updated_at", *_STATUS_GROUP, *_SET_FIELDS, *COUNT_KEYS})


@dataclass(frozen=True)
class Resolution:
    """A field both sides changed, and which side's value was kept."""

    task_id: str
    field: str
    kept: str            # "ours" | "theirs"
    reason: str          # e.g. "later updated_at (2026-05-29T11:00:00Z)"

    def describe(self) -> str:
        return f"{self.task_id}.{self.field}: kept {self.kept} ({self.reason})"


@dataclass(frozen=True)
class Conflict:
    task_id: str
    reason: str
    ours: str = ""       # the JSONL line on each side ("" when not applicable)
    theirs: str = ""

    def describe(self) -> str:
        return f"{self.task_id}: {self.reason}"


@dataclass(frozen=True)
class MergeResult:
    text: str
    resolutions: tuple[Resolution, ...] = ()
    conflicts: tuple[Conflict, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.conflicts


@dataclass(frozen=True)
class _Side:
    order: list[tuple[str, str]]          # (kind, key) in file order; kind "task" | "other"
    lines: dict[tuple[str, str], str]     # the line as read
    records: dict[str, dict[str, Any]]    # task id -> raw record
    others: dict[tuple[str, str], str]    # non-issue lines (memories) by key


def _side(text: str, name: str) -> _Side:
    state = parse(Path(name), text.encode("utf-8"))
    order: list[tuple[str, str]] = []
    lines: dict[tuple[str, str], str] = {}
    others: dict[tuple[str, str], str] = {}
    for line in state.lines:
        text_line = line.text or ""
        if line.task_id is not None:
            key = ("task", line.task_id)
        else:
            rec = json.loads(text_line)
            ident = rec.get("key") if isinstance(rec, dict) else None
            key = ("other", f"{rec.get('_type')}:{ident}" if isinstance(ident, str) else text_line)
            others[key] = text_line
        if key not in lines:
            order.append(key)
        lines[key] = text_line
    records = {tid: dict(task.raw) for tid, task in state.tasks.items()}
    return _Side(order, lines, records, others)


def _later(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> tuple[str, str]:
    """Which side's updated_at is later (ours on a tie or when unreadable), and why."""
    o, t = parse_time(str(ours.get("updated_at", ""))), parse_time(str(theirs.get("updated_at", "")))
    if o is not None and t is not None and t > o:
        return THEIRS, f"later updated_at {theirs.get('updated_at')}"
    if o is not None and t is not None and o > t:
        return OURS, f"later updated_at {ours.get('updated_at')}"
    return OURS, "same updated_at, ours kept"


def _time(rec: Mapping[str, Any]) -> float:
    when = parse_time(str(rec.get("updated_at", "")))
    return when.timestamp() if when else float("-inf")


def _three_way(b: Any, o: Any, t: Any) -> tuple[Any, bool]:
    """(value, both sides changed it differently)."""
    if o == t:
        return o, False
    if o == b:
        return t, False
    if t == b:
        return o, False
    return _MISSING, True


def _set_merge(b: Sequence[Any], o: Sequence[Any], t: Sequence[Any],
               key: Callable[[Any], Hashable]) -> list[Any]:
    """Union of both sides' additions minus either side's removals; ours' order first."""
    bk = {key(x) for x in b}
    ok_, tk = {key(x) for x in o}, {key(x) for x in t}
    removed = {k for k in bk if k not in ok_ or k not in tk}
    out: list[Any] = []
    seen: set[Hashable] = set()
    for item in (*o, *t):
        k = key(item)
        if k in seen or k in removed:
            continue
        seen.add(k)
        out.append(item)
    return out


def _dep_key(d: Any) -> Hashable:
    return (d.get("depends_on_id"), d.get("type")) if isinstance(d, dict) else repr(d)


def _comment_key(c: Any) -> Hashable:
    if isinstance(c, dict):
        return ("id", str(c["id"])) if c.get("id") not in (None, "") else \
            (c.get("author"), c.get("text"), c.get("created_at"))
    return repr(c)


def _merge_status(b: Mapping[str, Any] | None, o: Mapping[str, Any], t: Mapping[str, Any],
                  tid: str, out: dict[str, Any], resolutions: list[Resolution]) -> None:
    o_closed, t_closed = o.get("status") == Status.CLOSED, t.get("status") == Status.CLOSED
    source: Mapping[str, Any] | None = None
    if o_closed != t_closed:
        closed, other = (o, t) if o_closed else (t, o)
        reopened = b is not None and b.get("status") == Status.CLOSED
        # the reopen is the only status change when the closed side left the close as in base
        close_untouched = b is not None and all(closed.get(k) == b.get(k) for k in _STATUS_GROUP)
        if reopened and (close_untouched or _time(other) > _time(closed)):
            source = other
        else:
            source = closed
            if other.get("status") != (b or {}).get("status", _MISSING):
                resolutions.append(Resolution(tid, "status", OURS if o_closed else THEIRS,
                                              "closed is not undone by an older change"))
        for k in _STATUS_GROUP:
            if k in source:
                out[k] = source[k]
            else:
                out.pop(k, None)
        return
    for k in _STATUS_GROUP:
        _merge_field(b, o, t, k, tid, out, resolutions)


def _merge_field(b: Mapping[str, Any] | None, o: Mapping[str, Any], t: Mapping[str, Any], k: str,
                 tid: str, out: dict[str, Any], resolutions: list[Resolution]) -> None:
    bv = _MISSING if b is None else b.get(k, _MISSING)
    value, both = _three_way(bv, o.get(k, _MISSING), t.get(k, _MISSING))
    if both:
        kept, reason = _later(o, t)
        value = (o if kept == OURS else t).get(k, _MISSING)
        resolutions.append(Resolution(tid, k, kept, reason))
    if value is _MISSING:
        out.pop(k, None)
    else:
        out[k] = value


def _merge_task(b: Mapping[str, Any] | None, o: Mapping[str, Any], t: Mapping[str, Any],
                tid: str, resolutions: list[Resolution]) -> dict[str, Any]:
    out = dict(o)
    for k in list(dict.fromkeys([*o, *t, *(b or {})])):
        if k not in _SPECIAL:
            _merge_field(b, o, t, k, tid, out, resolutions)
    _merge_status(b, o, t, tid, out, resolutions)
    base = b or {}
    for k, key in (("labels", lambda x: x), ("dependencies", _dep_key), ("comments", _comment_key)):
        merged = _set_merge(base.get(k) or [], o.get(k) or [], t.get(k) or [], key)
        if k == "comments" and merged not in (o.get(k) or [], t.get(k) or []):
            merged.sort(key=lambda c: str(c.get("created_at", "")) if isinstance(c, dict) else "")
        if merged:
            out[k] = merged
        else:
            out.pop(k, None)
    times = [x for x in (o.get("updated_at"), t.get("updated_at")) if x]
    if times:
        out["updated_at"] = max(times, key=lambda s: (_time({"updated_at": s}), str(s)))
    return _in_order(out, list(o))


def _in_order(rec: dict[str, Any], ours_keys: list[str]) -> dict[str, Any]:
    """Ours' key order; keys new to ours go where bd emits them (unknown ones at the end)."""
    return {k: rec[k] for k in place_keys([k for k in ours_keys if k in rec], rec)}


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = set(COUNT_KEYS)
    return {k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip}


def merge_records(base: str, ours: str, theirs: str, *,
                  names: tuple[str, str, str] = ("base", "ours", "theirs")) -> MergeResult:
    """3-way merge of three issues.jsonl texts. A text that does not parse is a UserError naming
    the file (from `names`) and line."""
    B, O, T = _side(base, names[0]), _side(ours, names[1]), _side(theirs, names[2])
    resolutions: list[Resolution] = []
    conflicts: list[Conflict] = []
    merged: dict[str, dict[str, Any]] = {}
    conflicted: dict[str, tuple[str, str]] = {}
    verbatim: dict[str, str] = {}
    deleted: dict[str, dict[str, Any]] = {}   # deleted on one side, untouched on the other

    order = list(O.order) + [k for k in T.order if k not in O.lines]
    for kind, key in order:
        if kind != "task":
            continue
        tid = key
        b, o, t = B.records.get(tid), O.records.get(tid), T.records.get(tid)
        if o is not None and t is not None:
            if b is None and not _same(o, t):
                conflicted[tid] = (O.lines[("task", tid)], T.lines[("task", tid)])
                conflicts.append(Conflict(tid, "created on both sides with different content",
                                          *conflicted[tid]))
                continue
            rec = _merge_task(b, o, t, tid, resolutions)
        elif o is not None:  # theirs lacks it: new on ours, or deleted on theirs
            if b is not None and _same(b, o):
                deleted[tid] = o  # theirs deleted a task ours did not touch
                continue
            rec = o
        else:
            assert t is not None
            if b is not None and _same(b, t):
                deleted[tid] = t
                continue
            rec = t
        merged[tid] = rec
        for side in (O, T):
            if side.records.get(tid) is not None and side.records[tid] == rec:
                verbatim.setdefault(tid, side.lines[("task", tid)])

    # a deleted task that a kept edge still points at stays (the deletion would dangle the edge)
    wanted = [d.get("depends_on_id") for r in merged.values() for d in r.get("dependencies") or []]
    while wanted:
        target = wanted.pop()
        if target in deleted and target not in merged:
            merged[target] = deleted[target]
            wanted += [d.get("depends_on_id") for d in merged[target].get("dependencies") or []]
    for tid in deleted:
        if tid in merged:
            side = O if tid in O.records else T
            verbatim[tid] = side.lines[("task", tid)]
    tasks = {tid: task_from_record(rec) for tid, rec in merged.items()}
    counts = graph.dependency_counts(tasks)
    out: list[str] = []
    for kind, key in order:
        if kind == "other":
            line = _merge_other(B, O, T, (kind, key))
            if line is not None:
                out.append(line)
            continue
        if key in conflicted:
            o_line, t_line = conflicted[key]
            out += [f"<<<<<<< {names[1]}", o_line, "=======", t_line, f">>>>>>> {names[2]}"]
            continue
        if key not in merged:
            continue
        task = tasks[key]
        line = verbatim.get(key)
        stale = any(task.raw.get(k, counts[key][k]) != counts[key][k] for k in COUNT_KEYS)
        if line is None or stale:
            line = dumps(to_record(task, counts[key] if _has_counts(task) else None))
        out.append(line)
    conflicts += _graph_conflicts(tasks)
    text = "\n".join(out) + "\n" if out else ""
    return MergeResult(text, tuple(resolutions), tuple(conflicts))


def _has_counts(task: Task) -> bool:
    return any(k in task.raw for k in COUNT_KEYS)


def _merge_other(B: _Side, O: _Side, T: _Side, key: tuple[str, str]) -> str | None:
    value, both = _three_way(B.others.get(key, _MISSING), O.others.get(key, _MISSING),
                             T.others.get(key, _MISSING))
    if both:
        value = O.others.get(key, _MISSING)
    return None if value is _MISSING else value


def _graph_conflicts(tasks: Mapping[str, Task]) -> list[Conflict]:
    """Edits that merge cleanly line by line but not as a queue: dangling edges and cycles."""
    out: list[Conflict] = []
    for tid, task in tasks.items():
        for dep in task.dependencies:
            target = dep.depends_on_id
            if target not in tasks and not target.startswith("external:"):
                out.append(Conflict(tid, f"depends on {target}, which the other side deleted"))
    for cycle in graph.find_cycles(tasks):
        out.append(Conflict(cycle[0], f"the merge makes a dependency cycle: {' -> '.join(cycle)}"))
    for cycle in graph.find_cycles(tasks, frozenset({PARENT_CHILD})):
        out.append(Conflict(cycle[0], f"the merge makes a parent-child cycle: {' -> '.join(cycle)}"))
    return out
