"""`orchestrator demo` through the installed console script: the README's front door."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.dispatch import history_of, tasks_of


def test_demo_drains_the_phase(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "orchestrator"
    repo = tmp_path / "demo"
    done = subprocess.run([str(exe), "demo", str(repo)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for part in ("ready queue: demo-1", "claim demo-1; launch agent (plan_features, attempt 1 "
                 "with budget high)", "demo-2.2 attempt 1 ended: error (exit_code); next: retry (retry 2 of 3 with a "
                 "larger budget)",
                 "attempt 2 with budget xhigh", "demo-3.2 attempt 1 ended: context_exhausted",
                 "next: handoff", "land demo-3.2: 2 commit(s)", "close demo-2: all its children "
                 "are closed", "summary: drained", "11 agent run(s): 9 done, 1 retry, 1 handoff; "
                 "3 epic(s)/feature(s) closed with their children; 0 task(s) not closed"):
        assert part in out, part
    tasks = tasks_of(repo)
    assert len(tasks) == 12 and all(t.status == "closed" for t in tasks.values())
    assert [(r.kind, r.budget, r.decision) for r in history_of(repo, "demo-2.2")] == [
        ("error", "high", "retry"), ("success", "xhigh", "done")]
    assert [(r.kind, r.budget, r.decision) for r in history_of(repo, "demo-3.2")] == [
        ("context_exhausted", "high", "handoff"), ("success", "high", "done")]
    assert "HANDOFF:" in tasks["demo-3.2"].notes
    files = sorted(p.name for p in (repo / "demo").iterdir())
    assert len(files) == 9  # one per dispatched task, landed on main
    assert "Second half" in (repo / "demo" / "demo-3.2.md").read_text()
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                             "--untracked-files=no"], capture_output=True, text=True).stdout
    assert status == ""


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "orchestrator"
    (tmp_path / "x").write_text("")
    done = subprocess.run([str(exe), "demo", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "not empty" in done.stderr
    done = subprocess.run([str(exe), "demo", str(tmp_path / "x")], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr == f"orchestrator: {tmp_path / 'x'}: is a file; " \
        "give a new directory\n"
