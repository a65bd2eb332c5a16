"""The embedded store: `.beads/issues.jsonl` in bd's export format, no bd needed.

Every write takes an exclusive lock on `<file>.lock` (bd's .gitignore already ignores `*.lock`),
re-reads the file, applies the change and replaces the file atomically, so two processes on one
machine never lose an update and a claim is a true compare-and-swap. Lines that did not change
are written back byte for byte; new tasks are appended.
"""
from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import operator
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import orjson

from orchestrator.errors import ClaimRefused, UserError
from orchestrator.fileio import locked, write_atomic
from orchestrator.gcpause import gc_paused
from orchestrator.tasks import graph
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.model import (
    BLOCKING_EDGES,
    BLOCKS,
    COUNT_KEYS,
    PARENT_CHILD,
    WELL_KNOWN_DEP_TYPES,
    Comment,
    Dependency,
    RecordError,
    Status,
    Task,
    dumps,
    normalize_type,
    now_rfc3339,
    task_from_record,
    to_record,
)
from orchestrator.tasks.store import CloseResult, NewTask, TaskChanges
from orchestrator.tasks.vocab import (
    BUILTIN_STATUSES,
    BUILTIN_TYPES,
    Vocabulary,
    check_dep_type,
    load_vocabulary,
)

DEFAULT_PATH = Path(".beads") / "issues.jsonl"
MAX_CHILD_DEPTH = 3
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class _Line:
    text: str                     # the line as read or written (without newline)
    task_id: str | None = None    # None for non-issue lines (memories), kept verbatim


_TEXT = operator.attrgetter("text")
LINEAGE = 4  # how many versions back a snapshot can tell what changed (a cycle makes three)


class _Tasks(dict[str, Task]):
    """One version of the queue's tasks as the store hands it out (`all()`): shared between
    reads, not copied, so it refuses changes (a caller that wants to change it copies it:
    `dict(tasks)`); and able to say which tasks changed since the few versions before it, as
    the store saw them change, so the coordinator's graph state need not compare every task
    of two versions to find out (dispatch/graph_state.changed_between)."""
    __slots__ = ("_pos", "_since")

    def __init__(self, tasks: Mapping[str, Task], pos: dict[str, int]) -> None:
        super().__init__(tasks)
        self._pos = pos  # the tasks' order in the file: the order changes are told in
        # (an older version, the IDs whose task differs since it, the IDs gone since it)
        self._since: tuple[tuple[_Tasks, set[str], set[str]], ...] = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a queue snapshot is shared and read-only: copy it (dict(tasks)) to change it")

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _refuse
    __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles are plain dicts
        return dict, (dict(self),)

    def changes_since(self, old: Mapping[str, Task]) -> tuple[list[str], list[str]] | None:
        """What `graph_state.changed_between(old, self)` finds by comparing every task: the IDs
        whose task object differs (in the file's order) and the IDs gone; None when `old` is
        not one of the versions just before this one."""
        for was, changed, removed in self._since:
            if was is old:
                return sorted(changed, key=self._pos.__getitem__), sorted(removed)
        return None

    def _follows(self, prev: _Tasks, changed: Iterable[str], removed: Iterable[str]) -> None:
        """Record that this version is `prev` with `changed` and `removed`. Only the newest
        version holds the older ones (a chain would keep every version alive)."""
        cs, rs = set(changed), set(removed)
        since = [(prev, cs, rs)]
        for old, ch, rm in prev._since[:LINEAGE - 1]:
            since.append((old, (ch | cs) - rs, (rm - cs) | {r for r in rs if r in old}))
        self._since = tuple(since)
        prev._since = ()


def _mutable(tasks: _Tasks) -> _Tasks:
    """A transaction's own copy, the next version once written (changed with `_set`)."""
    return _Tasks(tasks, tasks._pos)


_set = dict.__setitem__  # a transaction's changes to its own copy


@dataclass
class _State:
    lines: list[_Line]
    tasks: _Tasks
    line_of: dict[str, int]       # task id -> 1-based line number in the file as read
    pos: dict[str, int]           # task id -> 1-based index into `lines` (line_of minus blanks)
    # task ids changed by a transaction, in the order first changed (new tasks are appended in
    # that order, as they were put in `tasks`)
    changed: dict[str, None] = field(default_factory=dict)
    base: _State | None = None    # a transaction's: the state it started from
    # a re-read's: the IDs parsed afresh (their task objects are new) and the IDs gone, since
    # the version passed as `previous`
    step: tuple[list[str], list[str]] | None = None


def _fail(path: Path, lineno: int | None, message: str) -> UserError:
    where = f"{path}:{lineno}" if lineno else str(path)
    return UserError(f"{where}: {message}")


def parse(path: Path, data: bytes, previous: _State | None = None) -> _State:
    """Parse and validate a whole file; any defect is a UserError naming file, line and task.
    `previous`: the version this store read or wrote last. A line whose text is the same as
    one of its lines is the same task: its Task object is reused, not parsed again (the
    coordinator's graph state tells what changed by identity, dispatch/graph_state.py)."""
    with gc_paused():
        return _parse(path, data, previous)


def _blocks(task: Task) -> int:
    return sum(1 for d in task.dependencies if d.type == BLOCKS)


def _disagrees(task: Task, want: dict[str, int]) -> bool:
    """A line's counts are wrong (a count missing from the line is not wrong)."""
    raw = task.raw
    return any(raw.get(k, want[k]) != want[k] for k in COUNT_KEYS)


def _line_counts(task: Task) -> dict[str, int] | None:
    """bd's export counts as a task's line carries them, if it carries all three and the two
    a line can be checked against by itself (its own `blocks` edges, its comments) agree."""
    raw = task.raw
    got = {k: raw.get(k) for k in COUNT_KEYS}
    if any(type(v) is not int for v in got.values()) or \
            got["dependency_count"] != _blocks(task) or got["comment_count"] != len(task.comments):
        return None
    return got  # type: ignore[return-value]


def _dependents_moved(changed: Iterable[str], before: dict[str, Task],
                      after: dict[str, Task]) -> dict[str, int]:
    """How the `blocks` edges the changed tasks gained or lost move each target's
    dependent_count (targets still in the queue, moved by something)."""
    delta: dict[str, int] = {}
    for tid in changed:
        old = before.get(tid)
        for d in after[tid].dependencies:
            if d.type == BLOCKS:
                delta[d.depends_on_id] = delta.get(d.depends_on_id, 0) + 1
        for d in old.dependencies if old is not None else ():
            if d.type == BLOCKS:
                delta[d.depends_on_id] = delta.get(d.depends_on_id, 0) - 1
    return {t: n for t, n in delta.items() if n and t in after}


def _touched_counts(changed: Iterable[str], moved: dict[str, int], before: dict[str, Task],
                    after: dict[str, Task]) -> dict[str, dict[str, int]] | None:
    """The counts of the lines a write rewrites (the changed tasks and the targets whose
    dependent_count moved): the counts those lines carry, moved by the write's edges. A line
    that bd exported carries them right; None when one of these lines carries none, or ones
    it disagrees with by itself: then the caller counts every edge."""
    out = {}
    for tid in dict.fromkeys([*changed, *moved]):
        was = before.get(tid)
        if was is None:
            dependents = 0  # a new task: only this write's edges point at it
        else:
            carried = _line_counts(was)
            if carried is None:
                return None
            dependents = carried["dependent_count"]
        dependents += moved.get(tid, 0)
        if dependents < 0:
            return None
        task = after[tid]
        out[tid] = {"dependency_count": _blocks(task), "dependent_count": dependents,
                    "comment_count": len(task.comments)}
    return out


def _decoded_lines(path: Path, data: bytes) -> tuple[list[str], UserError | None]:
    """The file's lines as text. Decoding the whole file at once is much faster than line by
    line; only when it fails do we decode line by line, to report the first bad line (the
    caller raises that error after the lines before it, so an earlier defect wins)."""
    try:
        return data.decode("utf-8").split("\n"), None
    except UnicodeDecodeError:
        pass
    lines: list[str] = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            return lines, _fail(path, lineno, f"not UTF-8 (byte {raw[e.start]:#04x} at column "
                                              f"{e.start + 1}){_id_hint(raw)}")
    raise AssertionError("unreachable: the whole file did not decode but every line did")


_ASCII_SPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() strips; str.strip() strips more


def _parse(path: Path, data: bytes, previous: _State | None = None) -> _State:
    lines: list[_Line] = []
    tasks: dict[str, Task] = {}
    line_of: dict[str, int] = {}
    pos: dict[str, int] = {}
    fresh: list[str] = []         # tasks parsed from their line, not reused
    texts, undecodable = _decoded_lines(path, data)
    before = previous.lines if previous is not None else []
    by_text: dict[str, _Line] | None = None  # when lines moved: the previous by text
    misses = 0
    for lineno, text in enumerate(texts, start=1):
        if not text.strip(_ASCII_SPACE):
            continue
        text = text.rstrip("\r")
        same: _Line | None = None
        if before:  # the same line at the same place (a write keeps every line's place) ...
            i = len(lines)
            if i < len(before) and before[i].text == text:
                same, misses = before[i], 0
            else:  # ... or, when lines moved (several in a row differ), anywhere
                misses += 1
                if by_text is None and misses > 3:
                    by_text = {x.text: x for x in before}
                if by_text is not None:
                    same = by_text.get(text)
        if same is not None and previous is not None:
            if same.task_id is None:
                lines.append(same)
                continue
            task = previous.tasks[same.task_id]
            line: _Line | None = same  # lines are never changed: shared between versions
        else:
            rec = _loads(path, lineno, text)
            if type(rec) is dict and rec.get("_type", "issue") != "issue":
                lines.append(_Line(text))  # memories and other record kinds pass through
                continue
            try:
                task = task_from_record(rec, owned=True)
            except RecordError as e:
                raise _fail(path, lineno, str(e)) from None
            fresh.append(task.id)
            line = None
        if task.id in tasks:
            raise _fail(path, lineno, f"duplicate task ID {task.id} (first on line {line_of[task.id]})")
        tasks[task.id] = task
        line_of[task.id] = lineno
        lines.append(line or _Line(text, task.id))
        pos[task.id] = len(lines)
    if undecodable is not None:
        raise undecodable
    # A reused task was checked when its version was read: only what changed can break the
    # rules, unless a task went away (what depended on it now points at nothing)
    whole = previous is None or len(tasks) - len(fresh) + \
        sum(1 for tid in fresh if tid in previous.tasks) != len(previous.tasks)
    for tid in tasks if whole else fresh:
        for dep in tasks[tid].dependencies:
            target = dep.depends_on_id
            if target not in tasks and not target.startswith("external:"):
                raise _fail(path, line_of[tid], f"task {tid} depends on missing task {target}")
    if whole or _gained_edges(fresh, tasks, previous):
        _check_cycles(path, tasks, line_of)
    step = None
    if previous is not None:
        kept = len(tasks) - sum(1 for tid in fresh if tid not in previous.tasks)
        step = fresh, [] if kept == len(previous.tasks) else list(previous.tasks.keys() - tasks.keys())
    return _State(lines, _Tasks(tasks, pos), line_of, pos, step=step)


def _gained_edges(fresh: Iterable[str], tasks: dict[str, Task], previous: _State | None) -> bool:
    """Has a changed or new task an edge through which a cycle could close that its previous
    version did not have? Without one, a version whose reused tasks were acyclic stays so."""
    for tid in fresh:
        was = previous.tasks.get(tid) if previous is not None else None
        old = set() if was is None else {(d.depends_on_id, d.type) for d in was.dependencies}
        if any(d.type in graph.DEADLOCK_EDGES and (d.depends_on_id, d.type) not in old
               for d in tasks[tid].dependencies):
            return True
    return False


def _check_cycles(path: Path, tasks: dict[str, Task], line_of: dict[str, int]) -> None:
    # One pass settles the usual case: no cycle over both kinds of edge together means none
    # over either kind alone (a big queue spends a fifth of its parse on these checks).
    if graph.find_cycles(tasks, BLOCKING_EDGES | {PARENT_CHILD}):
        for cycle in graph.find_cycles(tasks):
            first = min(cycle, key=line_of.__getitem__)
            raise _fail(path, line_of[first],
                        f"dependency cycle through blocking edges: {' -> '.join(cycle)}")
        for cycle in graph.find_cycles(tasks, frozenset({PARENT_CHILD})):
            first = min(cycle, key=line_of.__getitem__)
            raise _fail(path, line_of[first], f"parent-child cycle: {' -> '.join(cycle)}")


MAX_LINE_CHARS = 16 * 1024 * 1024  # one record; bd's own are a few kB
MAX_DEPTH = 32  # objects and lists inside one record; bd's go 4 deep (dependency metadata)


def _loads(path: Path, lineno: int, text: str) -> Any:
    """One line's JSON value, its size and nesting bounded before anything uses it.

    orjson refuses what json.loads would turn into trouble later: nesting past 1024 (json's
    RecursionError), lone surrogates (unprintable), numbers past a double; the depth check
    keeps every record within what the encoders that write it back and print it accept."""
    if len(text) > MAX_LINE_CHARS:
        raise _fail(path, lineno, f"line longer than {MAX_LINE_CHARS:,} characters"
                                  f"{_id_hint(text[:4096].encode())}")
    try:
        rec = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        where = _field_at(text, e.pos)
        raise _fail(path, lineno, f"malformed JSON: {e.msg} at column {e.colno}"
                                  f"{f' in field {where!r}' if where else ''}"
                                  f"{_id_hint(text[:4096].encode())}") from None
    # the brackets bound the depth from above (some may sit in strings): walk only then
    if text.count("{") + text.count("[") > MAX_DEPTH and _depth(rec) > MAX_DEPTH:
        where = _field_at(text, None)
        raise _fail(path, lineno, f"{f'field {where!r} ' if where else ''}nested more than "
                                  f"{MAX_DEPTH} levels deep{_id_hint(text[:4096].encode())}")
    return rec


def _field_at(text: str, pos: int | None) -> str:
    """The top-level key whose value holds position `pos` of a record's text (None: the
    first value nested deeper than MAX_DEPTH), for error messages; '' when not found. Only
    runs on a line already known to be bad."""
    depth = 0
    key = ""
    last_string = ""
    in_string = escaped = False
    start = 0
    end = min(len(text), pos if pos is not None else len(text), 1 << 20)
    for i in range(end):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                last_string = text[start:i]
        elif ch == '"':
            in_string, start = True, i + 1
        elif ch == ":" and depth == 1:
            key = last_string
        elif ch == "," and depth == 1:
            key = ""  # between fields: an error here belongs to none
        elif ch in "[{":
            depth += 1
            if pos is None and depth > MAX_DEPTH:
                break
        elif ch in "]}":
            depth -= 1
    else:
        if pos is None:
            return ""
    return key[:60] if depth >= 1 else ""


def _depth(value: Any) -> int:
    """How deep objects and lists nest in a parsed value (iterative: no recursion limit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if type(v) is dict:
            v = v.values()
        elif type(v) is not list:
            continue
        if d > deepest:
            deepest = d
            if d > MAX_DEPTH:
                break
        stack.extend((x, d + 1) for x in v)
    return deepest


def parse_dep_spec(spec: str) -> tuple[bool, str, str]:
    """bd create --deps item -> (new task is the dependent, edge type, other task).

    'id', 'depends-on:id', 'blocked-by:id': the new task depends on id (blocks edge);
    'blocks:id': the new task blocks id (direction swapped in bd 0.51, #1742);
    'type:id': the new task depends on id with that edge type. Unknown types are rejected."""
    head, sep, rest = spec.partition(":")
    if not sep or head == "external":
        return True, BLOCKS, spec
    if head in ("depends-on", "blocked-by"):
        return True, BLOCKS, rest
    if head == BLOCKS:
        return False, BLOCKS, rest
    if head in WELL_KNOWN_DEP_TYPES:
        return True, head, rest
    try:
        check_dep_type(head)
    except UserError as e:
        raise UserError(f"--deps {spec}: {e}") from None
    raise AssertionError("unreachable: check_dep_type refuses what is not well known")


def _id_hint(raw: bytes) -> str:
    """The task ID on a line that does not parse, when it can still be seen."""
    m = re.search(rb'"id"\s*:\s*"([^"\\]{1,200})"', raw)
    return f" (task {m.group(1).decode('utf-8', 'replace')})" if m else ""


def _uuid7() -> str:
    """bd's comment IDs are UUIDv7: 48-bit milliseconds, version, random."""
    ms = time.time_ns() // 1_000_000
    value = (ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def _base36(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_BASE36[r])
    return "".join(reversed(out)) or "0"


def adaptive_length(count: int, max_prob: float = 0.25) -> int:
    """bd's ComputeAdaptiveLength: the shortest hash (3-8 chars) whose birthday-collision
    probability for `count` IDs stays under max_prob."""
    import math
    for length in range(3, 9):
        space = 36.0 ** length
        if 1 - math.exp(-(count * count) / (2 * space)) <= max_prob:
            return length
    return 8


class JsonlStore:
    kind = "jsonl"
    task_cmd = "orchestrator task"

    def __init__(self, path: str | os.PathLike[str], *, prefix: str | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._prefix = prefix
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        # (file key, its bytes, its parsed state), one tuple so agent threads reading the store
        # see them together; never mutated (a transaction works on a copy)
        self._cached: tuple[tuple[int, ...] | None, bytes, _State] | None = None

    # -- reading -------------------------------------------------------------------------
    def _read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except IsADirectoryError:
            raise UserError(f"{self.path}: is a directory, expected the issues.jsonl file") from None

    def _file_key(self) -> tuple[int, ...] | None:
        """What identifies one version of the file: every write replaces it (a new inode; the
        rename sets ctime), so the same key means the same content."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def _reread(self, key: tuple[int, ...] | None, data: bytes) -> _State:
        """Parse the file's new bytes against the version read last, and keep the result."""
        cached = self._cached
        previous = cached[2] if cached is not None else None
        state = parse(self.path, data, previous)
        if previous is not None and state.step is not None:
            state.tasks._follows(previous.tasks, *state.step)
        self._cached = (key, data, state)
        return state

    def _parsed(self) -> _State:
        """The parsed file, re-read only when it changed: `ready --json` reads it once, not
        twice, and a read or a write right after this store's own write parses nothing
        (`_write` keeps what it wrote). The caller must not change what it gets."""
        key = self._file_key()
        cached = self._cached
        if key is not None and cached is not None and cached[0] == key:
            return cached[2]
        return self._reread(key, self._read_bytes())

    def _snapshot(self) -> _Tasks:
        return self._parsed().tasks

    def all(self) -> Mapping[str, Task]:
        """The queue as last read: read-only, the same object until the file changes (a
        caller that changes what it gets copies it first)."""
        return self._snapshot()

    def list(self, *, statuses: Sequence[str] = (), assignee: str | None = None,
             labels: Sequence[str] = (), issue_type: str | None = None,
             parent: str | None = None) -> list[Task]:
        return graph.select(self.all(), statuses=statuses, assignee=assignee, labels=labels,
                            issue_type=issue_type, parent=parent)

    def ready(self, filter: ReadyFilter = ReadyFilter(), *, sort: str = "priority",
              limit: int = 0) -> builtins.list[Task]:
        with gc_paused():  # readiness allocates per task too (orchestrator/gcpause.py)
            return graph.ready(self._snapshot(), now=self._clock(), filter=filter, sort=sort,
                               limit=limit)

    def show(self, ids: Sequence[str]) -> builtins.list[Task]:
        tasks = self.all()
        missing = [i for i in ids if i not in tasks]
        if missing:
            raise UserError(f"no task {', '.join(missing)} in {self.path}")
        return [tasks[i] for i in ids]

    # -- writing -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[_State]:
        with locked(self.path.with_name(self.path.name + ".lock")):
            # the compare-and-swap reads the file under the lock, but parses it only when its
            # bytes differ from the version parsed last: a coordinator's claim, comment and
            # reopen after its own writes parse nothing
            key, data = self._file_key(), self._read_bytes()
            cached = self._cached
            if cached is not None and cached[1] == data:
                read = cached[2]
            else:
                read = self._reread(key, data)
            state = _State(read.lines, _mutable(read.tasks), read.line_of, read.pos, base=read)
            yield state
            if state.changed:
                self._write(state)

    def _write(self, state: _State) -> None:
        """Write the transaction's state, and keep it as the read cache keyed by the new file,
        so the next read does not parse the file again. A rewritten line's task is taken from
        the line itself (as a re-read would see it), not from the in-memory change.

        Only the lines that must change are serialised: the changed tasks and the tasks whose
        counts the change moved (a `blocks` edge added or removed changes its target's
        dependent_count); every other line is written back byte for byte from the text it was
        read as (docs/performance.md, "The coordinator's cycle"). Their counts are the ones
        their lines carry, moved by the edges the write adds or removes, so a write counts no
        other edge; when one of those lines carries no counts, or ones its own edges and
        comments contradict, every edge is counted and every line whose counts are wrong is
        rewritten too."""
        base = state.base
        assert base is not None, "a write starts from a read state"
        moved = _dependents_moved(state.changed, base.tasks, state.tasks)
        touched = _touched_counts(state.changed, moved, base.tasks, state.tasks)
        if touched is not None:
            counts, redo = touched, list(touched)
        else:
            counts = graph.dependency_counts(state.tasks)
            redo = [*state.changed, *moved, *(tid for tid, t in state.tasks.items()
                                              if _disagrees(t, counts[tid]))]
        out = list(state.lines)
        pos = state.pos
        reread: dict[str, Task] = {}

        def rewrite(tid: str) -> _Line:
            text = dumps(to_record(state.tasks[tid], counts[tid]))
            reread[tid] = task_from_record(json.loads(text), owned=True)
            return _Line(text, tid)

        added = [tid for tid in state.changed if tid not in pos]
        for tid in dict.fromkeys(redo):
            if tid in pos:
                out[pos[tid] - 1] = rewrite(tid)
        if added:
            pos = dict(pos)
            for tid in added:  # new tasks go at the end
                out.append(rewrite(tid))
                pos[tid] = len(out)
        data = ("\n".join(map(_TEXT, out)) + "\n").encode("utf-8")  # in C: runs over every line
        write_atomic(self.path, data)
        # the transaction's own copy becomes the new version (no other copy of the map)
        written = state.tasks
        for tid, task in reread.items():
            _set(written, tid, task)
        written._pos = pos
        written._follows(base.tasks, reread, ())
        # still under the lock: no other writer can have replaced the file since; the file
        # now has no blank lines, so a task's line number is its place in `out`
        self._cached = (self._file_key(), data, _State(out, written, pos, pos))

    def _now(self) -> str:
        return now_rfc3339(self._clock())

    @staticmethod
    def _get(state: _State, task_id: str) -> Task:
        try:
            return state.tasks[task_id]
        except KeyError:
            raise UserError(f"no task {task_id}") from None

    def _put(self, state: _State, task: Task) -> None:
        _set(state.tasks, task.id, task)
        state.changed[task.id] = None

    # -- bd's vocabulary, checked on every write (custom values from .beads/config.yaml) ------
    def _vocabulary(self) -> Vocabulary:
        return load_vocabulary(self.path.parent)

    def _check_type(self, value: str) -> str:
        name = normalize_type(value)
        return name if name in BUILTIN_TYPES else self._vocabulary().check_type(value)

    def _check_status(self, value: str) -> str:
        return value if value in BUILTIN_STATUSES else self._vocabulary().check_status(value)

    def create(self, new: NewTask, *, actor: str) -> Task:
        if not new.title.strip():
            raise UserError("a task needs a title")
        if len(new.title) > 500:
            raise UserError("title is longer than 500 characters")
        issue_type = self._check_type(new.issue_type)
        for spec in new.deps:
            parse_dep_spec(spec)  # an unknown edge type is refused before anything is written
        with self._transaction() as state:
            now = self._now()
            labels = list(new.labels)
            if new.parent:
                parent = self._get(state, new.parent)
                tid = new.id or self._child_id(state, parent.id)
                # own labels first, then the inherited ones (recorded create.json)
                labels = list(dict.fromkeys([*labels, *parent.labels]))
            else:
                tid = new.id or self._hash_id(state, new, actor)
            if tid in state.tasks:
                raise UserError(f"task {tid} already exists")
            task = Task(
                id=tid, title=new.title, status=Status.OPEN, priority=new.priority,
                issue_type=issue_type, created_at=now, updated_at=now,
                description=new.description, design=new.design,
                acceptance_criteria=new.acceptance_criteria, notes=new.notes,
                assignee=new.assignee, created_by=actor, labels=tuple(labels),
                raw={"_type": "issue"} if self._uses_type_key(state) else {},
            )
            self._put(state, task)
            if new.parent:
                self._add_dep(state, tid, new.parent, PARENT_CHILD, actor)
            for spec in new.deps:
                new_depends, dep_type, other = parse_dep_spec(spec)
                if new_depends:
                    self._add_dep(state, tid, other, dep_type, actor)
                else:
                    self._add_dep(state, other, tid, dep_type, actor)
            return state.tasks[tid]

    @staticmethod
    def _uses_type_key(state: _State) -> bool:
        return not state.tasks or any("_type" in t.raw for t in state.tasks.values())

    def prefix(self, tasks: Mapping[str, Task] | None = None) -> str:
        if self._prefix:
            return self._prefix
        tasks = self.all() if tasks is None else tasks
        counts: dict[str, int] = {}
        for tid in tasks:
            head = tid.split(".", 1)[0]
            if "-" in head:
                p = head.rsplit("-", 1)[0]
                counts[p] = counts.get(p, 0) + 1
        if counts:
            return max(counts, key=lambda p: (counts[p], p))
        # bd init's default: the directory name, dots stripped
        name = self.path.resolve().parent.parent.name.strip(".").rstrip("-").replace(".", "_")
        return name if re.match(r"[A-Za-z_]", name or "") else f"bd_{name}"

    def _hash_id(self, state: _State, new: NewTask, actor: str) -> str:
        prefix = self.prefix(state.tasks)
        top = sum(1 for t in state.tasks if t.startswith(prefix + "-") and "." not in t)
        length = adaptive_length(top + 1)
        created_ns = time.time_ns()
        while length <= 8:
            for nonce in range(10):
                seed = f"{new.title}|{new.description}|{actor}|{created_ns}|{nonce}".encode()
                tid = f"{prefix}-{_base36(hashlib.sha256(seed).digest())[:length]}"
                if tid not in state.tasks:
                    return tid
            length += 1
        raise UserError(f"could not allocate a unique ID with prefix {prefix}")

    def _child_id(self, state: _State, parent_id: str) -> str:
        depth = len(re.findall(r"\.\d+", parent_id))
        if depth >= MAX_CHILD_DEPTH:
            raise UserError(f"task {parent_id} is already at the maximum hierarchy depth ({MAX_CHILD_DEPTH})")
        pattern = re.compile(re.escape(parent_id) + r"\.(\d+)$")
        used = [int(m.group(1)) for t in state.tasks if (m := pattern.match(t))]
        return f"{parent_id}.{max(used, default=0) + 1}"

    def update(self, ids: Sequence[str], changes: TaskChanges, *, actor: str) -> builtins.list[Task]:
        if changes.status is not None:
            self._check_status(changes.status)
        issue_type = None if changes.issue_type is None else self._check_type(changes.issue_type)
        out = []
        with self._transaction() as state:
            now = self._now()
            for tid in ids:
                task = self._get(state, tid)
                fields: dict[str, Any] = {}
                for name in ("title", "description", "design", "acceptance_criteria",
                             "notes", "assignee", "priority"):
                    value = getattr(changes, name)
                    if value is not None:
                        fields[name] = value
                if issue_type is not None:
                    fields["issue_type"] = issue_type
                if changes.append_notes:
                    fields["notes"] = "\n".join(x for x in (task.notes, changes.append_notes) if x)
                labels = list(task.labels) if changes.set_labels is None else list(changes.set_labels)
                labels += [x for x in changes.add_labels if x not in labels]
                labels = [x for x in labels if x not in changes.remove_labels]
                if tuple(labels) != task.labels:
                    fields["labels"] = tuple(labels)
                if changes.status is not None:
                    fields.update(self._status_fields(task, changes.status, now))
                task = replace(task, updated_at=now, **fields)
                self._put(state, task)
                out.append(task)
        return out

    @staticmethod
    def _status_fields(task: Task, status: str, now: str) -> dict[str, object]:
        fields: dict[str, Any] = {"status": status}
        if status == Status.IN_PROGRESS and not task.started_at:
            fields["started_at"] = now
        if status == Status.CLOSED:
            fields["closed_at"] = task.closed_at or now
        elif task.status == Status.CLOSED:
            fields.update(closed_at="", close_reason="")
        return fields

    def claim(self, task_id: str, *, actor: str) -> Task:
        """`bd update --claim`: open and unassigned (or ours) -> in_progress, assigned to actor."""
        with self._transaction() as state:
            task = self._get(state, task_id)
            if task.status == Status.IN_PROGRESS and task.assignee == actor:
                return task  # idempotent, as in bd
            if task.assignee and task.assignee != actor:
                raise ClaimRefused(f"issue already claimed by {task.assignee}")
            if task.status != Status.OPEN:
                raise ClaimRefused(f"issue not claimable: status {task.status}")
            now = self._now()
            task = replace(task, status=Status.IN_PROGRESS, assignee=actor, updated_at=now,
                           started_at=task.started_at or now)
            self._put(state, task)
            return task

    def close(self, ids: Sequence[str], *, reason: str = "Closed", force: bool = False,
              actor: str) -> CloseResult:
        closed: list[Task] = []
        refused: list[str] = []
        missing: list[str] = []
        already: list[str] = []
        with self._transaction() as state:
            now = self._now()
            kids: dict[str, builtins.list[str]] = {}  # computed for the first epic (a pass)
            for tid in ids:
                task = state.tasks.get(tid)
                if task is None:
                    refused.append(f"no task {tid}")
                    missing.append(tid)
                    continue
                if task.status == Status.CLOSED:
                    closed.append(task)  # re-closing is idempotent (bd 1.0.5): reason kept
                    already.append(tid)
                    continue
                if not force:
                    why = self._close_refusal(state, task, kids)
                    if why:
                        refused.append(f"cannot close {tid}: {why}")
                        continue
                task = replace(task, status=Status.CLOSED, closed_at=now, updated_at=now,
                               close_reason=reason or "Closed")
                self._put(state, task)
                closed.append(task)
        return CloseResult(tuple(closed), tuple(refused), tuple(missing), tuple(already))

    @staticmethod
    def _close_refusal(state: _State, task: Task, kids: dict[str, builtins.list[str]]) -> str | None:
        if task.status == Status.PINNED or task.pinned:
            return "task is pinned"
        open_blockers = [d.depends_on_id for d in task.dependencies
                         if d.type in BLOCKING_EDGES and d.depends_on_id in state.tasks
                         and not graph.releases_dependents(state.tasks[d.depends_on_id])]
        if open_blockers:
            return f"blocked by open issues [{', '.join(open_blockers)}]"
        if task.issue_type == "epic":
            if not kids:
                kids.update(graph.children_of(state.tasks))
            open_kids = [c for c in kids.get(task.id, ()) if state.tasks[c].status != Status.CLOSED]
            if open_kids:
                return f"epic has open children [{', '.join(open_kids)}]"
        return None

    def dep_add(self, issue_id: str, depends_on_id: str, *, dep_type: str = BLOCKS,
                actor: str) -> None:
        check_dep_type(dep_type)
        with self._transaction() as state:
            self._add_dep(state, issue_id, depends_on_id, dep_type, actor)

    def _add_dep(self, state: _State, issue_id: str, depends_on_id: str, dep_type: str,
                 actor: str) -> None:
        task = self._get(state, issue_id)
        check_dep_type(dep_type)
        external = depends_on_id.startswith("external:")
        target = None if external else self._get(state, depends_on_id)
        if issue_id == depends_on_id:
            raise UserError(f"task {issue_id} cannot depend on itself")
        if dep_type in BLOCKING_EDGES and task.parent == depends_on_id:
            raise UserError(f"cannot make {issue_id} wait on its own parent {depends_on_id} "
                            "(it would never become ready)")
        for d in task.dependencies:
            if d.depends_on_id == depends_on_id:
                if d.type == dep_type:
                    return  # idempotent
                raise UserError(f"dependency {issue_id} -> {depends_on_id} already exists with "
                                f"type {d.type}; remove it first")
        if target is not None and dep_type in BLOCKING_EDGES:
            if (task.issue_type == "epic") != (target.issue_type == "epic"):
                raise UserError(f"cannot add {dep_type} {issue_id} -> {depends_on_id}: tasks can "
                                "only block other tasks, not epics (block a child of the epic instead)")
        # through blocking and parent-child edges alike: a child blocking its own parent
        # (or an ancestor) would leave both blocked for ever (graph.DEADLOCK_EDGES)
        cycle = None if target is None else graph.cycle_path(state.tasks, issue_id, depends_on_id, dep_type)
        if cycle is not None and dep_type == PARENT_CHILD:
            raise UserError(f"making {depends_on_id} the parent of {issue_id} would create a cycle: {cycle}")
        if cycle is not None:
            raise UserError(f"adding dependency {issue_id} -> {depends_on_id} would create a cycle: {cycle}")
        # no gate, even for waits-for: what `bd dep add --type waits-for` writes (bd 1.1.0), so
        # both stores hold and decide the same edge (graph.gate_holds: gateless = any-children)
        dep = Dependency(issue_id, depends_on_id, dep_type, self._now(), actor, "{}")
        self._put(state, replace(task, dependencies=(*task.dependencies, dep), updated_at=self._now()))

    def dep_remove(self, issue_id: str, depends_on_id: str, *, actor: str) -> None:
        with self._transaction() as state:
            task = self._get(state, issue_id)
            kept = tuple(d for d in task.dependencies if d.depends_on_id != depends_on_id)
            if len(kept) == len(task.dependencies):
                raise UserError(f"task {issue_id} has no dependency on {depends_on_id}")
            self._put(state, replace(task, dependencies=kept, updated_at=self._now()))

    def comment(self, task_id: str, text: str, *, author: str) -> Comment:
        if not text.strip():
            raise UserError("a comment needs text")
        with self._transaction() as state:
            task = self._get(state, task_id)
            comment = Comment(_uuid7(), task_id, author, text, self._now())
            self._put(state, replace(task, comments=(*task.comments, comment)))
            return comment

    # The embedded store is the file in git: nothing to pull or push.
    def sync_pull(self) -> None:
        return None

    def sync_push(self) -> None:
        return None
