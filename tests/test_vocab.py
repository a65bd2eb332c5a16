"""bd's statuses, types and dependency types are checked on every write, and cycles of mixed
parent-child/blocks edges (a child blocking its own parent) are refused like other cycles."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.cli import main
from orchestrator.errors import UserError
from orchestrator.tasks import graph
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import Dependency, Task
from orchestrator.tasks.vocab import BUILTIN_STATUSES, BUILTIN_TYPES, load_vocabulary
from support.repo import task_record, write_queue


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_queue(tmp_path, [task_record("x-1"), task_record("x-2"), task_record("x-3", parent="x-1")])
    return tmp_path


def run(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo), "--store", "jsonl", *args])
    out, err = capsys.readouterr()
    return code, out, err


def queue(repo: Path) -> bytes:
    return (repo / ".beads" / "issues.jsonl").read_bytes()


def records(repo: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in map(json.loads, queue(repo).decode().splitlines())}


@pytest.mark.parametrize(("args", "message"), [
    (("task", "update", "x-1", "--status", "done"),
     "invalid status 'done' (valid: open, in_progress, blocked, deferred, closed, pinned, hooked; "
     "custom ones from status.custom in .beads/config.yaml)"),
    (("task", "update", "x-1", "--status", "in-progress"),
     "invalid status 'in-progress'; did you mean in_progress? (valid: open, in_progress,"),
    (("task", "update", "x-1", "-t", "bogus"), "invalid issue type 'bogus' (valid: bug, feature, task,"),
    (("task", "create", "New", "-t", "bogus"), "invalid issue type 'bogus' (valid: bug, feature, task,"),
    (("task", "create", "New", "--deps", "foo:x-1"), "--deps foo:x-1: unknown dependency type 'foo' (valid: "),
    (("task", "dep", "add", "x-2", "x-1", "-t", "foo"),
     "unknown dependency type 'foo' (valid: approved-by, assigned-to, attests, authored-by, blocks,"),
])
def test_values_bd_refuses_are_refused_with_the_valid_ones(
        repo: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    before = queue(repo)
    code, out, err = run(repo, capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"orchestrator: {message}") and err.count("\n") == 1
    assert queue(repo) == before


def test_valid_values_and_aliases_are_written(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(repo, capsys, "task", "update", "x-1", "--status", "in_progress")[0] == 0
    assert run(repo, capsys, "task", "update", "x-2", "-t", "feat")[0] == 0  # bd's alias
    assert run(repo, capsys, "task", "dep", "add", "x-2", "x-1", "-t", "related")[0] == 0
    got = records(repo)
    assert (got["x-1"]["status"], got["x-2"]["issue_type"]) == ("in_progress", "feature")
    assert got["x-2"]["dependencies"][-1]["type"] == "related"


def test_custom_statuses_and_types_come_from_beads_config(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".beads" / "config.yaml").write_text(
        "issue-prefix: x\nstatus.custom: \"in_review:active, qa\"\ntypes:\n  custom: [agent, rig]\n")
    assert run(repo, capsys, "task", "update", "x-1", "--status", "in_review")[0] == 0
    assert run(repo, capsys, "task", "create", "Agent bead", "-t", "agent", "--id", "x-9")[0] == 0
    assert (records(repo)["x-1"]["status"], records(repo)["x-9"]["issue_type"]) == ("in_review", "agent")
    code, _, err = run(repo, capsys, "task", "update", "x-1", "--status", "done")
    assert code == 2 and "(valid: open, in_progress, blocked, deferred, closed, pinned, hooked, " \
                         f"in_review, qa; custom ones from status.custom in {repo / '.beads' / 'config.yaml'})" in err


@pytest.mark.parametrize(("text", "message"), [
    ("status.custom: [1, 2]\n", "status.custom must be a comma-separated string or a list of strings"),
    ("status.custom: \"Bad Name\"\n", "status.custom: 'Bad Name' is not a valid custom status"),
    ("status.custom: open\n", "status.custom: 'open' is not a valid custom status"),
    ("types.custom: [\"a b\"]\n", "types.custom: 'a b' is not a valid type name"),
    ("types: [[[\n", ":2: invalid YAML"),
])
def test_a_bad_beads_config_is_a_one_line_error(repo: Path, text: str, message: str) -> None:
    (repo / ".beads" / "config.yaml").write_text(text)
    with pytest.raises(UserError, match=message.replace("[", r"\[")):
        load_vocabulary(repo / ".beads")


def test_help_lists_the_valid_values(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps long lines at hyphens
    for args, values in ((("task", "update", "--help"), BUILTIN_STATUSES + BUILTIN_TYPES),
                         (("task", "create", "--help"), BUILTIN_TYPES),
                         (("task", "dep", "--help"), ("blocks", "parent-child", "waits-for", "related"))):
        with pytest.raises(SystemExit):
            main(list(args))
        text = " ".join(capsys.readouterr().out.split())
        for value in values:
            assert value in text, (args, value)


# -- cycles of mixed edges ------------------------------------------------------------------------

def test_a_child_cannot_block_its_own_parent_at_create(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = queue(repo)
    code, _, err = run(repo, capsys, "task", "create", "Child", "--parent", "x-1", "--deps", "blocks:x-1")
    assert code == 2
    assert err == ("orchestrator: adding dependency x-1 -> x-1.1 would create a cycle: x-1 waits on "
                   "x-1.1 (blocks), x-1.1 is a child of x-1\n")
    assert queue(repo) == before


@pytest.mark.parametrize(("records_", "args", "cycle"), [
    # a parent waiting on its child
    ([task_record("x-1"), task_record("x-1.1", parent="x-1")], ("x-1", "x-1.1", "blocks"),
     "x-1 waits on x-1.1 (blocks), x-1.1 is a child of x-1"),
    # ... or on a grandchild, with conditional-blocks
    ([task_record("x-1"), task_record("x-1.1", parent="x-1"), task_record("x-1.1.1", parent="x-1.1")],
     ("x-1", "x-1.1.1", "conditional-blocks"),
     "x-1 waits on x-1.1.1 (conditional-blocks), x-1.1.1 is a child of x-1.1, x-1.1 is a child of x-1"),
    # making the task that waits on x-1 its parent
    ([task_record("x-1"), task_record("x-2", blocks_on=["x-1"]), task_record("x-3")],
     ("x-1", "x-2", "parent-child"), "x-1 is a child of x-2, x-2 waits on x-1 (blocks)"),
])
def test_dep_add_refuses_mixed_cycles(tmp_path: Path, records_: list[dict[str, Any]],
                                      args: tuple[str, str, str], cycle: str) -> None:
    path = write_queue(tmp_path, records_)
    before = path.read_bytes()
    issue, target, kind = args
    with pytest.raises(UserError, match="would create a cycle: " + cycle.replace("(", r"\(").replace(")", r"\)")):
        JsonlStore(path).dep_add(issue, target, dep_type=kind, actor="a")
    assert path.read_bytes() == before


def _task(tid: str, *deps: tuple[str, str]) -> Task:
    return Task(id=tid, title=tid, dependencies=tuple(Dependency(tid, t, kind) for kind, t in deps))


def test_deadlock_cycles_names_one_cycle_per_group() -> None:
    tasks = {t.id: t for t in (
        _task("a", ("blocks", "b")), _task("b", ("parent-child", "a")),          # mixed
        _task("c", ("blocks", "d")), _task("d", ("blocks", "c")),                # blocking
        _task("e", ("parent-child", "f")), _task("f", ("parent-child", "e")),    # hierarchy
        _task("g", ("blocks", "h")), _task("h", ("parent-child", "i")), _task("i"),  # sound
        _task("j", ("related", "k")), _task("k", ("related", "j")),              # not blocking
    )}
    assert graph.deadlock_cycles(tasks) == [
        (["a", "b"], "a waits on b (blocks), b is a child of a"),
        (["c", "d"], "c waits on d (blocks), d waits on c (blocks)"),
        (["e", "f"], "e is a child of f, f is a child of e"),
    ]
    assert graph.cycle_path(tasks, "i", "g", "blocks") == "i waits on g (blocks), g waits on h (blocks), h is a child of i"
    assert graph.cycle_path(tasks, "i", "g", "related") is None
