"""The beads data model: tasks, dependencies and comments as bd 1.x exports them.

A Task keeps the record it was read from (`raw`), so fields this model does not know
(messaging, molecules, gates, future bd fields) and custom statuses/types are written back
unchanged. `to_record` overlays the modelled fields on that record in bd's key order.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any, TypeVar


class Status(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DEFERRED = "deferred"
    CLOSED = "closed"
    PINNED = "pinned"
    HOOKED = "hooked"


class IssueType(StrEnum):
    BUG = "bug"
    FEATURE = "feature"
    TASK = "task"
    EPIC = "epic"
    CHORE = "chore"
    DECISION = "decision"
    MESSAGE = "message"
    MOLECULE = "molecule"
    GATE = "gate"
    SPIKE = "spike"
    STORY = "story"
    MILESTONE = "milestone"
    EVENT = "event"


TYPE_ALIASES = {
    "enhancement": "feature", "feat": "feature", "dec": "decision", "adr": "decision",
    "investigation": "spike", "timebox": "spike", "user-story": "story", "ms": "milestone",
    "mr": "merge-request", "mol": "molecule",
}

# bd ready never returns these types (ready_work.go).
READY_EXCLUDED_TYPES = frozenset({"merge-request", "gate", "molecule", "message", "agent", "role", "rig"})

# Dependency types that affect readiness (types.AffectsReadyWork).
BLOCKS = "blocks"
CONDITIONAL_BLOCKS = "conditional-blocks"
PARENT_CHILD = "parent-child"
WAITS_FOR = "waits-for"
BLOCKING_EDGES = frozenset({BLOCKS, CONDITIONAL_BLOCKS})
WELL_KNOWN_DEP_TYPES = frozenset({
    BLOCKS, PARENT_CHILD, CONDITIONAL_BLOCKS, WAITS_FOR, "related", "discovered-from",
    "replies-to", "relates-to", "duplicates", "supersedes", "authored-by", "assigned-to",
    "approved-by", "attests", "tracks", "until", "caused-by", "validates", "delegated-from",
})

PRIORITIES = range(0, 5)
DEFAULT_PRIORITY = 2

# Key order of bd's exportIssueRecord (types.Issue in Go struct order, then the counts).
FIELD_ORDER = (
    "_type", "id", "title", "description", "design", "acceptance_criteria", "notes", "spec_id",
    "status", "priority", "issue_type", "assignee", "owner", "estimated_minutes", "created_at",
    "created_by", "updated_at", "started_at", "closed_at", "close_reason", "closed_by_session",
    "due_at", "defer_until", "external_ref", "source_system", "metadata", "compaction_level",
    "compacted_at", "compacted_at_commit", "original_size", "labels", "dependencies", "comments",
    "sender", "ephemeral", "no_history", "wisp_type", "pinned", "is_template", "bonded_from",
    "await_type", "await_id", "timeout", "waiters", "source_formula", "source_location",
    "mol_type", "work_type", "event_kind", "actor", "target", "payload",
    "dependency_count", "dependent_count", "comment_count",
)
_RANK = {k: i for i, k in enumerate(FIELD_ORDER)}
COUNT_KEYS = ("dependency_count", "dependent_count", "comment_count")
ALWAYS_PRESENT = frozenset({"id", "title", "priority", "created_at", "updated_at"})
MAX_ID_LENGTH = 200  # bd's IDs are a prefix, a hash and a few .N suffixes


@dataclass(frozen=True)
class Dependency:
    """`issue_id` depends on `depends_on_id` (so depends_on_id blocks issue_id)."""

    issue_id: str
    depends_on_id: str
    type: str = BLOCKS
    created_at: str = ""
    created_by: str = ""
    metadata: str = "{}"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def gate(self) -> str | None:
        """The waits-for gate as bd's SQL reads it (`JSON_UNQUOTE(JSON_EXTRACT(metadata,
        '$.gate'))`): "all-children", "any-children", or None when the metadata names no gate,
        which is not the same as all-children (graph.gate_holds says how)."""
        try:
            meta = json.loads(self.metadata or "{}")
        except (ValueError, RecursionError):  # the queue's text, not ours: never trusted
            return None
        if not isinstance(meta, dict) or "gate" not in meta:
            return None
        gate = meta["gate"]
        return gate if isinstance(gate, str) else json.dumps(gate)

    def to_record(self) -> dict[str, Any]:
        out = dict(self.raw)
        out.update(issue_id=self.issue_id, depends_on_id=self.depends_on_id, type=self.type,
                   created_at=self.created_at)
        if self.created_by:
            out["created_by"] = self.created_by
        out["metadata"] = self.metadata
        return out


@dataclass(frozen=True)
class Comment:
    id: str
    issue_id: str
    author: str
    text: str
    created_at: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_record(self) -> dict[str, Any]:
        out = dict(self.raw)
        out.update(id=self.id, issue_id=self.issue_id, author=self.author, text=self.text,
                   created_at=self.created_at)
        return out


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    status: str = Status.OPEN
    priority: int = DEFAULT_PRIORITY
    issue_type: str = IssueType.TASK
    created_at: str = ""
    updated_at: str = ""
    description: str = ""
    design: str = ""
    acceptance_criteria: str = ""
    notes: str = ""
    assignee: str = ""
    owner: str = ""
    created_by: str = ""
    started_at: str = ""
    closed_at: str = ""
    close_reason: str = ""
    defer_until: str = ""
    external_ref: str = ""
    metadata: Mapping[str, Any] | None = None
    labels: tuple[str, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    comments: tuple[Comment, ...] = ()
    pinned: bool = False
    ephemeral: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def parent(self) -> str | None:
        """Target of the first parent-child edge, as bd reports `parent`."""
        for dep in self.dependencies:
            if dep.type == PARENT_CHILD:
                return dep.depends_on_id
        return None

    def evolve(self, **changes: Any) -> Task:
        return replace(self, **changes)


_STR_FIELDS = (
    "title", "description", "design", "acceptance_criteria", "notes", "assignee", "owner",
    "created_at", "updated_at", "created_by", "started_at", "closed_at", "close_reason",
    "defer_until", "external_ref",
)


_STR_SET = frozenset(_STR_FIELDS)
_EMPTY_TEXT = dict.fromkeys(_STR_FIELDS, "")

_T = TypeVar("_T")


class RecordError(ValueError):
    """A record that is not a valid bd issue; the store adds file and line."""


def _is_mapping(value: object) -> bool:
    # exact dict first: json.loads gives dicts, and the ABC check costs ~10x more (bench/)
    return type(value) is dict or isinstance(value, Mapping)


def _build(cls: type[_T], values: dict[str, Any]) -> _T:
    """`cls(**values)` for a frozen dataclass when `values` names every field, already checked.

    The generated __init__ of a frozen dataclass pays one object.__setattr__ per field, which
    made building tasks the largest cost of reading a big queue (bench/bench_ready.py);
    filling the instance dict directly is about twice as fast. Neither class has a
    __post_init__, and equality, replace() and repr work on the result as usual."""
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


def _show(value: Any, limit: int = 60) -> str:
    """A value for an error message: one line, bounded (a record may hold megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "a value")


def _text(tid: str, where: str, value: Any) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise RecordError(f"task {tid}: {where} must be a string, got {_kind(value)} "
                          f"{_show(value)}")
    return value


def _dependency(tid: str, i: int, d: Any) -> Dependency:
    where = f"dependencies[{i}]"
    if not _is_mapping(d):
        raise RecordError(f"task {tid}: {where} must be an object, got {_kind(d)} {_show(d)}")
    get = d.get
    target = get("depends_on_id")
    if type(target) is not str or not target:
        raise RecordError(f"task {tid}: {where}.depends_on_id must be a task ID, got "
                          f"{_kind(target)} {_show(target)}")
    meta = get("metadata", "{}")
    if type(meta) is not str:
        if meta is None:
            meta = "{}"
        elif _is_mapping(meta):  # tolerate an object where bd writes a JSON string
            meta = json.dumps(meta, separators=(",", ":"))
        else:
            raise RecordError(f"task {tid}: {where}.metadata must be a JSON string or object, "
                              f"got {_kind(meta)} {_show(meta)}")
    return _build(Dependency, {
        "issue_id": _text(tid, f"{where}.issue_id", get("issue_id")) or tid,
        "depends_on_id": target,
        "type": _text(tid, f"{where}.type", get("type")) or BLOCKS,
        "created_at": _text(tid, f"{where}.created_at", get("created_at")),
        "created_by": _text(tid, f"{where}.created_by", get("created_by")),
        "metadata": meta, "raw": d,
    })


def _dependencies(tid: str, deps: list[Any]) -> tuple[Dependency, ...]:
    """The common case inline (every field a string, metadata a JSON string); anything else
    goes through _dependency, which converts or names the bad field."""
    out = []
    for i, d in enumerate(deps):
        if type(d) is dict:
            get = d.get
            target, issue_id, kind = get("depends_on_id"), get("issue_id"), get("type")
            created_at, created_by, meta = get("created_at"), get("created_by"), get("metadata")
            if type(target) is str and target and type(issue_id) is str and issue_id \
                    and type(kind) is str and kind and type(created_at) is str \
                    and type(meta) is str and (created_by is None or type(created_by) is str):
                dep = object.__new__(Dependency)
                dep.__dict__.update(issue_id=issue_id, depends_on_id=target, type=kind,
                                    created_at=created_at, created_by=created_by or "",
                                    metadata=meta, raw=d)
                out.append(dep)
                continue
        out.append(_dependency(tid, i, d))
    return tuple(out)


def _comment(tid: str, i: int, c: Any) -> Comment:
    where = f"comments[{i}]"
    if not _is_mapping(c):
        raise RecordError(f"task {tid}: {where} must be an object, got {_kind(c)} {_show(c)}")
    get = c.get
    cid = get("id", "")
    if type(cid) is not str:  # bd's older integer comment IDs
        if isinstance(cid, bool) or not isinstance(cid, int) or abs(cid) >= 2 ** 63:
            raise RecordError(f"task {tid}: {where}.id must be a string or an integer, got "
                              f"{_kind(cid)} {_show(cid)}")
        cid = str(cid)
    return _build(Comment, {
        "id": cid, "issue_id": _text(tid, f"{where}.issue_id", get("issue_id")) or tid,
        "author": _text(tid, f"{where}.author", get("author")),
        "text": _text(tid, f"{where}.text", get("text")),
        "created_at": _text(tid, f"{where}.created_at", get("created_at")), "raw": c,
    })


def _list(tid: str, name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise RecordError(f"task {tid}: {name} must be a list, got {_kind(value)} {_show(value)}")
    return value


def task_from_record(rec: Mapping[str, Any], *, owned: bool = False) -> Task:
    """A Task from a bd export record, its shape checked: any field of the wrong type is a
    RecordError naming the task and the field (nothing downstream meets a surprise).

    owned: the caller hands the record over (a fresh json.loads), so it is kept as the raw
    record without a copy."""
    if not _is_mapping(rec):
        raise RecordError(f"expected a JSON object, got {_kind(rec)}")
    get = rec.get
    tid = get("id")
    if type(tid) is not str or not tid:
        raise RecordError("missing or empty \"id\"" if tid is None or tid == "" else
                          f"\"id\" must be a string, got {_kind(tid)} {_show(tid)}")
    if len(tid) > MAX_ID_LENGTH:
        raise RecordError(f"task {_show(tid, 40)}: ID longer than {MAX_ID_LENGTH} characters")
    priority = get("priority", DEFAULT_PRIORITY)
    if type(priority) is not int or priority not in PRIORITIES:
        raise RecordError(f"task {tid}: unknown priority {_show(priority)} (expected 0-4)")
    kwargs: dict[str, Any] = _EMPTY_TEXT.copy()
    for name in _STR_SET.intersection(rec):  # the text fields present, usually half of them
        value = rec[name]
        if type(value) is not str:
            if value is None:
                continue
            raise RecordError(f"task {tid}: field {name!r} must be a string, got {_kind(value)} "
                              f"{_show(value)}")
        kwargs[name] = value
    status = _text(tid, "status", get("status")) or Status.OPEN
    itype = _text(tid, "issue_type", get("issue_type")) or IssueType.TASK
    labels = _list(tid, "labels", get("labels"))
    for x in labels:
        if type(x) is not str:
            raise RecordError(f"task {tid}: labels must be strings, got {_kind(x)} {_show(x)}")
    deps = _list(tid, "dependencies", get("dependencies"))
    comments = _list(tid, "comments", get("comments"))
    metadata = get("metadata")
    kwargs.update(
        id=tid, status=status, priority=priority, issue_type=itype,
        metadata=metadata if metadata and _is_mapping(metadata) else None,
        labels=tuple(labels),
        dependencies=_dependencies(tid, deps) if deps else (),
        comments=tuple([_comment(tid, i, c) for i, c in enumerate(comments)]) if comments else (),
        pinned=bool(get("pinned")), ephemeral=bool(get("ephemeral")),
        raw=rec if owned else dict(rec),
    )
    kwargs[_READ_AS_IS] = True
    return _build(Task, kwargs)


# set on a Task built by task_from_record; dataclasses.replace() builds a new instance
# without it, so a changed task is always rebuilt by to_record
_READ_AS_IS = "_read_as_is"
_EMITTED_ALWAYS = frozenset({"id", "title", "priority", "created_at", "updated_at", "status",
                             "issue_type"})
_OMITTED_WHEN_EMPTY = frozenset(_STR_FIELDS) - _EMITTED_ALWAYS | {"labels", "dependencies",
                                                                  "comments", "metadata"}
_FLAGS = frozenset({"pinned", "ephemeral"})


def _modelled(task: Task) -> dict[str, Any]:
    """The modelled fields as bd would emit them (omitempty applied)."""
    out: dict[str, Any] = {name: getattr(task, name) for name in _STR_FIELDS}
    out.update(
        id=task.id, status=task.status, priority=task.priority, issue_type=task.issue_type,
        metadata=dict(task.metadata) if task.metadata else None,
        labels=list(task.labels),
        dependencies=[d.to_record() for d in task.dependencies],
        comments=[c.to_record() for c in task.comments],
        pinned=task.pinned, ephemeral=task.ephemeral,
    )
    return {k: v for k, v in out.items() if k in ALWAYS_PRESENT or v not in ("", None, [], False)}


def to_record(task: Task, counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The export record: the raw record with modelled fields overlaid, in bd key order.

    Unknown keys keep their place; modelled keys that became empty are dropped. A task as
    read from a record already in that form (what bd writes) is that record: it is copied,
    not rebuilt (rebuilding was most of `ready --json` on a big queue, docs/performance.md)."""
    raw = task.raw
    if task.__dict__.get(_READ_AS_IS) and (counts is None or all(k in raw for k in counts)) \
            and _canonical(raw):
        rec = dict(raw)
        if counts:
            rec.update(counts)
        return rec
    return _rebuilt_record(task, counts)


def _canonical(raw: Mapping[str, Any]) -> bool:
    """Would overlaying the modelled fields of the task read from `raw` give `raw` back?
    (Every modelled key present, none empty where bd omits it, dependencies and comments
    complete.) The record's types were checked when it was read."""
    keys = raw.keys()
    if not _EMITTED_ALWAYS <= keys or not raw["status"] or not raw["issue_type"]:
        return False
    for k in _OMITTED_WHEN_EMPTY & keys:
        v = raw[k]
        if v is None or v == "" or v == [] or v == {} or v is False:
            return False
    for k in _FLAGS & keys:
        if raw[k] is not True:
            return False
    if raw["title"] is None or raw["created_at"] is None or raw["updated_at"] is None:
        return False
    if "metadata" in keys and type(raw["metadata"]) is not dict:
        return False
    for d in raw.get("dependencies", ()):
        if not (d.get("issue_id") and d.get("type") and type(d.get("created_at")) is str
                and type(d.get("metadata")) is str):
            return False
    for c in raw.get("comments", ()):
        if not (type(c.get("id")) is str and c.get("issue_id") and type(c.get("author")) is str
                and type(c.get("text")) is str and type(c.get("created_at")) is str):
            return False
    return True


def _rebuilt_record(task: Task, counts: Mapping[str, int] | None) -> dict[str, Any]:
    new = _modelled(task)
    if counts is not None:
        new.update(counts)
    modelled_names = set(_STR_FIELDS) | {
        "id", "status", "priority", "issue_type", "metadata", "labels", "dependencies",
        "comments", "pinned", "ephemeral",
    } | (set(counts) if counts else set())
    keys = place_keys([k for k in task.raw if k not in modelled_names or k in new], new)
    return {k: (new[k] if k in new else task.raw[k]) for k in keys}


def place_keys(keys: list[str], extra: Iterable[str]) -> list[str]:
    """`keys` with each of `extra` not yet in it inserted where bd emits it: after the last
    present key bd emits before it (unknown keys keep their place and do not count; an unknown
    extra key goes at the end)."""
    for k in extra:
        if k in keys:
            continue
        pos = len(keys)
        if k in _RANK:
            pos = 0
            for i, existing in enumerate(keys):
                if _RANK.get(existing, len(_RANK)) < _RANK[k]:
                    pos = i + 1
        keys.insert(pos, k)
    return keys


def dumps(record: Mapping[str, Any]) -> str:
    """One JSONL line as Go's encoding/json writes it (compact, HTML-safe escapes)."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def now_rfc3339(now: datetime | None = None) -> str:
    """UTC with seconds, as bd stores timestamps."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime | None:
    """RFC 3339 (with optional nanoseconds) to an aware datetime; '' gives None."""
    if not text:
        return None
    try:  # bd's own form, "2026-05-29T08:00:00Z", in one call (3.11 reads the Z)
        dt = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    t = text.strip().replace("Z", "+00:00")
    if "." in t:  # Python parses at most microseconds
        head, _, rest = t.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        t = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def normalize_type(name: str) -> str:
    return TYPE_ALIASES.get(name, name)


def parse_priority(value: str | int) -> int:
    """0-4 or P0-P4, as the bd CLI accepts."""
    text = str(value).strip().upper().removeprefix("P")
    if not text.isdigit() or int(text) not in PRIORITIES:
        raise ValueError(f"invalid priority {value!r} (expected 0-4 or P0-P4)")
    return int(text)
