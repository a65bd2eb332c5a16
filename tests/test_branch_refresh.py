"""A retry or handoff continues on its task branch, brought up to the current tip of the
working branch first: a fix committed there (say, the agent script's interpreter line) is what
the next attempt runs with, and the task's own earlier commits are kept."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import gitops
from orchestrator.config import config_for_repo
from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.loop import run_loop
from orchestrator.forge.local import LocalForge
from orchestrator.tasks.factory import open_store
from support.dispatch import history_of, make_agent, run_cli, setup_repo, tasks_of
from support.repo import git, task_record

SUCCEED = '''
commit(f"{task_id}.txt", f"{task_id} attempt {attempt}\\n")
task("close", task_id, "--reason", "done")
'''

BROKEN_SHEBANG = "#!/nonexistent/interpreter\n"

CRASH = 'print("Traceback (most recent call last):\\nRuntimeError: boom", flush=True)\nsys.exit(1)\n'


@pytest.fixture
def env(tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("AGENT_TRACE", raising=False)
    return {"repo": tmp_git_repo, "dir": tmp_path}


def _coordinator(repo: Path) -> Coordinator:
    from orchestrator.agents.session import run_task_agent
    config = config_for_repo(repo, None)
    return Coordinator(repo=repo, store=open_store(repo, config), config=config,
                       forge=LocalForge(None, echo=lambda line: None), actor="orchestrator",
                       launcher=run_task_agent)


def _human_commits(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"human: {name}")
    return git(repo, "rev-parse", "HEAD").strip()


def test_a_fix_committed_after_a_failed_launch_is_what_the_next_run_uses(env: dict[str, Any]) -> None:
    repo = env["repo"]
    agent = make_agent(env["dir"] / "agent.py", SUCCEED)
    script = repo / "scripts" / "agent.sh"
    script.parent.mkdir()
    body = f"exec {sys.executable} {agent[1]} \"$@\"\n"
    # executable, so the preflight passes, but its interpreter does not exist: the launch fails
    script.write_text(BROKEN_SHEBANG + body)
    script.chmod(0o755)
    setup_repo(repo, [task_record("t-1")], ["./scripts/agent.sh", "{task_id}", "{attempt}", "{budget}"])
    done = run_cli(repo, "run")
    assert done.returncode != 0, done.stdout + done.stderr
    assert "orchestrator/t-1" in git(repo, "branch")  # the failed launch left its branch
    script.write_text("#!/bin/sh\n" + body)
    git(repo, "commit", "-qam", "agent.sh runs with /bin/sh")
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert tasks_of(repo)["t-1"].status == "closed"
    assert (repo / "t-1.txt").read_text() == "t-1 attempt 1\n"


def test_a_failed_launch_adds_no_queue_state_commit(env: dict[str, Any]) -> None:
    repo = env["repo"]
    setup_repo(repo, [task_record("t-1")], ["./agent.sh", "{task_id}"])
    (repo / "agent.sh").write_text(BROKEN_SHEBANG + "exit 0\n")
    (repo / "agent.sh").chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "an agent script whose interpreter does not exist")
    before = git(repo, "rev-parse", "HEAD")
    for _ in range(2):
        done = run_cli(repo, "run")
        assert done.returncode != 0, done.stdout + done.stderr
    assert git(repo, "rev-parse", "HEAD") == before  # no "orchestrator: queue state" commits
    t = tasks_of(repo)["t-1"]
    assert t.status == "open" and not t.assignee and not t.comments  # nothing to record


def test_own_commits_of_a_failed_attempt_are_rebased_onto_the_moved_tip(env: dict[str, Any]) -> None:
    repo = env["repo"]
    body = '''
if attempt == 1:
    commit("work.txt", "earlier work\\n")
    print("Traceback (most recent call last):\\nRuntimeError: boom", flush=True)
    sys.exit(1)
assert open("work.txt").read() == "earlier work\\n", "the earlier attempt's work is gone"
assert open("fix.txt").read() == "the human's fix\\n", "the tip's fix is missing"
''' + SUCCEED
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", body))
    run_loop(_coordinator(repo), once=True)
    assert [r.decision for r in history_of(repo, "t-1")] == ["retry"]
    fix = _human_commits(repo, "fix.txt", "the human's fix\n")
    coord = _coordinator(repo)
    summary = run_loop(coord, once=True)
    assert [(r.attempt, r.decision) for r in history_of(repo, "t-1")] == [(1, "retry"), (2, "done")]
    assert summary.exit_code == 0
    assert any("rebased 1 commit(s) of orchestrator/t-1" in e for e in coord.events)
    assert (repo / "work.txt").read_text() == "earlier work\n" and (repo / "t-1.txt").exists()
    assert git(repo, "merge-base", "--is-ancestor", fix, "HEAD") == ""


def test_a_conflicting_rebase_keeps_the_branch_and_the_retry_still_runs(env: dict[str, Any]) -> None:
    repo = env["repo"]
    seen = env["dir"] / "seen.txt"
    body = f'''
if attempt == 1:
    commit("shared.txt", "task version\\n")
else:
    with open({str(seen)!r}, "w") as f:
        f.write(open("shared.txt").read())
''' + CRASH
    setup_repo(repo, [task_record("t-1")], make_agent(env["dir"] / "agent.py", body),
               max_attempts=5)
    run_loop(_coordinator(repo), once=True)
    old_tip = git(repo, "rev-parse", "orchestrator/t-1").strip()
    _human_commits(repo, "shared.txt", "human version\n")
    coord = _coordinator(repo)
    run_loop(coord, once=True)
    assert seen.read_text() == "task version\n"  # the retry ran, on the branch as it was
    assert git(repo, "rev-parse", "orchestrator/t-1").strip() == old_tip
    events = [e for e in coord.events if "kept orchestrator/t-1" in e]
    assert events and "conflict" in events[0] and "shared.txt" in events[0]
    hist = history_of(repo, "t-1")
    assert [(r.attempt, r.decision) for r in hist] == [(1, "retry"), (2, "retry")]
    assert "not rebased onto the current tip" in hist[1].digest
    assert (repo / "shared.txt").read_text() == "human version\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_create_task_worktree_brings_an_existing_branch_to_the_tip(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    # no commits of its own: moved
    wt = gitops.create_task_worktree(repo, "a")
    gitops.remove_task_worktree(repo, wt, keep_branch=True)
    tip = _human_commits(repo, "one.txt", "1\n")
    wt = gitops.create_task_worktree(repo, "a")
    assert wt.base == tip and git(repo, "rev-parse", "orchestrator/a").strip() == tip
    assert wt.update.startswith("moved orchestrator/a") and (wt.path / "one.txt").exists()
    # own commits: rebased, base is the new tip
    (wt.path / "own.txt").write_text("own\n")
    gitops.commit_all(wt.path, "own work")
    gitops.remove_task_worktree(repo, wt, keep_branch=True)
    tip = _human_commits(repo, "two.txt", "2\n")
    wt = gitops.create_task_worktree(repo, "a")
    assert wt.base == tip and wt.update.startswith("rebased 1 commit(s)")
    assert (wt.path / "own.txt").exists() and (wt.path / "two.txt").exists()
    assert gitops.tampered_paths(wt.path, wt.base) == []
    # already on the tip: untouched
    gitops.remove_task_worktree(repo, wt, keep_branch=True)
    wt = gitops.create_task_worktree(repo, "a")
    assert wt.update == "" and wt.base == tip
