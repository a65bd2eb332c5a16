"""bd's `--json` output shapes (as recorded in tests/fixtures/bd/), built from our tasks, so that an agent or
script written against `bd ... --json` reads `orchestrator ... --json` unchanged."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from orchestrator.tasks import graph
from orchestrator.tasks.model import COUNT_KEYS, Comment, Task, to_record

SCHEMA_VERSION = 1


def issue(task: Task) -> dict[str, Any]:
    """A types.Issue: the record without `_type`, counts, or comments (update/close output)."""
    rec = to_record(task)
    for key in ("_type", "comments", "dependencies", *COUNT_KEYS):
        rec.pop(key, None)
    return rec


def issues_with_counts(items: list[Task], tasks: Mapping[str, Task]) -> list[dict[str, Any]]:
    """ready/list items: Issue fields with dependency records, blocks-only counts, parent."""
    counts = graph.dependency_counts(tasks, [t.id for t in items])
    out = []
    for t in items:
        # bd's own output already carries the counts when the whole graph is not at hand
        rec = to_record(t, counts.get(t.id))
        rec.pop("_type", None)
        rec.pop("comments", None)
        if t.parent:
            rec["parent"] = t.parent
        out.append(rec)
    return out


def details(task: Task, tasks: Mapping[str, Task]) -> dict[str, Any]:
    """A `bd show` IssueDetails: dependencies and dependents as full issues with
    dependency_type, comments, parent, counts over every edge type, epic progress."""
    rec = issue(task)
    deps = []
    for d in task.dependencies:
        target = tasks.get(d.depends_on_id)
        # a target we cannot see (external:, another prefix) still shows up, by ID
        head = issue(target) if target is not None else {"id": d.depends_on_id}
        deps.append({**head, "dependency_type": d.type})
    dependents = []
    for other in tasks.values():
        for d in other.dependencies:
            if d.depends_on_id == task.id:
                dependents.append({**issue(other), "dependency_type": d.type})
    if deps:
        rec["dependencies"] = deps
    if dependents:
        rec["dependents"] = dependents
    if task.comments:
        rec["comments"] = [comment(c, with_schema=False) for c in task.comments]
    if task.parent:
        rec["parent"] = task.parent
    rec.update(dependency_count=len(task.dependencies), dependent_count=len(dependents),
               comment_count=len(task.comments))
    if task.issue_type == "epic":
        kids = [tasks[c] for c in graph.children_of(tasks).get(task.id, ()) if c in tasks]
        closed = sum(1 for k in kids if k.status == "closed")
        rec.update(epic_total_children=len(kids), epic_closed_children=closed,
                   epic_closeable=bool(kids) and closed == len(kids))
    return rec


def as_object(payload: Mapping[str, Any]) -> dict[str, Any]:
    """bd round-trips object outputs through a map: keys sorted, schema_version added."""
    return json.loads(json.dumps({**payload, "schema_version": SCHEMA_VERSION}, sort_keys=True))


def comment(c: Comment, *, with_schema: bool = True) -> dict[str, Any]:
    rec = {"id": c.id, "issue_id": c.issue_id, "author": c.author, "text": c.text,
           "created_at": c.created_at}
    return as_object(rec) if with_schema else rec


def dumps(payload: Any) -> str:
    """bd prints JSON pretty, 2-space indented. orjson writes what json.dumps(indent=2,
    ensure_ascii=False) writes, in C (the standard library's indenting encoder is pure Python:
    it was a third of `ready --json` on a big queue, docs/performance.md); the only
    differences are a float's spelling (1e16, not 1e+16), the same number to any parser.
    What orjson refuses (an integer past 64 bits, a float NaN) goes the standard way."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(payload, indent=2, ensure_ascii=False)
