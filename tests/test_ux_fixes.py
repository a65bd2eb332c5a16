"""A newcomer's first try: the rough edges found, each pinned by a test through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import task_record, write_queue
from orchestrator.cli import main
from orchestrator.dispatch.history import MARKER, AttemptRecord, render


def cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_hides_the_attempt_marker_but_json_and_store_keep_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_queue(tmp_path, [task_record("t-1")])
    text = render(AttemptRecord(attempt=1, kind="error", decision="retry", digest="It crashed."))
    assert cli(tmp_path, capsys, "task", "comment", "t-1", text)[0] == 0
    code, out, _ = cli(tmp_path, capsys, "show", "t-1")
    assert code == 0
    assert "orchestrator: attempt 1 ended: error; next: retry." in out
    assert "It crashed." in out
    assert MARKER.strip() not in out and "-->" not in out
    code, out, _ = cli(tmp_path, capsys, "show", "t-1", "--json")
    assert MARKER in json.loads(out)[0]["comments"][0]["text"]
    stored = json.loads((tmp_path / ".beads" / "issues.jsonl").read_text())
    assert MARKER in stored["comments"][0]["text"]
