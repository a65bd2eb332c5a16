"""The local forge: the status file is replaced whole, alerts are loud."""
from __future__ import annotations

import io
from pathlib import Path

from orchestrator.forge.local import LocalForge


def test_status_file_is_replaced_atomically_and_alerts_are_loud(tmp_path: Path) -> None:
    out = io.StringIO()
    status = tmp_path / "logs" / "status.md"
    forge = LocalForge(status, out=out)
    forge.report_status("## one\n")
    forge.report_status("## two\n")
    assert status.read_text() == "## two\n"
    assert [p.name for p in status.parent.iterdir()] == ["status.md"]  # no temp files left
    forge.event("claim t-1")
    forge.alert("t-1", "t-1 needs a human: boom.\nLogs: logs/run/x")
    lines = out.getvalue().splitlines()
    assert lines[0] == "claim t-1"
    assert lines[1] == "!" * 72 and lines[-1] == "!" * 72
    assert "!! HUMAN NEEDED: t-1" in lines and "!! Logs: logs/run/x" in lines
    assert forge.alerts == ["t-1"]


def test_no_status_file_and_a_custom_echo(tmp_path: Path) -> None:
    seen: list[str] = []
    forge = LocalForge(None, echo=seen.append)
    forge.report_status("ignored")
    forge.event("x")
    assert seen == ["x"] and not list(tmp_path.iterdir())
