"""BdStore against a stand-in `bd` on PATH that answers from the recorded fixtures and records
its argv: every command line we send is asserted, and so is every error mapping."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import BdConfig, Config
from orchestrator.errors import ClaimRefused, UserError
from orchestrator.tasks.bd import BdStore
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.store import NewTask, TaskChanges
from support.repo import FIXTURES, BdStub

A = ["bd", "--actor"]


@pytest.fixture
def store(bd_stub: BdStub, tmp_path: Path) -> BdStore:
    repo = tmp_path / "repo"
    repo.mkdir()
    return BdStore(repo, BdConfig())


def recorded(name: str):
    return json.loads((FIXTURES / "bd" / name).read_text())


def test_ready_sends_explicit_limit_sort_and_parses_array(store: BdStore, bd_stub: BdStub) -> None:
    tasks = store.ready()
    assert bd_stub.calls() == [["--actor", "orchestrator", "ready", "--json", "--limit", "0",
                                "--sort", "priority"]]
    assert [t.id for t in tasks] == [t["id"] for t in recorded("ready.json")]
    child = tasks[1]
    assert child.parent == "shop-m2d"
    assert [(d.depends_on_id, d.type) for d in child.dependencies] == [
        ("shop-m2d", "parent-child"), ("shop-m2d.1", "blocks")]
    assert child.metadata == {"files": ["web/src/checkout/Totals.tsx"]}


def test_ready_filters_become_bd_flags(store: BdStore, bd_stub: BdStub) -> None:
    flt = ReadyFilter(exclude_types=frozenset({"epic", "chore"}), assignee="ada", unassigned=True,
                      labels=("api", "web"), labels_any=("x", "y"), priority=1, parent="shop-m2d",
                      include_deferred=True, include_ephemeral=True)
    store.ready(flt, sort="oldest", limit=5)
    store.ready(ReadyFilter(only_type="bug"), sort="hybrid", limit=1)
    assert bd_stub.calls() == [
        ["--actor", "orchestrator", "ready", "--json", "--limit", "5", "--sort", "oldest",
         "--exclude-type", "chore,epic", "--assignee", "ada", "--unassigned", "--label", "api",
         "--label", "web", "--label-any", "x,y", "--priority", "1", "--parent", "shop-m2d",
         "--include-deferred", "--include-ephemeral"],
        ["--actor", "orchestrator", "ready", "--json", "--limit", "1", "--sort", "hybrid",
         "--type", "bug"],
    ]


def test_all_lists_everything_flat_unlimited(store: BdStore, bd_stub: BdStub) -> None:
    tasks = store.all()
    # list.json's one task is in progress with comment_count 0: no comment fetch needed
    assert bd_stub.calls() == [["--actor", "orchestrator", "list", "--all", "--json", "--flat",
                                "--limit", "0"]]
    assert list(tasks) == ["shop-4kx"]
    assert tasks["shop-4kx"].status == "in_progress"


def test_all_fetches_comments_of_unfinished_tasks_in_one_show(store: BdStore, bd_stub: BdStub) -> None:
    items = recorded("list.json")
    items[0]["comment_count"] = 2
    closed = {**items[0], "id": "shop-old", "status": "closed", "comment_count": 4}
    bd_stub.answer("list", stdout=json.dumps([items[0], closed]))
    show = [{"id": "shop-4kx", "title": "t", "status": "in_progress", "priority": 0,
             "created_at": "2026-05-29T10:12:44Z", "updated_at": "2026-05-29T10:12:44Z",
             "comments": [{"id": "c1", "issue_id": "shop-4kx", "author": "orchestrator",
                           "text": "attempt 1", "created_at": "2026-05-29T10:30:00Z"}]}]
    bd_stub.answer("show", stdout=json.dumps(show))
    tasks = store.all()
    assert bd_stub.calls()[1] == ["--actor", "orchestrator", "show", "shop-4kx", "--json",
                                  "--include-comments"]
    assert [c.text for c in tasks["shop-4kx"].comments] == ["attempt 1"]
    assert tasks["shop-old"].comments == ()  # closed: count kept, comments not fetched
    assert tasks["shop-old"].raw["comment_count"] == 4


def test_list_filters(store: BdStore, bd_stub: BdStub) -> None:
    store.list(statuses=("open", "in_progress"), assignee="agent-lin", labels=("api", "web"),
               issue_type="bug", parent="shop-m2d")
    store.list(statuses=("all",))
    store.list()
    assert bd_stub.calls() == [
        ["--actor", "orchestrator", "list", "--json", "--flat", "--limit", "0", "--status",
         "open,in_progress", "--assignee", "agent-lin", "--label", "api", "--label", "web",
         "--type", "bug", "--parent", "shop-m2d"],
        ["--actor", "orchestrator", "list", "--json", "--flat", "--limit", "0", "--all"],
        ["--actor", "orchestrator", "list", "--json", "--flat", "--limit", "0"],
    ]


def test_show_turns_full_issue_dependencies_into_records(store: BdStore, bd_stub: BdStub) -> None:
    (task,) = store.show(["shop-m2d.2"])
    assert bd_stub.calls() == [["--actor", "orchestrator", "show", "shop-m2d.2", "--json",
                                "--include-comments"]]
    assert [(d.issue_id, d.depends_on_id, d.type) for d in task.dependencies] == [
        ("shop-m2d.2", "shop-m2d", "parent-child"), ("shop-m2d.2", "shop-m2d.1", "blocks")]
    assert task.parent == "shop-m2d"
    assert task.raw["dependency_count"] == 2


def test_show_unknown_ids(store: BdStore, bd_stub: BdStub) -> None:
    with pytest.raises(UserError, match="no task shop-nope in bd"):
        store.show(["shop-m2d.2", "shop-nope"])
    with pytest.raises(UserError) as e:
        store.show(["shop-nope"])  # none found: bd's error object on stdout, exit 1
    assert str(e.value) == ("bd show failed (exit 1): no issues found matching the provided IDs")


def test_envelope_and_object_shapes_are_tolerated(store: BdStore, bd_stub: BdStub,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BD_JSON_ENVELOPE", "1")
    assert [t.id for t in store.ready()] == ["shop-m2d", "shop-m2d.2"]
    assert store.create(NewTask("Fix flaky checkout e2e test"), actor="a").id == "shop-m2d.3"
    assert store.comment("shop-m2d.2", "hi", author="a").id.startswith("019e73d1")
    monkeypatch.delenv("BD_JSON_ENVELOPE")
    # docs/JSON_SCHEMA.md says show returns an object; some builds do
    one = recorded("show.json")[0]
    bd_stub.answer("show", stdout=json.dumps({**one, "schema_version": 1}))
    (task,) = store.show(["shop-m2d.2"])
    assert task.id == "shop-m2d.2" and "schema_version" not in task.raw
    # bd list --skip-labels
    bd_stub.answer("list", stdout=json.dumps({"issues": recorded("list.json"),
                                              "meta": {"count": 1}, "schema_version": 1}))
    assert [t.id for t in store.list()] == ["shop-4kx"]


def test_create_flags(store: BdStore, bd_stub: BdStub) -> None:
    new = NewTask(title="-Fix flaky checkout e2e test", issue_type="bug", priority=1,
                  description="d", design="g", acceptance_criteria="ac", notes="n",
                  assignee="ada", labels=("ci", "flaky"), parent="shop-m2d",
                  deps=("blocks:shop-t7w", "discovered-from:shop-4kx"), id=None)
    task = store.create(new, actor="agent-ada")
    assert bd_stub.calls() == [[
        "--actor", "agent-ada", "create", "--title", "-Fix flaky checkout e2e test", "--json",
        "--type", "bug", "--priority", "1", "--description", "d", "--design", "g",
        "--acceptance", "ac", "--notes", "n", "--assignee", "ada", "--parent", "shop-m2d",
        "--labels", "ci,flaky", "--deps", "blocks:shop-t7w,discovered-from:shop-4kx"]]
    assert task.id == "shop-m2d.3" and task.labels == ("ci", "flaky", "checkout")
    assert "schema_version" not in task.raw


def test_update_flags(store: BdStore, bd_stub: BdStub) -> None:
    changes = TaskChanges(status="in_progress", title="T", description="D", design="G",
                          acceptance_criteria="AC", notes="N", append_notes="AN", assignee="",
                          priority=0, issue_type="bug", add_labels=("a", "b"),
                          remove_labels=("c",), set_labels=("x", "y"))
    (task,) = store.update(["shop-m2d.2"], changes, actor="agent-ada")
    assert bd_stub.calls() == [[
        "--actor", "agent-ada", "update", "shop-m2d.2", "--json", "--status", "in_progress",
        "--title", "T", "--description", "D", "--design", "G", "--acceptance", "AC",
        "--notes", "N", "--append-notes", "AN", "--assignee", "", "--type", "bug",
        "--priority", "0", "--add-label", "a", "--add-label", "b", "--remove-label", "c",
        "--set-labels", "x,y"]]
    assert task.status == "in_progress"


def test_claim_success_and_refusals(store: BdStore, bd_stub: BdStub) -> None:
    task = store.claim("shop-m2d.2", actor="agent-ada")
    assert bd_stub.calls() == [["--actor", "agent-ada", "update", "shop-m2d.2", "--claim", "--json"]]
    assert (task.status, task.assignee) == ("in_progress", "agent-ada")
    bd_stub.answer("update", stderr="Error: issue already claimed by agent-lin\n", rc=1)
    with pytest.raises(ClaimRefused) as e:
        store.claim("shop-m2d.2", actor="agent-ada")
    assert e.value.exit_code == 1
    assert str(e.value) == "bd update: Error: issue already claimed by agent-lin"
    bd_stub.answer("update", stderr='{"error":"issue not claimable: status closed","schema_version":1}\n')
    with pytest.raises(ClaimRefused, match="not claimable: status closed"):
        store.claim("shop-m2d.1", actor="agent-ada")


def test_close_passes_reason_per_id_and_force(store: BdStore, bd_stub: BdStub) -> None:
    result = store.close(["shop-m2d.2"], reason="Done in PR #415", actor="agent-ada")
    store.close(["a-1", "a-2"], reason="dup", force=True, actor="x")
    assert bd_stub.calls() == [
        ["--actor", "agent-ada", "close", "shop-m2d.2", "--json", "--reason", "Done in PR #415"],
        ["--actor", "x", "close", "a-1", "a-2", "--json", "--reason", "dup", "--reason", "dup",
         "--force"],
    ]
    assert [(t.id, t.status, t.close_reason) for t in result.closed] == [
        ("shop-m2d.2", "closed", "Done in PR #415")]
    assert result.refused == ()


def test_close_refused_by_guard_is_a_result_not_a_crash(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("close", stderr="cannot close shop-t7w: blocked by open issues [shop-4kx]\n", rc=1)
    result = store.close(["shop-t7w"], reason="x", actor="a")
    assert result.closed == ()
    assert result.refused == ("cannot close shop-t7w: blocked by open issues [shop-4kx]",)


def test_dep_and_comment_command_lines(store: BdStore, bd_stub: BdStub) -> None:
    store.dep_add("shop-t7w", "shop-4kx", actor="a")
    store.dep_add("shop-t7w", "shop-m2d", dep_type="related", actor="a")
    store.dep_remove("shop-t7w", "shop-4kx", actor="a")
    c = store.comment("shop-m2d.2", "--looks like a flag", author="orchestrator")
    assert bd_stub.calls() == [
        ["--actor", "a", "dep", "add", "shop-t7w", "shop-4kx", "--type", "blocks", "--json"],
        ["--actor", "a", "dep", "add", "shop-t7w", "shop-m2d", "--type", "related", "--json"],
        ["--actor", "a", "dep", "remove", "shop-t7w", "shop-4kx", "--json"],
        ["--actor", "orchestrator", "comments", "add", "--json", "--author", "orchestrator",
         "--", "shop-m2d.2", "--looks like a flag"],
    ]
    assert (c.id, c.issue_id, c.author) == ("019e73d1-2c4a-7f3e-9b1d-5a8e0c2f4b61",
                                            "shop-m2d.2", "orchestrator")
    assert c.created_at == "2026-05-29T12:41:02.118204917Z"


@pytest.mark.parametrize(("bootstrap", "push", "expected"), [
    (True, True, [["bootstrap", "--yes"], ["dolt", "push"]]),
    (False, True, [["dolt", "push"]]),
    (True, False, [["bootstrap", "--yes"]]),
    (False, False, []),
])
def test_sync_hooks_follow_config(bd_stub: BdStub, tmp_path: Path, bootstrap: bool, push: bool,
                                  expected: list[list[str]]) -> None:
    store = BdStore(tmp_path, BdConfig(actor="ci-bot", bootstrap=bootstrap, push=push))
    store.sync_pull()
    store.sync_push()
    assert bd_stub.calls() == [["--actor", "ci-bot", *args] for args in expected]


def test_sync_push_failure_names_the_command(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("dolt_push", stderr="fatal: could not read Username for 'https://github.com'\n", rc=1)
    with pytest.raises(UserError) as e:
        store.sync_push()
    assert str(e.value) == ("bd dolt push failed (exit 1): fatal: could not read Username for "
                            "'https://github.com'")


@pytest.mark.parametrize("where", ["stdout", "stderr"])
def test_database_not_initialized_says_run_bootstrap(store: BdStore, bd_stub: BdStub, where: str) -> None:
    text = ('{"error":"Database not initialized","hint":"run: bd bootstrap","schema_version":1}'
            if where == "stdout" else
            "Error: Database not initialized in /repo/.beads\n  run: bd bootstrap\n")
    bd_stub.answer("ready", **{where: text}, rc=1)
    with pytest.raises(UserError) as e:
        store.ready()
    assert "\n" not in str(e.value)
    assert str(e.value) == ("bd ready: the bd database is not initialized in this clone; run "
                            "`bd bootstrap` (or set bd.bootstrap: true in .orchestrator.yml)")


def test_json_error_object_on_stderr(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("dep_add", stderr='{"error":"tasks can only block other tasks, not epics",'
                                     '"schema_version":1}\n', rc=1)
    with pytest.raises(UserError) as e:
        store.dep_add("shop-t7w", "shop-m2d", actor="a")
    assert str(e.value) == "bd dep add failed (exit 1): tasks can only block other tasks, not epics"


def test_error_object_with_exit_zero_is_still_an_error(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("list", stdout='{"error":"boom","schema_version":1}')
    with pytest.raises(UserError, match=r"^bd list failed \(exit 0\): boom$"):
        store.list()


def test_non_json_stdout_and_invalid_issue(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("ready", stdout="Ready work: 2 issues\n")
    with pytest.raises(UserError, match="bd ready: bd printed something that is not JSON"):
        store.ready()
    bd_stub.answer("list", stdout='[{"id":"x-1","title":"t","priority":9}]')
    with pytest.raises(UserError, match=r"bd list: bd returned an invalid issue: task x-1: unknown priority 9"):
        store.list()


def test_stderr_noise_is_ignored(store: BdStore, bd_stub: BdStub) -> None:
    bd_stub.answer("ready", stdout=(FIXTURES / "bd" / "ready.json").read_text(),
                   stderr="Note: showing 2 of 2 issues\nauto-import: 0 issues\n")
    assert [t.id for t in store.ready()] == ["shop-m2d", "shop-m2d.2"]


def test_bd_missing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    store = BdStore(tmp_path, BdConfig())
    with pytest.raises(UserError) as e:
        store.ready()
    assert str(e.value) == ("bd not found: 'bd' is not on PATH (install bd, set bd.path in "
                            ".orchestrator.yml, or use --store jsonl)")


def test_open_store_auto_picks_bd_only_with_bd_and_a_database(bd_stub: BdStub, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "r"
    (repo / ".beads").mkdir(parents=True)
    assert open_store(repo, Config()).kind == "jsonl"  # bd on PATH, no database
    (repo / ".beads" / "embeddeddolt").mkdir()
    assert open_store(repo, Config()).kind == "bd"
    assert open_store(repo, Config(), "jsonl").kind == "jsonl"
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert open_store(repo, Config()).kind == "jsonl"  # database, but no bd
    with pytest.raises(UserError, match="unknown store 'sqlite'"):
        open_store(repo, Config(), "sqlite")


def test_cli_on_bd_store(bd_stub: BdStub, tmp_path: Path) -> None:
    """The whole CLI through the bd adapter: ready --json keeps bd's own items."""
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                          "--store", "bd", "ready", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == recorded("ready.json")
    claim = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                            "--store", "bd", "--actor", "agent-ada", "task", "update",
                            "shop-m2d.2", "--claim", "--json"], capture_output=True, text=True)
    assert claim.returncode == 0, claim.stderr
    assert bd_stub.calls()[-1] == ["--actor", "agent-ada", "update", "shop-m2d.2", "--claim", "--json"]
    bd_stub.answer("update", stderr="Error: issue already claimed by agent-lin\n", rc=1)
    refused = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                              "--store", "bd", "task", "update", "shop-m2d.2", "--claim"],
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr == "orchestrator: bd update: Error: issue already claimed by agent-lin\n"
