"""`orchestrator phase start` (the seed's "Starting a New Phase") and per-phase status."""
from __future__ import annotations

import sys
from pathlib import Path

from support.dispatch import run_cli, tasks_of
from support.repo import task_record, write_queue


def _repo(tmp_path: Path, records: list[dict]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    write_queue(repo, records)
    (repo / "docs").mkdir()
    (repo / "docs" / "phase2.md").write_text("# plan\n")
    (repo / "docs" / "tests2.md").write_text("# tests\n")
    return repo


def test_refuses_with_the_list_of_open_tasks(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [task_record("p-1", status="closed"), task_record("p-2"),
                            task_record("p-3", status="in_progress")])
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/phase2.md")
    assert done.returncode == 2
    assert "2 open task(s): p-2 (open) Task p-2, p-3 (in_progress) Task p-3" in done.stderr
    assert len(tasks_of(repo)) == 3


def test_refuses_when_the_regression_command_fails(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [task_record("p-1", status="closed")])
    cmd = f"{sys.executable} -c \"import sys; print('2 failed'); sys.exit(1)\""
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/phase2.md",
                   "--regression-cmd", cmd)
    assert done.returncode == 2 and "regression command failed (exit 1)" in done.stderr
    assert "2 failed" in done.stderr
    assert len(tasks_of(repo)) == 1


def test_a_regression_command_that_does_not_parse_is_one_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [task_record("p-1", status="closed")])
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/phase2.md",
                   "--regression-cmd", 'pytest -k "broken')
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--regression-cmd pytest -k \"broken: No closing quotation" in done.stderr
    assert len(tasks_of(repo)) == 1


def test_missing_plan_file_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [])
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/nope.md")
    assert done.returncode == 2
    assert f"--plan docs/nope.md: no such file in {repo.resolve()} (paths are relative" in done.stderr
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "/nope.md")
    assert done.returncode == 2 and done.stderr == "orchestrator: --plan /nope.md: no such file\n"


def test_creates_the_bootstrap_task(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [task_record("p-1", status="closed")])
    cmd = f"{sys.executable} -c \"print('all passed')\""
    done = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/phase2.md",
                   "--tests", "docs/tests2.md", "--regression-cmd", cmd)
    assert done.returncode == 0, done.stderr
    new = [t for t in tasks_of(repo).values() if t.id != "p-1"]
    assert len(new) == 1
    t = new[0]
    assert (t.title, t.priority, t.issue_type, t.labels) == (
        "Plan features for phase2", 1, "task", ("phase:phase2",))
    assert t.description == (
        "Follow the feature-planning instructions the orchestrator gives you with this task "
        "(a repository may override them in prompt/plan_features.txt).\n\n## Phase Parameters\n"
        "- Phase: phase2\n- Implementation plan: docs/phase2.md\n"
        "- Test specification: docs/tests2.md\n\n## Your Task\n"
        "1. Read implementation plan and test spec\n"
        "2. Identify feature boundaries (4-7 features)\n"
        "3. Create features with comprehensive descriptions\n"
        "4. Create 'Plan tasks' child task for each feature\n"
        "5. Set up dependencies (sequential execution)\n"
        "6. Include Regression Testing as final feature")
    again = run_cli(repo, "phase", "start", "--phase", "phase2", "--plan", "docs/phase2.md")
    assert again.returncode == 2  # its bootstrap task is open (and the phase exists)
    status = run_cli(repo, "status")
    assert "phase2" in status.stdout and "0/1" in status.stdout


def test_status_lists_tasks_waiting_for_a_human_under_the_configured_label(tmp_path: Path) -> None:
    repo = _repo(tmp_path, [task_record("p-1", status="blocked", labels=["stuck"]),
                            task_record("p-2", status="blocked", labels=["needs-human"])])
    (repo / ".orchestrator.yml").write_text("github:\n  escalation_label: stuck\n")
    done = run_cli(repo, "status")
    assert done.returncode == 0, done.stderr
    waiting = done.stdout.split("Waiting for a human")[1].split("\n\n")[0]
    assert "p-1" in waiting and "p-2" not in waiting
