"""The queue commands on the embedded store: bd's flags in, bd's shapes out, state on disk."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import main
from support.repo import FIXTURES, task_record, write_queue


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".beads").mkdir()
    shutil.copy(FIXTURES / "bd" / "issues.jsonl", tmp_path / ".beads" / "issues.jsonl")
    return tmp_path


def run(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo), "--store", "jsonl", *args])
    out, err = capsys.readouterr()
    return code, out, err


def on_disk(repo: Path) -> dict[str, dict[str, Any]]:
    text = (repo / ".beads" / "issues.jsonl").read_text()
    return {r["id"]: r for r in map(json.loads, text.splitlines())}


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / "bd" / name).read_text())


def test_ready_json_is_bds_ready_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "ready", "--json")
    assert code == 0
    assert json.loads(out) == recorded("ready.json")  # every field, counts and parent included


def test_ready_table_and_empty(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "ready")
    assert code == 0
    assert out.splitlines() == [
        "ID          P   TYPE  STATUS  TITLE",
        "shop-m2d    P1  epic  open    Checkout v2",
        "shop-m2d.2  P2  task  open    Wire checkout page to totals endpoint",
    ]
    assert run(repo, capsys, "ready", "--exclude-type", "epic", "--json")[1].count('"id"') == 1
    assert json.loads(run(repo, capsys, "ready", "-n", "1", "--json")[1])[0]["id"] == "shop-m2d"
    assert run(repo, capsys, "ready", "-t", "bug")[1] == "Nothing is ready.\n"
    assert json.loads(run(repo, capsys, "ready", "--parent", "shop-m2d", "--json")[1])[0]["id"] == "shop-m2d.2"
    assert json.loads(run(repo, capsys, "ready", "-l", "frontend,checkout", "--json")[1])[0]["id"] == "shop-m2d.2"
    assert json.loads(run(repo, capsys, "ready", "-p", "P1", "--json")[1])[0]["id"] == "shop-m2d"
    code, _, err = run(repo, capsys, "ready", "--limit", "-1")
    assert (code, err) == (2, "orchestrator: --limit must be 0 (all) or more\n")


def test_status_json_has_bds_stats_shape(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "status", "--json")
    got, expected = json.loads(out), recorded("stats.json")
    assert code == 0 and sorted(got["summary"]) == list(expected["summary"])
    got["summary"]["average_lead_time_hours"] = 0  # computed here; Dolt-era bd reports 0
    assert got["summary"] == expected["summary"] and got["schema_version"] == expected["schema_version"]
    # ours besides bd's: one count per status column (they add up), and the kill switch
    assert sum(got["columns"].values()) == got["summary"]["total_issues"] and got["stopped"] is False
    code, out, _ = run(repo, capsys, "status")
    # the section that lists what blocks a task is named after the column that counts it
    assert "\nWaiting on other tasks:\nID        BLOCKED BY  TITLE\nshop-t7w  shop-4kx    Deploy checkout v2 to staging" in out
    assert "Blocked:" not in out


def test_show_json_is_bds_show_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "show", "shop-m2d.2", "--json")
    assert code == 0 and json.loads(out) == recorded("show.json")
    code, out, _ = run(repo, capsys, "task", "show", "shop-m2d", "--json")
    (epic,) = json.loads(out)
    assert [d["id"] for d in epic["dependents"]] == ["shop-m2d.1", "shop-m2d.2"]
    assert (epic["epic_total_children"], epic["epic_closed_children"], epic["epic_closeable"]) == (2, 1, False)
    code, _, err = run(repo, capsys, "show", "shop-nope")
    assert code == 2 and err.startswith("orchestrator: no task shop-nope in ")


def test_task_close_json_and_refusal(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(repo, capsys, "task", "close", "shop-t7w", "--reason", "x")
    assert (code, out, err) == (1, "", "cannot close shop-t7w: blocked by open issues [shop-4kx]\n")
    code, out, _ = run(repo, capsys, "task", "close", "shop-m2d.2", "-r", "Done in PR #415", "--json")
    (closed,) = json.loads(out)
    assert code == 0 and closed["status"] == "closed" and closed["close_reason"] == "Done in PR #415"
    assert "dependencies" not in closed and "comment_count" not in closed  # types.Issue
    assert on_disk(repo)["shop-m2d.2"]["status"] == "closed"
    assert run(repo, capsys, "task", "close", "shop-t7w", "--force")[0] == 0


def test_task_update_and_claim(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "--actor", "agent-ada", "task", "update", "shop-m2d.2",
                       "--claim", "--json")
    (task,) = json.loads(out)
    assert code == 0 and (task["status"], task["assignee"]) == ("in_progress", "agent-ada")
    code, out, err = run(repo, capsys, "--actor", "agent-lin", "task", "update", "shop-m2d.2", "--claim")
    assert (code, out, err) == (1, "", "orchestrator: issue already claimed by agent-ada\n")
    code, _, _ = run(repo, capsys, "task", "update", "shop-t7w", "-s", "hooked", "-a", "agent-lin",
                     "--add-label", "x,y", "--append-notes", "more", "-p", "0")
    rec = on_disk(repo)["shop-t7w"]
    assert (rec["status"], rec["assignee"], rec["labels"], rec["notes"], rec["priority"]) == (
        "hooked", "agent-lin", ["deploy", "x", "y"], "more", 0)


def test_task_create_json_shape(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "--actor", "orchestrator", "task", "create",
                       "Fix flaky checkout e2e test", "-t", "bug", "-p", "1", "--parent", "shop-m2d",
                       "-l", "ci,flaky", "-d", "checkout.spec.ts fails", "--json")
    got = json.loads(out)
    expected = recorded("create.json")
    assert code == 0 and list(got) == sorted(got)  # bd's object outputs have sorted keys
    for key in ("id", "issue_type", "labels", "priority", "status", "title", "created_by",
                "schema_version"):
        assert got[key] == expected[key], key
    assert set(got) == set(expected) - {"owner"}  # owner is git user.email in bd; not set here
    code, out, _ = run(repo, capsys, "task", "create", "--title", "quick", "--silent")
    assert code == 0 and out.strip() in on_disk(repo)
    code, _, err = run(repo, capsys, "task", "create")
    assert code == 2 and "title is required" in err


def test_task_dep_and_comment_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(repo, capsys, "task", "dep", "add", "shop-m2d.2", "shop-4kx", "--json")
    assert code == 0
    assert json.loads(out) == {"depends_on_id": "shop-4kx", "issue_id": "shop-m2d.2",
                               "schema_version": 1, "status": "added", "type": "blocks"}
    assert json.loads(out) == {**recorded("dep_add.json"), "issue_id": "shop-m2d.2"}
    code, out, _ = run(repo, capsys, "task", "dep", "add", "shop-t7w", "--blocked-by", "shop-m2d.2")
    assert code == 0 and "shop-m2d.2" in [d["depends_on_id"] for d in on_disk(repo)["shop-t7w"]["dependencies"]]
    code, out, _ = run(repo, capsys, "task", "dep", "rm", "shop-m2d.2", "shop-4kx", "--json")
    assert json.loads(out)["status"] == "removed"
    code, out, err = run(repo, capsys, "task", "dep", "add", "shop-t7w", "shop-m2d")
    assert code == 2 and "tasks can only block other tasks" in err
    code, out, _ = run(repo, capsys, "--actor", "orchestrator", "task", "comment", "shop-t7w",
                       "deploy", "blocked", "--json")
    got = json.loads(out)
    assert sorted(got) == sorted(recorded("comments_add.json"))
    assert (got["text"], got["author"], got["issue_id"]) == ("deploy blocked", "orchestrator", "shop-t7w")
    assert on_disk(repo)["shop-t7w"]["comments"][0]["id"] == got["id"]


def test_bad_flags_are_one_line_exit_2(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(repo, capsys, "task", "update", "shop-t7w", "-p", "7")
    assert code == 2 and err.count("\n") == 1 and "invalid priority '7'" in err
    code, _, err = run(repo, capsys, "ready", "--sort", "random")
    assert code == 2 and err.count("\n") == 1


def test_auto_store_without_bd_uses_the_jsonl_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    write_queue(tmp_path, [task_record("x-1")])
    assert main(["--repo", str(tmp_path), "ready", "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == ["x-1"]
