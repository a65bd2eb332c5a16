"""The run command's live progress line (a terminal) and plain lines (not a terminal)."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from orchestrator.commands.run import Progress
from orchestrator.tasks.model import task_from_record
from support.repo import task_record


def _coord() -> SimpleNamespace:
    tasks = {r["id"]: task_from_record(r) for r in (
        task_record("a", status="closed"), task_record("b", status="in_progress"),
        task_record("c", blocks_on=["b"]), task_record("d"))}
    return SimpleNamespace(store=SimpleNamespace(all=lambda: tasks), running={"b": None})


@pytest.mark.parametrize("live", [True, False])
def test_live_line_on_a_terminal_plain_lines_otherwise(live: bool) -> None:
    out = io.StringIO()
    p = Progress(out, live=live)
    p.coord = _coord()
    p.echo("claim b")
    p.tick()
    p.finish()
    text = out.getvalue()
    if live:
        assert text.startswith("\r\033[Kclaim b\n[1/4 done | running: b | blocked: 1 | 0:00]")
        assert text.endswith("\r\033[K")
    else:
        assert text == "claim b\n"
