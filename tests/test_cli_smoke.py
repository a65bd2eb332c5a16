from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from support.repo import FIXTURES


def run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(repo), *args],
                          capture_output=True, text=True)


def test_ready_json_matches_bd_fixture(tmp_path: Path) -> None:
    """`ready --json` on the recorded export gives bd's own ready.json IDs in bd's order.

    Issue 2's "done when": the same IDs in the same order as the recorded ready.json. Nothing
    differs by design for this fixture: it has no defer_until, so the real clock cannot change
    the answer, and every record is a bd 1.x export. (test_queue_commands.py compares the
    whole records, counts and `parent` included.) What does differ from bd by design is in
    `stats` only and is asserted in test_graph.py: we compute average_lead_time_hours, where
    Dolt-era bd reports 0."""
    (tmp_path / ".beads").mkdir()
    shutil.copy(FIXTURES / "bd" / "issues.jsonl", tmp_path / ".beads" / "issues.jsonl")
    out = run(tmp_path, "ready", "--json", "--store", "jsonl")
    assert out.returncode == 0, out.stderr
    expected = json.loads((FIXTURES / "bd" / "ready.json").read_text())
    assert [t["id"] for t in json.loads(out.stdout)] == [t["id"] for t in expected]


def test_user_error_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / ".beads").mkdir()
    (tmp_path / ".beads" / "issues.jsonl").write_text('{"id": "x-1", "title": "a"}\n{oops\n')
    out = run(tmp_path, "ready", "--store", "jsonl")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "issues.jsonl:2: malformed JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_usage_errors_name_the_program_once(tmp_path: Path) -> None:
    out = run(tmp_path, "no-such-command")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("orchestrator: argument COMMAND: invalid choice: 'no-such-command'")
    out = run(tmp_path, "ready", "--no-such-flag")
    assert (out.returncode, out.stderr) == (2, "orchestrator: unrecognized arguments: --no-such-flag\n")
