"""`orchestrator merge-driver`: direct calls, and a real `git merge` of two branches that both
changed .beads/issues.jsonl."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.repo import git, task_record

T1, T2 = "2026-05-29T11:00:00Z", "2026-05-29T12:00:00Z"
DRIVER = f"{shlex.quote(sys.executable)} -m orchestrator.cli merge-driver %O %A %B %P"


def jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def run_driver(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "merge-driver", *map(str, args)],
                          capture_output=True, text=True)


def three(tmp_path: Path, base: str, ours: str, theirs: str) -> tuple[Path, Path, Path]:
    paths = []
    for name, text in (("O", base), ("A", ours), ("B", theirs)):
        p = tmp_path / name
        p.write_text(text)
        paths.append(p)
    return paths[0], paths[1], paths[2]


def test_clean_merge_writes_ours_and_exits_0(tmp_path: Path) -> None:
    base = jsonl(task_record("x-1"))
    o, a, b = three(tmp_path, base, jsonl(task_record("x-1", title="new", updated_at=T1)),
                    jsonl(task_record("x-1", labels=["l"], updated_at=T2)))
    a.chmod(0o640)
    done = run_driver(o, a, b, ".beads/issues.jsonl")
    assert done.returncode == 0, done.stderr
    (rec,) = map(json.loads, a.read_text().splitlines())
    assert rec["title"] == "new" and rec["labels"] == ["l"]
    assert a.stat().st_mode & 0o777 == 0o640
    assert list(tmp_path.iterdir()).__len__() == 3  # no temp file left


def test_both_changed_is_reported_on_stderr(tmp_path: Path) -> None:
    o, a, b = three(tmp_path, jsonl(task_record("x-1")),
                    jsonl(task_record("x-1", title="ours", updated_at=T1)),
                    jsonl(task_record("x-1", title="theirs", updated_at=T2)))
    done = run_driver(o, a, b, ".beads/issues.jsonl")
    assert done.returncode == 0
    assert "x-1.title: kept theirs (later updated_at 2026-05-29T12:00:00Z)" in done.stderr


def test_conflict_exits_1(tmp_path: Path) -> None:
    o, a, b = three(tmp_path, "", jsonl(task_record("x-1", title="A")), jsonl(task_record("x-1", title="B")))
    done = run_driver(o, a, b)
    assert done.returncode == 1
    assert "CONFLICT x-1: created on both sides" in done.stderr
    assert a.read_text().startswith("<<<<<<< ")


@pytest.mark.parametrize(("side", "bad", "where"), [
    ("O", '{"id":"x-1"\n', "(base):1: malformed JSON"),
    ("A", jsonl(task_record("x-1")) + "not json\n", "(ours):2: malformed JSON"),
    ("B", jsonl(task_record("x-1"), task_record("x-1")), "(theirs):2: duplicate task ID x-1"),
    ("B", jsonl(task_record("x-1", blocks_on=["x-9"])), "(theirs):1: task x-1 depends on missing task x-9"),
])
def test_corrupt_input_is_one_line_and_leaves_ours(tmp_path: Path, side: str, bad: str, where: str) -> None:
    good = jsonl(task_record("x-1"))
    texts = {"O": good, "A": good, "B": good, side: bad}
    o, a, b = three(tmp_path, texts["O"], texts["A"], texts["B"])
    before = a.read_bytes()
    done = run_driver(o, a, b, ".beads/issues.jsonl")
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("orchestrator: merge-driver: .beads/issues.jsonl ")
    assert where in line
    assert a.read_bytes() == before


def test_not_utf8_names_line(tmp_path: Path) -> None:
    o, a, b = three(tmp_path, "", "", "")
    b.write_bytes(jsonl(task_record("x-1")).encode() + b'{"id":"\xff"}\n')
    done = run_driver(o, a, b)
    assert done.returncode == 2 and f"theirs {b}:2: not UTF-8" in done.stderr


def _repo_with_driver(repo: Path) -> None:
    (repo / ".gitattributes").write_text(".beads/issues.jsonl merge=orchestrator-jsonl\n")
    git(repo, "config", "merge.orchestrator-jsonl.driver", DRIVER)
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-q", "-m", "merge driver")


def _commit_queue(repo: Path, *records: dict[str, Any], message: str) -> None:
    path = repo / ".beads" / "issues.jsonl"
    path.parent.mkdir(exist_ok=True)
    path.write_text(jsonl(*records))
    git(repo, "add", ".beads/issues.jsonl")
    git(repo, "commit", "-q", "-m", message)


def test_real_git_merge_of_diverged_queues(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    _repo_with_driver(repo)
    _commit_queue(repo, task_record("x-1"), task_record("x-2"), task_record("x-3"), message="queue")
    git(repo, "checkout", "-q", "-b", "agent")
    _commit_queue(repo, task_record("x-1", status="closed", closed_at=T1, close_reason="done", updated_at=T1),
                  task_record("x-2"), task_record("x-3", labels=["agent"], updated_at=T1),
                  task_record("x-4", title="found while working"), message="agent closes x-1")
    git(repo, "checkout", "-q", "main")
    _commit_queue(repo, task_record("x-1", title="retitled", updated_at=T2),
                  task_record("x-2", priority=0, updated_at=T2),
                  task_record("x-3", labels=["human"], updated_at=T2), message="human edits")
    done = subprocess.run(["git", "merge", "--no-edit", "agent"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    got = {r["id"]: r for r in map(json.loads, (repo / ".beads/issues.jsonl").read_text().splitlines())}
    assert got["x-1"]["status"] == "closed" and got["x-1"]["title"] == "retitled"
    assert got["x-2"]["priority"] == 0 and got["x-3"]["labels"] == ["human", "agent"]
    assert "x-4" in got
    assert git(repo, "status", "--porcelain") == ""


def test_real_git_merge_with_true_conflict_stops(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    _repo_with_driver(repo)
    _commit_queue(repo, task_record("x-1"), message="queue")
    git(repo, "checkout", "-q", "-b", "other")
    _commit_queue(repo, task_record("x-1"), task_record("x-9", title="B"), message="B")
    git(repo, "checkout", "-q", "main")
    _commit_queue(repo, task_record("x-1"), task_record("x-9", title="A"), message="A")
    done = subprocess.run(["git", "merge", "--no-edit", "other"], cwd=repo, capture_output=True, text=True)
    assert done.returncode != 0
    assert "CONFLICT x-9: created on both sides" in done.stderr + done.stdout
    assert "UU .beads/issues.jsonl" in git(repo, "status", "--porcelain")
