"""Status counts add up: every task is in exactly one column of `status` (the table and --json)
and of logs/status.md, escalated tasks included."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.cli import main
from orchestrator.forge.status import render_status, status_columns
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import task_from_record
from support.repo import task_record, write_queue

STATUSES = ["open", "open", "in_progress", "blocked", "deferred", "closed", "pinned", "hooked",
            "in_review"]  # the last: a custom status bd may be configured with


@st.composite
def queues(draw: Any) -> list[dict[str, Any]]:
    ids = [f"q-{i}" for i in range(draw(st.integers(0, 12)))]
    records = []
    for tid in ids:
        blockers = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True)) if ids else []
        labels = draw(st.lists(st.sampled_from(["needs-human", "phase:one", "x"]), max_size=2, unique=True))
        records.append(task_record(tid, status=draw(st.sampled_from(STATUSES)),
                                   blocks_on=[b for b in blockers if b != tid], labels=labels))
    return records


def table_counts(markdown: str) -> tuple[int, list[int]]:
    header = markdown.splitlines()[4]  # "## title", "", headings, ruler, counts
    total, *columns = (int(x) for x in re.findall(r"\d+", header))
    return total, columns


@settings(max_examples=80, deadline=None)
@given(queues())
def test_the_columns_sum_to_the_total_for_any_queue(records: list[dict[str, Any]]) -> None:
    tasks = {r["id"]: task_from_record(r) for r in records}
    counts = status_columns(tasks)
    assert sum(counts.values()) == len(tasks)
    total, columns = table_counts(render_status(tasks))
    assert total == len(tasks) == sum(columns)


def cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--repo", str(repo), "--store", "jsonl", *args])
    return code, capsys.readouterr().out


def test_an_escalated_task_is_counted_in_the_table_json_and_status_md(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # what an escalation leaves: status blocked, the escalation label
    write_queue(tmp_path, [task_record(f"t-{i}", status="closed") for i in range(5)]
                + [task_record("t-9", status="blocked", labels=["needs-human"])])
    code, out = cli(tmp_path, capsys, "status")
    head, values = out.splitlines()[:2]
    row = dict(zip(head.replace("IN PROGRESS", "IN_PROGRESS").split(), map(int, values.split()), strict=True))
    assert code == 0 and row["TOTAL"] == 6 and row["ESCALATED"] == 1 and row["CLOSED"] == 5
    assert sum(v for k, v in row.items() if k != "TOTAL") == 6
    code, out = cli(tmp_path, capsys, "status", "--json")
    got = json.loads(out)
    assert got["columns"]["escalated"] == 1 and sum(got["columns"].values()) == 6
    total, columns = table_counts(render_status(JsonlStore(tmp_path / ".beads" / "issues.jsonl").all()))
    assert total == 6 == sum(columns)


def test_status_says_when_the_kill_switch_is_engaged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_queue(tmp_path, [task_record("t-1")])
    assert "Stopped" not in cli(tmp_path, capsys, "status")[1]
    (tmp_path / ".beads" / "STOP").touch()
    out = cli(tmp_path, capsys, "status")[1]
    assert "Stopped: " in out and ".beads/STOP exists" in out
    assert json.loads(cli(tmp_path, capsys, "status", "--json")[1])["stopped"] is True
