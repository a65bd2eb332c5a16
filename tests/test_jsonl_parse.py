"""What the fast paths of the JSONL parse must not change (see docs/performance.md)."""
from __future__ import annotations

import dataclasses
import gc
import json
from pathlib import Path

import pytest

from orchestrator.errors import UserError
from orchestrator.tasks.jsonl import parse
from orchestrator.tasks.model import Task
from support.repo import FIXTURES, task_record


def line(tid: str, **kw: object) -> bytes:
    return json.dumps(task_record(tid, **kw), separators=(",", ":")).encode()


def test_records_are_built_with_every_field_as_the_constructor_would() -> None:
    path = FIXTURES / "bd" / "issues.jsonl"
    for task in parse(path, path.read_bytes()).tasks.values():
        assert set(vars(task)) == {f.name for f in dataclasses.fields(Task)}
        assert dataclasses.replace(task) == task
        for dep in task.dependencies:
            assert dataclasses.replace(dep) == dep


def test_an_earlier_defect_is_reported_before_a_later_non_utf8_line(tmp_path: Path) -> None:
    data = line("x-1") + b"\n{oops\n" + line("x-3", title="caf\xe9").replace(b"\\u00e9", b"\xe9") + b"\n"
    with pytest.raises(UserError, match=r"issues\.jsonl:2: malformed JSON"):
        parse(tmp_path / "issues.jsonl", data)
    with pytest.raises(UserError, match=r"issues\.jsonl:2: not UTF-8 \(byte 0xe9"):
        parse(tmp_path / "issues.jsonl", line("x-1") + b"\n" + b'{"id":"x-2","title":"caf\xe9"}\n')


def test_blank_lines_are_what_bytes_strip_calls_blank(tmp_path: Path) -> None:
    # \xa0 is whitespace to str.strip() but not to bytes.strip(): still a (malformed) line
    with pytest.raises(UserError, match=r"issues\.jsonl:2: malformed JSON"):
        parse(tmp_path / "issues.jsonl", line("x-1") + "\n\xa0\n".encode())
    assert list(parse(tmp_path / "issues.jsonl", line("x-1") + b"\n \t\r\n\n").tasks) == ["x-1"]


@pytest.mark.parametrize("data", [line("x-1") + b"\n", b"{oops\n"])
def test_the_garbage_collector_is_back_on_after_a_parse(tmp_path: Path, data: bytes) -> None:
    assert gc.isenabled()
    try:
        parse(tmp_path / "issues.jsonl", data)
    except UserError:
        pass
    assert gc.isenabled()


def test_a_cycle_only_across_edge_kinds_is_no_cycle(tmp_path: Path) -> None:
    # the epic waits (blocks) on its own child, the child is in the epic (parent-child): the
    # one-pass check over both kinds sees a loop, neither kind alone has one, so it loads
    data = line("x-e", issue_type="epic", blocks_on=["x-e.1"]) + b"\n" + line("x-e.1", parent="x-e") + b"\n"
    assert list(parse(tmp_path / "issues.jsonl", data).tasks) == ["x-e", "x-e.1"]
