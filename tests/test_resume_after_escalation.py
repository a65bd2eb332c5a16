"""Resuming after a tamper escalation: the escalation says to reset the branch, a plain reopen
would rebase the refused commit again, and `task update ID --status open --reset-branch` starts
the next attempt from the working branch with the old branch archived."""
from __future__ import annotations

from pathlib import Path

from support.dispatch import history_of, make_agent, run_cli, setup_repo, tasks_of
from support.repo import git, task_record

TAMPER = '''
os.makedirs(".github/workflows", exist_ok=True)
commit(".github/workflows/evil.yml", "on: push\\n")
task("close", task_id, "--reason", "done")
'''
HONEST = '''
commit(f"{task_id}.txt", "honest work\\n")
task("close", task_id, "--reason", "done")
'''


def test_reset_branch_lets_a_tampered_task_start_over(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    agent = tmp_path / "agent.py"
    setup_repo(repo, [task_record("t-1")], make_agent(agent, TAMPER))
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stderr
    assert "protected paths: .github/workflows/evil.yml. Work so far is on branch orchestrator/t-1." \
        in history_of(repo, "t-1")[-1].digest
    assert "orchestrator task update t-1 --status open --reset-branch" in done.stdout + done.stderr

    make_agent(agent, HONEST)  # the agent is fixed; its old branch still holds the evil commit
    assert run_cli(repo, "task", "update", "t-1", "--status", "open").returncode == 0
    again = run_cli(repo, "run")
    assert again.returncode == 3 and [r.subclass for r in history_of(repo, "t-1")] == ["tamper", "tamper"]

    reset = run_cli(repo, "task", "update", "t-1", "--status", "open", "--reset-branch")
    assert reset.returncode == 0, reset.stderr
    assert "branch orchestrator/t-1 archived as orchestrator-archive/t-1-1" in reset.stderr
    assert "orchestrator/t-1\n" not in git(repo, "branch", "--list", "orchestrator/*") + "\n"
    assert "evil.yml" in git(repo, "log", "--stat", "orchestrator-archive/t-1-1")  # kept for review
    final = run_cli(repo, "run")
    assert final.returncode == 0, final.stdout + final.stderr
    assert tasks_of(repo)["t-1"].status == "closed"
    assert (repo / "t-1.txt").exists() and not (repo / ".github").exists()


def test_reset_branch_needs_status_open_and_tolerates_no_branch(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    setup_repo(repo, [task_record("t-1", status="blocked")], make_agent(tmp_path / "a.py", HONEST))
    refused = run_cli(repo, "task", "update", "t-1", "--reset-branch")
    assert refused.returncode == 2 and "--reset-branch goes with --status open" in refused.stderr
    done = run_cli(repo, "task", "update", "t-1", "--status", "open", "--reset-branch")
    assert done.returncode == 0 and "no branch orchestrator/t-1 to reset" in done.stderr
    assert tasks_of(repo)["t-1"].status == "open"


def test_an_escalation_names_the_branch_only_when_it_holds_work(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    setup_repo(repo, [task_record("t-1")], make_agent(tmp_path / "a.py", "sys.exit(1)\n"), max_attempts=1)
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stderr
    (record,) = history_of(repo, "t-1")
    assert record.decision == "escalate" and "Work so far" not in record.digest
