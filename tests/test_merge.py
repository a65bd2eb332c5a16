"""The record-level 3-way merge of issues.jsonl (orchestrator/tasks/merge.py)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.errors import UserError
from orchestrator.tasks.jsonl import parse
from orchestrator.tasks.merge import merge_records
from support.repo import task_record

T0, T1, T2, T3 = (f"2026-05-29T1{i}:00:00Z" for i in range(4))


def text(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def records(merged: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, merged.splitlines())}


def rec(tid: str, **kw: Any) -> dict[str, Any]:
    return task_record(tid, created_at=T0, **kw)


def test_one_sided_field_changes_both_apply() -> None:
    base = text(rec("x-1"), rec("x-2"))
    ours = text(rec("x-1", title="ours title", updated_at=T1), rec("x-2"))
    theirs = text(rec("x-1", priority=0, updated_at=T2), rec("x-2", assignee="bob", updated_at=T1))
    result = merge_records(base, ours, theirs)
    assert result.clean and result.resolutions == ()
    got = records(result.text)
    assert got["x-1"]["title"] == "ours title" and got["x-1"]["priority"] == 0
    assert got["x-1"]["updated_at"] == T2
    assert got["x-2"]["assignee"] == "bob"
    assert list(got) == ["x-1", "x-2"]


def test_both_changed_later_updated_at_wins_and_says_so() -> None:
    base = text(rec("x-1"))
    ours = text(rec("x-1", title="ours", updated_at=T2))
    theirs = text(rec("x-1", title="theirs", updated_at=T1))
    result = merge_records(base, ours, theirs)
    assert records(result.text)["x-1"]["title"] == "ours"
    (res,) = result.resolutions
    assert (res.task_id, res.field, res.kept) == ("x-1", "title", "ours") and T2 in res.reason
    flipped = merge_records(base, theirs, ours)  # the same facts from the other side
    assert records(flipped.text)["x-1"]["title"] == "ours"
    assert flipped.resolutions[0].kept == "theirs"
    assert "x-1.title: kept theirs" in flipped.resolutions[0].describe()


@pytest.mark.parametrize("closed_side", ["ours", "theirs"])
def test_closed_is_not_undone_by_an_older_change(closed_side: str) -> None:
    base = text(rec("x-1"))
    closed = text(rec("x-1", status="closed", closed_at=T1, close_reason="done", updated_at=T1))
    other = text(rec("x-1", status="in_progress", assignee="ada", updated_at=T2))  # newer, not a reopen
    ours, theirs = (closed, other) if closed_side == "ours" else (other, closed)
    result = merge_records(base, ours, theirs)
    got = records(result.text)["x-1"]
    assert got["status"] == "closed" and got["closed_at"] == T1 and got["close_reason"] == "done"
    assert got["assignee"] == "ada" and got["updated_at"] == T2  # other fields still merge
    assert any(r.field == "status" and r.kept == closed_side for r in result.resolutions)


def test_explicit_later_reopen_wins_older_does_not() -> None:
    base = text(rec("x-1", status="closed", close_reason="done", updated_at=T1))
    kept_closed = text(rec("x-1", status="closed", close_reason="done", notes="n", updated_at=T2))
    reopened_late = text(rec("x-1", status="open", updated_at=T3))
    got = records(merge_records(base, kept_closed, reopened_late).text)["x-1"]
    assert got["status"] == "open" and "closed_at" not in got and "close_reason" not in got
    assert got["notes"] == "n"
    # a reopen is the only status change when the other side left the close alone: it wins
    # even against a later unrelated edit there (a field changed on one side takes that side)
    reopened_early = text(rec("x-1", status="open", updated_at=T1.replace("11:00", "11:30")))
    got = records(merge_records(base, kept_closed, reopened_early).text)["x-1"]
    assert got["status"] == "open" and "close_reason" not in got and got["notes"] == "n"
    # both sides changed the status (a re-close, a reopen): the older reopen does not undo it
    reclosed = text(rec("x-1", status="closed", close_reason="really done", updated_at=T2))
    got = records(merge_records(base, reclosed, reopened_early).text)["x-1"]
    assert got["status"] == "closed" and got["close_reason"] == "really done"


def test_labels_dependencies_comments_merge_as_sets() -> None:
    c = lambda cid, when: {"id": cid, "issue_id": "x-2", "author": "a", "text": cid, "created_at": when}  # noqa: E731
    base = text(rec("x-1"), rec("x-3"), rec("x-2", labels=["a", "b"], comments=[c("c0", T0)]))
    ours = text(rec("x-1"), rec("x-3"),
                rec("x-2", labels=["a", "b", "o"], blocks_on=["x-1"], updated_at=T1,
                    comments=[c("c0", T0), c("c2", T2)]))
    theirs = text(rec("x-1"), rec("x-3"),
                  rec("x-2", labels=["b", "t"], blocks_on=["x-3"], updated_at=T1,
                      comments=[c("c0", T0), c("c1", T1)]))
    result = merge_records(base, ours, theirs)
    assert result.clean
    got = records(result.text)["x-2"]
    assert got["labels"] == ["b", "o", "t"]  # theirs removed "a"
    assert [d["depends_on_id"] for d in got["dependencies"]] == ["x-1", "x-3"]
    assert [x["id"] for x in got["comments"]] == ["c0", "c1", "c2"]  # by time


def test_created_on_both_sides() -> None:
    base = text(rec("x-1"))
    same = rec("x-9", title="same")
    assert records(merge_records(base, text(rec("x-1"), same), text(rec("x-1"), same)).text)["x-9"]
    result = merge_records(base, text(rec("x-1"), rec("x-9", title="A")),
                           text(rec("x-1"), rec("x-9", title="B")))
    (conflict,) = result.conflicts
    assert conflict.task_id == "x-9" and '"A"' in conflict.ours and '"B"' in conflict.theirs
    lines = result.text.splitlines()
    assert lines[1:] == ["<<<<<<< ours", conflict.ours, "=======", conflict.theirs, ">>>>>>> theirs"]
    with pytest.raises(UserError):  # the conflicted result does not parse until resolved
        parse(Path("x"), result.text.encode())


def test_new_tasks_deletions_order_and_verbatim_lines() -> None:
    odd_line = '{"_type":"issue","id":"x-1","title":"T","status":"open","priority":2,' \
               '"created_at":"2026-05-29T10:00:00Z","updated_at":"2026-05-29T10:00:00Z","zz_future":{"k":1}}'
    memory = '{"_type":"memory","key":"k","value":"v"}'
    base = "\n".join([odd_line, text(rec("x-2")).strip(), text(rec("x-3")).strip(), memory]) + "\n"
    ours = "\n".join([odd_line, text(rec("x-2")).strip(), memory, text(rec("x-4")).strip()]) + "\n"
    theirs = "\n".join([odd_line, text(rec("x-2", title="t", updated_at=T1)).strip(),
                        text(rec("x-3")).strip(), memory, text(rec("x-5")).strip()]) + "\n"
    result = merge_records(base, ours, theirs)
    assert result.clean
    lines = result.text.splitlines()
    assert lines[0] == odd_line  # untouched line byte for byte, unknown field kept
    assert [json.loads(x).get("id") for x in lines] == ["x-1", "x-2", None, "x-4", "x-5"]
    assert lines[2] == memory  # x-3 deleted by ours and untouched by theirs: gone


def test_deleted_on_one_side_changed_on_other_is_kept() -> None:
    base = text(rec("x-1"), rec("x-2"))
    result = merge_records(base, text(rec("x-1")), text(rec("x-1"), rec("x-2", title="new", updated_at=T1)))
    assert records(result.text)["x-2"]["title"] == "new"


def test_graph_conflicts_after_a_clean_line_merge() -> None:
    base = text(rec("x-1"), rec("x-2"))
    ours = text(rec("x-1", blocks_on=["x-2"], updated_at=T1), rec("x-2"))
    theirs = text(rec("x-1"), rec("x-2", blocks_on=["x-1"], updated_at=T1))
    result = merge_records(base, ours, theirs)
    assert not result.clean and "cycle" in result.conflicts[0].reason
    # one side makes x-2 a child of x-1, the other makes x-1 wait on x-2: a mixed cycle
    mixed = merge_records(base, text(rec("x-1"), rec("x-2", parent="x-1", updated_at=T1)),
                          text(rec("x-1", blocks_on=["x-2"], updated_at=T1), rec("x-2")))
    assert [(c.task_id, c.reason) for c in mixed.conflicts] == [
        ("x-1", "the merge makes a dependency cycle: x-1 waits on x-2 (blocks), x-2 is a child of x-1")]
    dangling = merge_records(base, text(rec("x-1", blocks_on=["x-2"], updated_at=T1), rec("x-2")),
                             text(rec("x-1")))
    assert "x-2" in records(dangling.text)  # ours changed x-1, theirs deleted x-2: x-2 untouched
    assert dangling.clean


def test_counts_are_recomputed() -> None:
    base = text(rec("x-1", dependency_count=0, dependent_count=0, comment_count=0),
                rec("x-2", dependency_count=0, dependent_count=0, comment_count=0))
    theirs = text(rec("x-1", dependency_count=0, dependent_count=0, comment_count=0),
                  rec("x-2", blocks_on=["x-1"], updated_at=T1, dependency_count=1, dependent_count=0,
                      comment_count=0))
    got = records(merge_records(base, base, theirs).text)
    assert got["x-1"]["dependent_count"] == 1 and got["x-2"]["dependency_count"] == 1


def test_corrupt_input_names_file_and_line() -> None:
    good = text(rec("x-1"))
    with pytest.raises(UserError, match=r"^theirs\.jsonl:2: malformed JSON"):
        merge_records(good, good, good + "{nope\n", names=("base.jsonl", "ours.jsonl", "theirs.jsonl"))
    with pytest.raises(UserError, match=r"^base:1: .*duplicate|^base:2: duplicate"):
        merge_records(good + good, good, good)


def test_identity_merges() -> None:
    base = text(rec("x-1"), rec("x-2", status="closed"))
    ours = text(rec("x-1", title="o", updated_at=T1), rec("x-2", status="closed"))
    assert merge_records(base, ours, base).text == ours
    assert merge_records(base, base, ours).text == ours
    assert merge_records(base, ours, ours).text == ours
    assert merge_records("", "", "").text == ""


# -- property: random concurrent edits never drop a task and never reopen a closed one ---------

STATUSES = ["open", "in_progress", "blocked", "closed"]
edit = st.tuples(
    st.sampled_from(["title", "status", "label+", "label-", "comment", "dep", "priority", "create"]),
    st.integers(0, 7), st.integers(0, 7), st.sampled_from(STATUSES))


def _apply(tasks: dict[str, dict[str, Any]], edits: list[tuple[str, int, int, str]], side: str,
           clock: list[int]) -> dict[str, dict[str, Any]]:
    out = {k: json.loads(json.dumps(v)) for k, v in tasks.items()}
    for n, (kind, i, j, status) in enumerate(edits):
        clock[0] += 1
        now = f"2026-05-29T12:{clock[0] // 60:02d}:{clock[0] % 60:02d}Z"
        if kind == "create":
            tid = f"x-{side}{n}" if i % 3 else f"x-new{i}"  # sometimes the same ID on both sides
            out.setdefault(tid, rec(tid, title=f"new {i}"))
            continue
        ids = sorted(out)
        t = out[ids[i % len(ids)]]
        if kind == "status":
            if t["status"] == "closed":
                continue  # this generator never reopens
            t["status"] = status
            if status == "closed":
                t["closed_at"] = now
        elif kind == "title":
            t["title"] = f"{side} {n}"
        elif kind == "priority":
            t["priority"] = j % 5
        elif kind == "label+":
            t["labels"] = sorted({*t.get("labels", []), f"l{j}"})
        elif kind == "label-":
            t["labels"] = [x for x in t.get("labels", []) if x != f"l{j}"]
        elif kind == "comment":
            t.setdefault("comments", []).append(
                {"id": f"{side}-{n}", "issue_id": t["id"], "author": side, "text": "c", "created_at": now})
        elif kind == "dep":
            target = ids[j % len(ids)]
            if target < t["id"] and target in tasks:  # only to older base tasks: no cycles
                deps = t.setdefault("dependencies", [])
                if not any(d["depends_on_id"] == target for d in deps):
                    deps.append({"issue_id": t["id"], "depends_on_id": target, "type": "blocks",
                                 "created_at": now, "metadata": "{}"})
        t["updated_at"] = now
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Found by hypothesis: the same new ID on both sides, closed on one, is a conflict showing both.
@example(n=1, closed=set(), ours_edits=[("create", 0, 0, "open"), ("status", 1, 0, "closed")],
         theirs_edits=[("create", 0, 0, "open")], interleave=False)
@given(n=st.integers(1, 6), closed=st.sets(st.integers(0, 5)),
       ours_edits=st.lists(edit, max_size=8), theirs_edits=st.lists(edit, max_size=8),
       interleave=st.booleans())
def test_property_never_drops_a_task_never_reopens_a_closed_one(
        n: int, closed: set[int], ours_edits: list[Any], theirs_edits: list[Any], interleave: bool) -> None:
    base = {f"x-{i}": rec(f"x-{i}", status="closed" if i in closed else "open") for i in range(n)}
    clock = [0]
    ours = _apply(base, ours_edits, "o", clock)
    if not interleave:
        clock = [0]
    theirs = _apply(base, theirs_edits, "t", clock)
    result = merge_records(text(*base.values()), text(*ours.values()), text(*theirs.values()))
    conflicted = {c.task_id for c in result.conflicts}
    if not result.clean:
        assert all("both sides" in c.reason for c in result.conflicts)
    got = {json.loads(x)["id"]: json.loads(x) for x in result.text.splitlines()
           if x.startswith("{")}
    for tid in {*ours, *theirs}:
        assert tid in got or tid in conflicted, f"dropped {tid}"
    for tid in got.keys() - conflicted:  # a conflict keeps both versions, between markers, for a human
        if ours.get(tid, {}).get("status") == "closed" or theirs.get(tid, {}).get("status") == "closed":
            assert got[tid]["status"] == "closed", f"reopened {tid}"
            assert "closed_at" in got[tid]
    if result.clean:
        parse(Path("merged"), result.text.encode())  # a valid queue
        flipped = merge_records(text(*base.values()), text(*theirs.values()), text(*ours.values()))
        assert set(records(flipped.text)) == set(got)  # the same tasks whichever side is ours


def test_unsorted_comments_on_one_side_are_kept_as_they_are() -> None:
    c = lambda cid, when: {"id": cid, "issue_id": "x-1", "author": "a", "text": cid, "created_at": when}  # noqa: E731
    base = text(rec("x-1"))
    ours = text(rec("x-1", comments=[c("late", T2), c("early", T1)], updated_at=T2))
    assert merge_records(base, ours, base).text == ours
