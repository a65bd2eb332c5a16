"""The embedded store on real files: round trips, every operation with bd's rules, the claim
race between real processes, and bad input."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import ClaimRefused, UserError
from orchestrator.tasks.jsonl import JsonlStore, adaptive_length
from orchestrator.tasks.store import NewTask, TaskChanges
from support.repo import FIXTURES, task_record, write_queue

CLOCK = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
NOW = "2026-06-01T12:00:00Z"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The recorded bd export (5 tasks, prefix shop) in a repo's .beads/."""
    path = tmp_path / ".beads" / "issues.jsonl"
    path.parent.mkdir()
    shutil.copy(FIXTURES / "bd" / "issues.jsonl", path)
    return path


def store_at(path: Path) -> JsonlStore:
    return JsonlStore(path, clock=lambda: CLOCK)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def by_id(path: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in lines(path) if r.get("_type", "issue") == "issue"}


# -- round trip ----------------------------------------------------------------------------
def test_reads_and_noop_writes_never_touch_the_file(shop: Path) -> None:
    before = shop.read_bytes()
    stat = shop.stat()
    s = store_at(shop)
    s.all(); s.ready(); s.list(statuses=("all",)); s.show(["shop-m2d"])  # noqa: E702
    s.dep_add("shop-t7w", "shop-4kx", actor="x")  # already there with this type: idempotent
    s.claim("shop-4kx", actor="agent-lin")         # already ours and in progress: idempotent
    s.close(["shop-m2d.1"], reason="again", actor="x")  # re-closing is idempotent
    after = shop.stat()
    assert shop.read_bytes() == before
    assert (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_a_write_keeps_every_other_line_byte_for_byte_and_in_order(shop: Path) -> None:
    before = shop.read_bytes().splitlines()
    store_at(shop).update(["shop-m2d"], TaskChanges(priority=0), actor="x")
    after = shop.read_bytes().splitlines()
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b]
    assert changed == [2]  # shop-m2d is the third line; nothing else moved or changed
    rec = json.loads(after[2])
    assert rec["priority"] == 0 and rec["updated_at"] == NOW
    assert list(rec) == list(json.loads(before[2]))  # same keys, same order


def test_unknown_fields_custom_statuses_and_other_record_kinds_survive(tmp_path: Path) -> None:
    rec = task_record("x-1", status="in_review", issue_type="convoy",
                      wisp_type="patrol", future_field={"nested": [1, 2]}, sender="mayor",
                      dependency_count=0)
    memory = '{"_type":"memory","key":"k","value":"v <&>"}'
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps(rec, separators=(",", ":")) + "\n" + memory + "\n"
                    + json.dumps(task_record("x-2"), separators=(",", ":")) + "\n")
    store_at(path).update(["x-1"], TaskChanges(notes="n"), actor="a")
    out = path.read_text().splitlines()
    assert out[1] == memory
    got = json.loads(out[0])
    assert got["status"] == "in_review" and got["issue_type"] == "convoy"
    assert got["future_field"] == {"nested": [1, 2]} and got["sender"] == "mayor"
    assert list(got)[:5] == ["_type", "id", "title", "notes", "status"]  # bd key order
    assert list(got).index("future_field") > list(got).index("updated_at")


def test_written_lines_use_go_escaping(tmp_path: Path) -> None:
    path = write_queue(tmp_path, [task_record("x-1")])
    store_at(path).update(["x-1"], TaskChanges(title="a <b> & c ü"), actor="a")
    assert '"title":"a \\u003cb\\u003e \\u0026 c ü"' in path.read_text(encoding="utf-8")


# -- create --------------------------------------------------------------------------------
def test_create_hash_id_with_the_files_prefix(shop: Path) -> None:
    task = store_at(shop).create(NewTask("New thing", priority=1, labels=("x",)), actor="ada")
    assert re.fullmatch(r"shop-[0-9a-z]{3}", task.id)
    rec = by_id(shop)[task.id]
    assert (rec["title"], rec["priority"], rec["status"], rec["created_by"]) == (
        "New thing", 1, "open", "ada")
    assert rec["created_at"] == rec["updated_at"] == NOW
    assert rec["_type"] == "issue" and lines(shop)[-1]["id"] == task.id  # appended


def test_create_in_an_empty_repo_uses_the_directory_name(tmp_path: Path) -> None:
    repo = tmp_path / "my.project"
    task = store_at(repo / ".beads" / "issues.jsonl").create(NewTask("First"), actor="a")
    assert re.fullmatch(r"my_project-[0-9a-z]{3}", task.id)
    configured = JsonlStore(repo / ".beads" / "issues.jsonl", prefix="web")
    assert configured.create(NewTask("Second"), actor="a").id.startswith("web-")


@pytest.mark.parametrize(("count", "length"), [(1, 3), (163, 3), (164, 4), (983, 4), (984, 5),
                                               (5800, 5), (5900, 6), (35000, 6), (10**9, 8)])
def test_adaptive_id_length(count: int, length: int) -> None:
    assert adaptive_length(count) == length


def test_create_child_ids_and_label_inheritance(shop: Path) -> None:
    s = store_at(shop)
    child = s.create(NewTask("Fix flaky checkout e2e test", issue_type="bug", priority=1,
                             labels=("ci", "flaky"), parent="shop-m2d"), actor="orchestrator")
    assert child.id == "shop-m2d.3"  # .1 and .2 exist
    assert child.labels == ("ci", "flaky", "checkout")  # as in the recorded create.json
    assert s.create(NewTask("grandchild", parent="shop-m2d.3"), actor="a").id == "shop-m2d.3.1"
    rec = by_id(shop)["shop-m2d.3"]
    assert rec["dependencies"] == [{"issue_id": "shop-m2d.3", "depends_on_id": "shop-m2d",
                                    "type": "parent-child", "created_at": NOW,
                                    "created_by": "orchestrator", "metadata": "{}"}]
    # bd counts the parent's levels: three below the top is the limit (hierarchy.max-depth)
    assert s.create(NewTask("deepest", parent="shop-m2d.3.1"), actor="a").id == "shop-m2d.3.1.1"
    with pytest.raises(UserError, match=r"task shop-m2d.3.1.1 is already at the maximum hierarchy depth \(3\)"):
        s.create(NewTask("too deep", parent="shop-m2d.3.1.1"), actor="a")


def test_create_deps_directions(shop: Path) -> None:
    s = store_at(shop)
    new = s.create(NewTask("Fix", deps=("shop-4kx", "blocks:shop-t7w",
                                        "discovered-from:shop-m2d.1")), actor="a")
    recs = by_id(shop)
    assert [(d["depends_on_id"], d["type"]) for d in recs[new.id]["dependencies"]] == [
        ("shop-4kx", "blocks"), ("shop-m2d.1", "discovered-from")]
    # blocks:X -> X depends on the new task
    assert (new.id, "blocks") in [(d["depends_on_id"], d["type"]) for d in recs["shop-t7w"]["dependencies"]]
    assert recs["shop-t7w"]["dependency_count"] == 2  # blocks-only counts kept current
    assert new.id not in [t.id for t in s.ready()]


def test_create_refusals_leave_the_file_alone(shop: Path) -> None:
    before = shop.read_bytes()
    s = store_at(shop)
    for new, message in [
        (NewTask("x", deps=("weird:shop-4kx",)), "unknown dependency type 'weird'"),
        (NewTask("x", deps=("shop-nope",)), "no task shop-nope"),
        (NewTask("x", parent="shop-nope"), "no task shop-nope"),
        (NewTask("x", id="shop-4kx"), "task shop-4kx already exists"),
        (NewTask("   "), "a task needs a title"),
        (NewTask("x", deps=("blocks:shop-m2d",)), "tasks can only block other tasks"),
    ]:
        with pytest.raises(UserError, match=re.escape(message)):
            s.create(new, actor="a")
    assert shop.read_bytes() == before


# -- update --------------------------------------------------------------------------------
def test_update_fields_status_timestamps_and_labels(shop: Path) -> None:
    s = store_at(shop)
    s.update(["shop-t7w"], TaskChanges(status="in_progress", notes="first",
                                       add_labels=("a", "deploy"), priority=4), actor="x")
    rec = by_id(shop)["shop-t7w"]
    assert (rec["status"], rec["started_at"], rec["notes"], rec["labels"], rec["priority"]) == (
        "in_progress", NOW, "first", ["deploy", "a"], 4)
    assert "assignee" not in rec  # plain --status in_progress does not assign
    s.update(["shop-t7w"], TaskChanges(append_notes="second", remove_labels=("deploy",),
                                       assignee="ada"), actor="x")
    rec = by_id(shop)["shop-t7w"]
    assert (rec["notes"], rec["labels"], rec["assignee"]) == ("first\nsecond", ["a"], "ada")
    s.update(["shop-t7w"], TaskChanges(status="closed", set_labels=("z",)), actor="x")
    rec = by_id(shop)["shop-t7w"]
    assert (rec["status"], rec["closed_at"], rec["labels"]) == ("closed", NOW, ["z"])
    s.update(["shop-m2d.1"], TaskChanges(status="open"), actor="x")
    rec = by_id(shop)["shop-m2d.1"]
    assert "closed_at" not in rec and "close_reason" not in rec
    assert rec["started_at"] == "2026-05-29T09:15:02Z"  # set once, kept
    with pytest.raises(UserError, match="no task shop-zzz"):
        s.update(["shop-zzz"], TaskChanges(priority=1), actor="x")


# -- claim ---------------------------------------------------------------------------------
def test_claim_is_bds_compare_and_swap(shop: Path) -> None:
    s = store_at(shop)
    task = s.claim("shop-t7w", actor="agent-ada")
    rec = by_id(shop)["shop-t7w"]
    assert (rec["status"], rec["assignee"], rec["started_at"], rec["updated_at"]) == (
        "in_progress", "agent-ada", NOW, NOW)
    assert task.assignee == "agent-ada"
    assert s.claim("shop-t7w", actor="agent-ada").status == "in_progress"  # idempotent
    with pytest.raises(ClaimRefused, match="^issue already claimed by agent-ada$"):
        s.claim("shop-t7w", actor="agent-lin")
    with pytest.raises(ClaimRefused, match="^issue not claimable: status closed$"):
        s.claim("shop-m2d.1", actor="agent-ada")  # closed, and assigned to agent-ada itself


CLAIMER = """
import sys, time
from pathlib import Path
from orchestrator.errors import ClaimRefused
from orchestrator.tasks.jsonl import JsonlStore
path, go, actor = sys.argv[1:]
while not Path(go).exists():
    time.sleep(0.001)
try:
    JsonlStore(path).claim("shop-t7w", actor=actor)
    print("won")
except ClaimRefused as e:
    print("lost:", e)
"""


def test_concurrent_processes_racing_to_claim_exactly_one_wins(shop: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, str(shop), str(go), f"agent-{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    time.sleep(0.5)  # let every interpreter start and spin on the go file
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    outs = [out.strip() for out, err in results]
    assert all(not err for _, err in results), results
    winners = [i for i, out in enumerate(outs) if out == "won"]
    assert len(winners) == 1, outs
    assert all(out.startswith("lost: issue already claimed by agent-") for out in outs if out != "won")
    assert by_id(shop)["shop-t7w"]["assignee"] == f"agent-{winners[0]}"
    assert len(lines(shop)) == 5


def test_concurrent_creates_lose_no_update(shop: Path) -> None:
    code = ("import sys; from orchestrator.tasks.jsonl import JsonlStore; "
            "from orchestrator.tasks.store import NewTask; "
            "[JsonlStore(sys.argv[1]).create(NewTask(f'{sys.argv[2]}-{i}'), actor='a') for i in range(5)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(shop), f"p{i}"]) for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    assert len(by_id(shop)) == 5 + 20


# -- close ---------------------------------------------------------------------------------
def test_close_guards_and_force(shop: Path) -> None:
    s = store_at(shop)
    result = s.close(["shop-t7w", "shop-m2d", "shop-nope"], reason="done", actor="x")
    assert result.closed == ()
    assert result.refused == (
        "cannot close shop-t7w: blocked by open issues [shop-4kx]",
        "cannot close shop-m2d: epic has open children [shop-m2d.2]",
        "no task shop-nope",
    )
    forced = s.close(["shop-t7w"], reason="superseded", force=True, actor="x")
    rec = by_id(shop)["shop-t7w"]
    assert [t.id for t in forced.closed] == ["shop-t7w"]
    assert (rec["status"], rec["closed_at"], rec["close_reason"]) == ("closed", NOW, "superseded")
    s.close(["shop-m2d.2"], reason="", actor="x")
    assert by_id(shop)["shop-m2d.2"]["close_reason"] == "Closed"
    assert [t.id for t in s.close(["shop-m2d"], reason="all done", actor="x").closed] == ["shop-m2d"]


def test_pinned_task_cannot_be_closed(tmp_path: Path) -> None:
    path = write_queue(tmp_path, [task_record("x-1", pinned=True), task_record("x-2", status="pinned")])
    result = store_at(path).close(["x-1", "x-2"], reason="r", actor="a")
    assert result.refused == ("cannot close x-1: task is pinned", "cannot close x-2: task is pinned")


# -- dependencies --------------------------------------------------------------------------
def test_dep_add_and_remove(shop: Path) -> None:
    s = store_at(shop)
    s.dep_add("shop-m2d.2", "shop-4kx", actor="ada")
    deps = by_id(shop)["shop-m2d.2"]["dependencies"]
    assert deps[-1] == {"issue_id": "shop-m2d.2", "depends_on_id": "shop-4kx", "type": "blocks",
                        "created_at": NOW, "created_by": "ada", "metadata": "{}"}
    assert by_id(shop)["shop-4kx"]["dependent_count"] == 2
    s.dep_add("shop-t7w", "shop-m2d.2", dep_type="waits-for", actor="ada")
    assert by_id(shop)["shop-t7w"]["dependencies"][-1]["metadata"] == "{}"  # as bd dep add
    s.dep_remove("shop-m2d.2", "shop-4kx", actor="ada")
    assert [d["depends_on_id"] for d in by_id(shop)["shop-m2d.2"]["dependencies"]] == [
        "shop-m2d", "shop-m2d.1"]
    assert by_id(shop)["shop-4kx"]["dependent_count"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (("shop-4kx", "shop-t7w"), "adding dependency shop-4kx -> shop-t7w would create a cycle"),
    (("shop-t7w", "shop-t7w"), "task shop-t7w cannot depend on itself"),
    (("shop-t7w", "shop-m2d"), "tasks can only block other tasks, not epics"),
    (("shop-m2d", "shop-t7w"), "tasks can only block other tasks, not epics"),
    (("shop-t7w", "shop-4kx", "related"), "already exists with type blocks; remove it first"),
    (("shop-t7w", "shop-nope"), "no task shop-nope"),
    (("shop-nope", "shop-t7w"), "no task shop-nope"),
    (("shop-m2d", "shop-m2d.2", "parent-child"), "would create a cycle"),
])
def test_dep_add_rules(shop: Path, args: tuple[str, ...], message: str) -> None:
    before = shop.read_bytes()
    issue, target, *kind = args
    with pytest.raises(UserError, match=re.escape(message)):
        store_at(shop).dep_add(issue, target, dep_type=kind[0] if kind else "blocks", actor="a")
    assert shop.read_bytes() == before


def test_child_cannot_block_on_its_own_parent(tmp_path: Path) -> None:
    path = write_queue(tmp_path, [task_record("x-1"), task_record("x-1.1", parent="x-1")])
    with pytest.raises(UserError, match="cannot make x-1.1 wait on its own parent x-1"):
        store_at(path).dep_add("x-1.1", "x-1", actor="a")


def test_dep_remove_missing_edge(shop: Path) -> None:
    with pytest.raises(UserError, match="task shop-t7w has no dependency on shop-m2d"):
        store_at(shop).dep_remove("shop-t7w", "shop-m2d", actor="a")


# -- comments ------------------------------------------------------------------------------
def test_comments_are_appended_with_uuid7_ids(shop: Path) -> None:
    s = store_at(shop)
    c = s.comment("shop-m2d.1", "second note", author="agent-lin")
    rec = by_id(shop)["shop-m2d.1"]
    assert rec["comment_count"] == 2
    assert rec["comments"][0]["id"] == "019e7388-be50-7b0d-9db0-0b73c3df441e"  # kept
    assert rec["comments"][1] == {"id": c.id, "issue_id": "shop-m2d.1", "author": "agent-lin",
                                  "text": "second note", "created_at": NOW}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", c.id)
    with pytest.raises(UserError, match="a comment needs text"):
        s.comment("shop-m2d.1", "  ", author="a")


# -- bad input -----------------------------------------------------------------------------
GOOD = json.dumps(task_record("x-1"), separators=(",", ":")).encode()


def rec_line(tid: str, **kw: Any) -> bytes:
    return json.dumps(task_record(tid, **kw), separators=(",", ":")).encode()


BAD_FILES = {
    "malformed JSON line": (
        GOOD + b"\n" + b'{"_type":"issue","id":"x-2","title":"t",\n',
        r"issues\.jsonl:2: malformed JSON: .* at column \d+ \(task x-2\)$"),
    "non-UTF-8 byte": (
        GOOD + b"\n" + rec_line("x-2", title="cafe").replace(b"cafe", b"caf\xe9") + b"\n",
        r"issues\.jsonl:2: not UTF-8 \(byte 0xe9 at column \d+\) \(task x-2\)$"),
    "duplicate ID": (
        GOOD + b"\n" + rec_line("x-2") + b"\n" + GOOD + b"\n",
        r"issues\.jsonl:3: duplicate task ID x-1 \(first on line 1\)$"),
    "dependency on a missing task": (
        GOOD + b"\n" + rec_line("x-2", blocks_on=["x-9"]) + b"\n",
        r"issues\.jsonl:2: task x-2 depends on missing task x-9$"),
    "dependency cycle": (
        rec_line("x-1", blocks_on=["x-2"]) + b"\n" + rec_line("x-2", blocks_on=["x-1"]) + b"\n",
        r"issues\.jsonl:1: dependency cycle through blocking edges: x-1 -> x-2$"),
    "unknown priority": (
        GOOD + b"\n" + rec_line("x-2", priority=7) + b"\n",
        r"issues\.jsonl:2: task x-2: unknown priority 7 \(expected 0-4\)$"),
    "parent-child cycle": (
        rec_line("x-1", parent="x-2") + b"\n" + rec_line("x-2", parent="x-1") + b"\n",
        r"issues\.jsonl:1: parent-child cycle: x-1 -> x-2$"),
    "missing id": (
        GOOD + b"\n" + b'{"_type":"issue","title":"no id","priority":1}\n',
        r'issues\.jsonl:2: missing or empty "id"$'),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("command", [("ready",), ("ready", "--json"),
                                     ("task", "update", "x-1", "--priority", "1"),
                                     ("task", "create", "new")])
def test_bad_input_is_one_line_exit_2_and_file_untouched(tmp_path: Path, case: str,
                                                         command: tuple[str, ...]) -> None:
    data, pattern = BAD_FILES[case]
    path = tmp_path / ".beads" / "issues.jsonl"
    path.parent.mkdir()
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                          "--store", "jsonl", *command], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"orchestrator: {path}:")
    assert re.search(pattern, out.stderr.rstrip("\n")), out.stderr
    assert path.read_bytes() == data
    assert sorted(os.listdir(path.parent)) in (["issues.jsonl"], ["issues.jsonl", "issues.jsonl.lock"])


# -- the read cache ------------------------------------------------------------------------
def test_a_read_after_the_stores_own_write_does_not_parse_the_file_again(
        shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.tasks import jsonl
    parses: list[Path] = []
    real_parse = jsonl.parse
    monkeypatch.setattr(jsonl, "parse", lambda path, data, previous=None: parses.append(path) or real_parse(path, data, previous))
    s = store_at(shop)
    s.update(["shop-m2d"], TaskChanges(priority=0, add_labels=("x",)), actor="x")
    s.comment("shop-m2d", "hello", author="x")
    s.create(NewTask(title="new one"), actor="x")
    # each write re-reads the file under the lock (compare-and-swap), but parses it only when
    # its bytes are not the ones this store wrote last
    assert len(parses) == 1
    mine = s.all()
    assert len(parses) == 1  # ... and keeps what it wrote: this read was free
    monkeypatch.setattr(jsonl, "parse", real_parse)
    fresh = store_at(shop).all()
    assert mine == fresh and list(mine) == list(fresh)  # what a re-read sees, in file order
    assert "x" in mine["shop-m2d"].labels and mine["shop-m2d"].comments[-1].text == "hello"


def test_a_write_by_another_process_after_our_own_is_seen(shop: Path) -> None:
    s = store_at(shop)
    s.update(["shop-m2d"], TaskChanges(priority=0), actor="x")
    assert s.all()["shop-m2d"].priority == 0
    other = subprocess.run([sys.executable, "-c", (
        "import sys; from orchestrator.tasks.jsonl import JsonlStore; "
        "from orchestrator.tasks.store import TaskChanges; "
        "JsonlStore(sys.argv[1]).update(['shop-m2d'], TaskChanges(priority=4), actor='y')"),
        str(shop)], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    assert s.all()["shop-m2d"].priority == 4


def test_a_write_after_another_writers_change_builds_on_it(shop: Path) -> None:
    s = store_at(shop)
    s.update(["shop-m2d"], TaskChanges(priority=0), actor="x")  # s now holds what it wrote
    other = subprocess.run([sys.executable, "-c", (
        "import sys; from orchestrator.tasks.jsonl import JsonlStore; "
        "from orchestrator.tasks.store import TaskChanges; "
        "JsonlStore(sys.argv[1]).update(['shop-m2d'], TaskChanges(add_labels=('theirs',)), "
        "actor='y')"), str(shop)], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    s.update(["shop-m2d"], TaskChanges(add_labels=("ours",)), actor="x")
    fresh = store_at(shop).all()["shop-m2d"]
    assert {"theirs", "ours"} <= set(fresh.labels) and fresh.priority == 0


def test_a_write_reserialises_only_the_lines_it_must(tmp_path: Path) -> None:
    """A write rewrites the changed task and the targets whose dependent_count it moved, from
    the counts their lines carry (bd writes them right), counting no other edge; every other
    line keeps its bytes. Across several writes of one store the file's counts stay what a
    full recount gives."""
    from orchestrator.tasks import graph
    from orchestrator.tasks.jsonl import parse

    recs = [task_record(f"x-{i}", dependency_count=0, dependent_count=0, comment_count=0)
            for i in range(6)]
    path = write_queue(tmp_path, recs)
    before = path.read_text().splitlines()
    s = store_at(path)
    s.dep_add("x-1", "x-0", actor="a")            # x-1 changed, x-0's dependent_count moved
    first = path.read_text().splitlines()
    assert [i for i in range(6) if first[i] != before[i]] == [0, 1]
    assert [json.loads(x).get("dependent_count") for x in first[:3]] == [1, 0, 0]
    s.dep_add("x-3", "x-0", actor="a")            # from the counts the lines carry
    s.comment("x-4", "hello", author="a")
    s.dep_remove("x-1", "x-0", actor="a")
    s.create(NewTask(title="new", deps=("x-5",)), actor="a")  # a new task moves x-5's count
    after = path.read_text().splitlines()
    state = parse(path, path.read_bytes())
    want = graph.dependency_counts(state.tasks)
    for line in after:
        rec = json.loads(line)
        assert {k: rec[k] for k in want[rec["id"]]} == want[rec["id"]], rec["id"]
    assert json.loads(after[0])["dependent_count"] == 1 and len(after) == 7


@pytest.mark.parametrize("touched_line", [
    {"dependency_count": 3},                      # its own edges say otherwise
    {"comment_count": 2},                         # its own comments say otherwise
    {"dependent_count": None},                    # carries none
])
def test_a_touched_line_with_counts_it_contradicts_makes_the_write_count_everything(
        tmp_path: Path, touched_line: dict[str, object]) -> None:
    """Counts a write cannot take from the lines it touches are counted over every edge, and
    then every line whose counts are wrong is rewritten, untouched ones too."""
    recs = [task_record(f"x-{i}", dependency_count=0, dependent_count=0, comment_count=0)
            for i in range(4)]
    recs[1].update(touched_line)
    recs[1] = {k: v for k, v in recs[1].items() if v is not None}
    recs[3]["dependent_count"] = 7                # wrong, on a line the write does not touch
    path = write_queue(tmp_path, recs)
    before = path.read_text().splitlines()
    store_at(path).dep_add("x-1", "x-0", actor="a")
    after = [json.loads(x) for x in path.read_text().splitlines()]
    assert after[2] == json.loads(before[2])
    assert [(r["dependency_count"], r["dependent_count"], r["comment_count"])
            for r in after] == [(0, 1, 0), (1, 0, 0), (0, 0, 0), (0, 0, 0)]


def test_a_write_trusts_the_dependent_count_of_the_lines_it_does_not_touch(
        tmp_path: Path) -> None:
    """A line's dependent_count cannot be checked without counting every edge: a wrong one
    on a line the write leaves alone stays as bd (or a hand) wrote it."""
    recs = [task_record(f"x-{i}", dependency_count=0, dependent_count=0, comment_count=0)
            for i in range(3)]
    recs[2]["dependent_count"] = 7
    path = write_queue(tmp_path, recs)
    before = path.read_text().splitlines()
    store_at(path).comment("x-0", "hello", author="a")
    after = path.read_text().splitlines()
    assert after[1:] == before[1:] and after[0] != before[0]


def test_lines_a_write_does_not_touch_keep_their_bytes(tmp_path: Path) -> None:
    recs = [task_record(f"x-{i}") for i in range(4)]
    path = write_queue(tmp_path, recs)
    # odd but valid spacing a re-serialisation would change
    text = path.read_text().splitlines()
    text[3] = text[3].replace('"title":', '"title" :')
    path.write_text("\n".join(text) + "\n")
    store_at(path).comment("x-1", "hello", author="a")
    after = path.read_text().splitlines()
    assert after[0] == text[0] and after[2] == text[2] and after[3] == text[3]
    assert after[1] != text[1]


def test_counts_carried_over_another_writers_change_stay_right(tmp_path: Path) -> None:
    """A store that wrote, then sees another process's write, moves its counts by what that
    write changed instead of recounting; the file's counts stay what a full recount gives."""
    from orchestrator.tasks import graph
    from orchestrator.tasks.jsonl import parse

    recs = [task_record(f"x-{i}", dependency_count=0, dependent_count=0, comment_count=0)
            for i in range(5)]
    path = write_queue(tmp_path, recs)
    mine, other = store_at(path), store_at(path)
    mine.comment("x-0", "first", author="a")                  # mine now holds counts
    other.dep_add("x-2", "x-1", actor="b")                    # x-1's dependent_count moves
    other.create(NewTask(title="new", deps=("x-1",)), actor="b")
    mine.dep_add("x-3", "x-1", actor="a")                     # from the carried counts
    other.dep_remove("x-2", "x-1", actor="b")
    mine.comment("x-4", "again", author="a")
    state = parse(path, path.read_bytes())
    want = graph.dependency_counts(state.tasks)
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        assert {k: rec[k] for k in want[rec["id"]]} == want[rec["id"]], rec["id"]
    assert want["x-1"]["dependent_count"] == 2


def test_snapshots_are_shared_read_only_and_say_what_changed(tmp_path: Path) -> None:
    """`all()` hands out one read-only map per version of the file, and the newest version
    tells what changed since the few before it exactly as comparing every task would
    (graph_state.changed_between on a plain copy, which cannot tell), through the store's own
    writes, another process's writes re-read, and a task removed by hand."""
    from orchestrator.dispatch.graph_state import changed_between
    path = write_queue(tmp_path, [task_record(f"q-{i}", blocks_on=["q-0"] if i > 2 else ())
                                  for i in range(6)])
    store, other = JsonlStore(path), JsonlStore(path)
    first = store.all()
    assert store.all() is first
    with pytest.raises(TypeError):
        first["q-1"] = first["q-0"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del first["q-1"]  # type: ignore[attr-defined]
    copy = dict(first)
    copy["q-1"] = first["q-0"]  # a copy is the caller's own
    assert store.all()["q-1"].id == "q-1"

    def drop_q5() -> None:
        path.write_text("".join(x for x in path.read_text().splitlines(True) if '"q-5"' not in x))

    steps = [lambda: store.claim("q-1", actor="a"),
             lambda: other.comment("q-1", "hi", author="b"),  # another process's write
             lambda: store.create(NewTask(title="new"), actor="a"),  # a re-read, then a write
             lambda: store.update(["q-2", "q-3"], TaskChanges(priority=0), actor="a"),
             drop_q5,
             lambda: other.close(["q-1"], actor="b")]
    versions = [first]
    told_any = 0
    for step in steps:
        step()
        new = store.all()
        assert new is not versions[-1]
        for old in versions:
            told = new.changes_since(old)  # type: ignore[attr-defined]
            changed, removed = changed_between(old, dict(new))  # by identity
            if old is versions[-1]:
                assert told is not None  # the version just before is always told
            if told is not None:
                told_any += 1
                assert told == (changed, sorted(removed)), (step, versions.index(old))
        # only the newest version holds older ones (no chain keeping every version alive)
        assert len(versions) < 2 or versions[-1].changes_since(versions[-2]) is None  # type: ignore[attr-defined]
        versions.append(new)
    assert told_any > len(steps)  # versions further back were told too
    assert "q-5" not in store.all() and store.all()["q-1"].status == "closed"


def test_a_write_sees_an_edit_of_the_same_size_made_since_its_last_read(tmp_path: Path) -> None:
    """The compare-and-swap compares every byte under the lock: an edit that keeps the file's
    size (and may keep its mtime, which is coarse) is still seen and kept."""
    path = write_queue(tmp_path, [task_record(f"q-{i}", title=f"Title {i}") for i in range(3)])
    store = JsonlStore(path)
    store.claim("q-0", actor="a")  # the store now holds the version it wrote
    text = path.read_text()
    path.write_text(text.replace('"Title 2"', '"Title X"'))  # in place, same size
    store.claim("q-1", actor="a")
    assert '"Title X"' in path.read_text()
    assert store.show(["q-2"])[0].title == "Title X"
    assert [t.status for t in store.show(["q-0", "q-1"])] == ["in_progress", "in_progress"]
