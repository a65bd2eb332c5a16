"""The bd adapter against the real bd (built by .ci/install-bd): every TaskStore operation runs
the same scenario on a real bd database and on the JSONL store; what each step returns and
both end states (`bd export` vs the JSONL file, with what is volatile normalised) are equal.
Also the claim race through `bd update --claim` (exactly one of two processes wins)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.config import BdConfig
from orchestrator.errors import ClaimRefused, UserError
from orchestrator.tasks.bd import BdStore
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import Task
from orchestrator.tasks.store import NewTask, TaskChanges, TaskStore
from support.bd import BD_ENV, RealBd, bd_binary

# What bd documents as volatile: clock times (bd keeps seconds, creation has nanoseconds),
# comment UUIDs, and `owner` (bd's git identity, which the JSONL store has no notion of).
VOLATILE = {"created_at", "updated_at", "started_at", "closed_at", "owner"}


@pytest.fixture
def binary(monkeypatch: pytest.MonkeyPatch) -> Path:
    path = bd_binary()
    for key, value in BD_ENV.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)
    return path


@pytest.fixture
def bd(binary: Path, tmp_path: Path) -> RealBd:
    return RealBd(binary, tmp_path / "bd").init("t")


@pytest.fixture
def bd_store(bd: RealBd) -> BdStore:
    return BdStore(bd.root, BdConfig(path=str(bd.binary), actor="orchestrator"))


def ids(tasks: list[Task]) -> list[str]:
    return [t.id for t in tasks]


def scenario(store: TaskStore) -> list[Any]:
    """Every TaskStore operation once or more; returns what each step observed. Ready tasks
    have distinct priorities where creation times could tie or not (clock seconds differ
    between the two runs), so bd's created_at tie-break cannot make the orders differ."""
    seen: list[Any] = []
    note = seen.append
    epic = store.create(NewTask("Checkout", issue_type="epic", priority=1, id="t-epic",
                                labels=("checkout",), description="The checkout feature"),
                        actor="planner")
    note(("create epic", epic.id, epic.issue_type, epic.labels))
    a = store.create(NewTask("Totals endpoint", parent="t-epic", labels=("api",),
                             acceptance_criteria="200 with totals", design="server side"),
                     actor="planner")
    b = store.create(NewTask("Wire the page", parent="t-epic", deps=(a.id,), priority=0),
                     actor="planner")
    note(("children", a.id, a.labels, b.id, b.labels))
    bug = store.create(NewTask("Rounding bug", issue_type="bug", id="t-bug",
                               deps=(f"discovered-from:{a.id}",), assignee="ada", priority=0),
                      actor="lin")
    gate = store.create(NewTask("Staging deploy", id="t-deploy", deps=(f"blocks:{b.id}",),
                                notes="needs a slot", priority=3), actor="planner")
    note(("ids", bug.id, gate.id))
    note(("ready", ids(store.ready())))
    note(("ready unassigned", ids(store.ready(ReadyFilter(unassigned=True)))))
    # both: bd lets --unassigned win, and so does graph.py (not the empty list)
    both = ids(store.ready(ReadyFilter(assignee="ada", unassigned=True)))
    assert both and "t-bug" not in both
    note(("ready assignee and unassigned", both))
    note(("ready bug", ids(store.ready(ReadyFilter(only_type="bug")))))
    note(("ready label", ids(store.ready(ReadyFilter(labels=("api",))))))
    note(("ready limit", ids(store.ready(limit=2))))
    note(("list", sorted(ids(store.list()))))
    note(("list children", sorted(ids(store.list(parent="t-epic")))))

    (upd,) = store.update([a.id], TaskChanges(description="GET /totals", priority=1,
                                              add_labels=("backend",), notes="cache 5 min"),
                          actor="planner")
    note(("update", upd.description, upd.priority, sorted(upd.labels), upd.notes))
    store.update([a.id], TaskChanges(append_notes="second line"), actor="planner")
    claimed = store.claim(a.id, actor="agent-ada")
    note(("claim", claimed.status, claimed.assignee))
    note(("claim again", store.claim(a.id, actor="agent-ada").status))  # idempotent
    with pytest.raises(ClaimRefused) as refused:
        store.claim(a.id, actor="agent-lin")
    note(("claim refused", "already claimed by agent-ada" in str(refused.value)))
    comment = store.comment(a.id, "attempt 1: started", author="orchestrator")
    note(("comment", comment.issue_id, comment.author, comment.text))

    store.dep_add("t-bug", "t-deploy", dep_type="related", actor="lin")
    store.dep_remove(b.id, "t-deploy", actor="planner")
    note(("ready after dep edits", ids(store.ready())))
    refusal = store.close(["t-epic"], reason="all done", actor="planner")
    note(("close epic refused", ids(list(refusal.closed)), len(refusal.refused)))
    done = store.close([a.id], reason="Implemented", actor="agent-ada")
    note(("close", [(t.id, t.status, t.close_reason) for t in done.closed]))
    note(("ready after close", ids(store.ready())))
    store.update([a.id], TaskChanges(status="open"), actor="planner")  # reopen
    (shown,) = store.show([a.id])
    note(("reopened", shown.status, shown.closed_at, shown.close_reason))
    store.update(["t-deploy"], TaskChanges(set_labels=("ops", "deploy"), title="Deploy v2",
                                           issue_type="chore"), actor="planner")
    store.update(["t-bug"], TaskChanges(remove_labels=(), status="in_progress"), actor="ada")
    with pytest.raises(UserError):
        store.show(["t-nope"])
    shown = {t.id: t for t in store.show([a.id, b.id, "t-bug", "t-deploy", "t-epic"])}
    note(("show", {tid: (t.status, t.priority, t.issue_type, t.assignee, sorted(t.labels),
                         sorted((d.depends_on_id, d.type) for d in t.dependencies),
                         [c.text for c in t.comments])
                   for tid, t in shown.items()}))
    return seen


def normalised(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for rec in records:
        rec = {k: v for k, v in rec.items() if k not in VOLATILE}
        rec["labels"] = sorted(rec.get("labels", []))
        rec["dependencies"] = sorted(
            ({k: v for k, v in d.items() if k != "created_at"} for d in rec.get("dependencies", [])),
            key=lambda d: (d["depends_on_id"], d["type"]))
        rec["comments"] = [{k: v for k, v in c.items() if k not in ("id", "created_at")}
                           for c in rec.get("comments", [])]
        out[rec["id"]] = rec
    return out


def test_every_store_operation_matches_the_jsonl_store(bd: RealBd, bd_store: BdStore,
                                                       tmp_path: Path) -> None:
    jsonl = JsonlStore(tmp_path / "jsonl" / ".beads" / "issues.jsonl")
    expected = scenario(jsonl)
    assert scenario(bd_store) == expected
    ours = [json.loads(line) for line in jsonl.path.read_text().splitlines()]
    theirs = bd.export()
    assert normalised(theirs) == normalised(ours)


def test_the_claim_race_has_exactly_one_winner(bd: RealBd, bd_store: BdStore) -> None:
    """Two processes claim one task through `bd update --claim` at once."""
    task = bd_store.create(NewTask("Contended"), actor="planner")
    racers = [subprocess.Popen([str(bd.binary), "--actor", who, "update", task.id, "--claim",
                                "--json"], cwd=bd.root, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
              for who in ("agent-ada", "agent-lin")]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in racers]
    winners = [i for i, (rc, out, _) in enumerate(results) if rc == 0 and json.loads(out)]
    assert len(winners) == 1, results
    loser = results[1 - winners[0]]
    assert loser[0] == 1 and "already claimed" in loser[2], loser
    (final,) = bd_store.show([task.id])
    assert (final.status, final.assignee) == ("in_progress", ("agent-ada", "agent-lin")[winners[0]])


def _shape(value: Any) -> Any:
    """Keys and JSON types, recursively: what the stub's answers must share with bd's."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def test_the_stubs_recorded_answers_are_what_this_bd_prints(binary: Path) -> None:
    """tests/fixtures/bd/*.json (tests/bd_stub/bd's answers) were recorded with
    tests/bd_stub/record.py; recording again with the pinned bd gives the same shapes."""
    sys.path.insert(0, str(Path(__file__).parent / "bd_stub"))
    try:
        from record import FIXTURES, recordings
    finally:
        sys.path.pop(0)
    for name, payload in recordings(binary).items():
        assert _shape(payload) == _shape(json.loads((FIXTURES / name).read_text())), name


def _orchestrator(repo: Path, *args: str) -> str:
    import contextlib
    import io

    from orchestrator.cli import main as cli_main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(["--repo", str(repo), "--store", "jsonl", "--actor", "planner", *args])
    assert code == 0, (args, out.getvalue())
    return out.getvalue().strip()


def test_round_trip_with_bds_own_files(bd: RealBd, tmp_path: Path) -> None:
    """A queue written by `orchestrator task ...` imports into bd without a warning, and bd's
    export is read by the JSONL store with no field lost (fields it does not model kept)."""
    repo = tmp_path / "jsonl"
    (repo / ".beads").mkdir(parents=True)
    (repo / ".beads" / "issues.jsonl").write_text("")
    epic = _orchestrator(repo, "task", "create", "Checkout", "-t", "epic", "--id", "t-epic",
                         "-l", "checkout", "--silent")
    a = _orchestrator(repo, "task", "create", "Totals", "--parent", epic, "-p", "1",
                      "--acceptance", "200 OK", "--design", "server side", "--silent")
    b = _orchestrator(repo, "task", "create", "Page", "--parent", epic, "--deps", a,
                      "-a", "ada", "--notes", "n", "--silent")
    _orchestrator(repo, "task", "dep", "add", a, b, "-t", "related")
    _orchestrator(repo, "task", "comment", a, "attempt 1: started")
    _orchestrator(repo, "task", "update", a, "--claim")
    _orchestrator(repo, "task", "close", a, "--reason", "Implemented")
    written = [json.loads(line) for line in (repo / ".beads" / "issues.jsonl").read_text().splitlines()]

    done = bd.run("import", str(repo / ".beads" / "issues.jsonl"), "--json")
    result = json.loads(done.stdout)
    assert (result["created"], result["skipped"], result.get("skipped_dependencies")) == (3, 0, None)
    noise = [line for line in done.stderr.splitlines() if "beads.role" not in line
             and not line.strip().startswith(("Fix:", "Or:"))]
    assert noise == [], done.stderr
    exported = bd.export()
    assert normalised(exported) == normalised(written)

    # bd's export, with a field this project does not model, read and written back
    exported[0]["spec_id"] = "SPEC-7"
    exported[0]["future_field"] = {"kept": True}
    path = tmp_path / "from-bd" / ".beads" / "issues.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in exported))
    store = JsonlStore(path)
    assert set(store.all()) == {r["id"] for r in exported}
    store.update([exported[0]["id"]], TaskChanges(notes="touched"), actor="planner")
    back = [json.loads(line) for line in path.read_text().splitlines()]
    for before, after in zip(exported, back, strict=True):
        assert set(before) <= set(after), (before["id"], set(before) - set(after))
        assert {k: v for k, v in after.items() if k not in ("notes", "updated_at")} == \
            {k: v for k, v in before.items() if k not in ("notes", "updated_at")}
