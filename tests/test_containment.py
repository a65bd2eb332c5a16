"""An agent is confined to its task: the refs it shares with the main repository, the other
tasks of the queue, the live queue file and the worktree's copy of it. Each misbehaviour is a
real subprocess agent on a real repository; each is refused, undone and recorded."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from support.dispatch import history_of, make_agent, run_cli, setup_repo, tasks_of, trace_of
from support.repo import git, task_record

SUCCEED = '''
commit(f"{task_id}.txt", f"work of {task_id}\\n")
task("close", task_id, "--reason", "done")
'''


@pytest.fixture
def env(tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AGENT_TRACE", str(tmp_path / "trace.jsonl"))
    return {"repo": tmp_git_repo, "dir": tmp_path}


def _setup(env: dict[str, Any], ids: list[str], body: str, **kw: Any) -> Path:
    repo = env["repo"]
    setup_repo(repo, [task_record(t, priority=i) for i, t in enumerate(ids)],
               make_agent(env["dir"] / "agent.py", body), **kw)
    return repo


def test_an_agent_that_rewinds_the_working_branch_is_undone_and_a_tamper(
        env: dict[str, Any]) -> None:
    body = '''
if task_id == "t-2":
    subprocess.run(["git", "update-ref", "refs/heads/main", "main~1"], check=True)
''' + SUCCEED
    repo = _setup(env, ["t-1", "t-2"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stdout + done.stderr  # a tamper goes to a human
    log = git(repo, "log", "--format=%s", "main")
    assert "t-1: t-1.txt" in log and "t-2: t-2.txt" not in log
    assert git(repo, "show", "main:t-1.txt") == "work of t-1\n"
    t2 = history_of(repo, "t-2")[-1]
    assert (t2.kind, t2.subclass, t2.decision) == ("error", "tamper", "escalate")
    assert "refs/heads/main was moved" in t2.digest
    assert git(repo, "for-each-ref", "refs/orchestrator/tampered/").strip()
    assert not git(repo, "status", "--porcelain", "--untracked-files=no").strip()


def test_the_task_command_refuses_changes_to_other_tasks_and_says_why(env: dict[str, Any]) -> None:
    body = '''
if task_id == "t-1":
    cmd = shlex.split(os.environ["ORCHESTRATOR_TASK_CMD"])
    for args in (["close", "t-2", "--reason", "mine now"], ["update", "t-0", "--status", "open"],
                 ["comment", "t-2", "hello"], ["dep", "add", "t-2", "t-1"]):
        done = subprocess.run([*cmd, *args], capture_output=True, text=True)
        with open(os.environ["AGENT_TRACE"] + ".refused", "a") as f:
            f.write(f"{done.returncode} {done.stderr.strip()}\\n")
    new = task("create", "A blocker I found", "--silent").strip()
    task("comment", task_id, "found " + new)
''' + SUCCEED
    repo = env["repo"]
    setup_repo(repo, [task_record("t-0", status="closed"), task_record("t-1", priority=0),
                      task_record("t-2", priority=1)],
               make_agent(env["dir"] / "agent.py", body))
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    said = (env["dir"] / "trace.jsonl.refused").read_text().splitlines()
    assert len(said) == 4
    assert all(line.startswith("2 orchestrator: refused: an agent may change only its own task "
                               "t-1") for line in said), said
    tasks = tasks_of(repo)
    assert tasks["t-0"].status == "closed" and tasks["t-0"].comments == ()
    assert tasks["t-2"].close_reason == "done"  # closed by its own agent, not by t-1's
    assert not [d for d in tasks["t-2"].dependencies if d.depends_on_id == "t-1"]
    starts = [e["task"] for e in trace_of(env["dir"] / "trace.jsonl") if e["event"] == "start"]
    assert "t-0" not in starts and starts.count("t-2") == 1
    assert "refused the agent 4 time(s)" in history_of(repo, "t-1")[-1].digest


def test_secrets_an_agent_writes_never_reach_git(env: dict[str, Any]) -> None:
    """A token in a note, a comment and a close reason is scrubbed before it is stored; the
    same token in a committed file keeps the work from landing."""
    body = '''
tok = "ghp_" + "A1b2" * 9
if task_id == "t-1":
    task("update", task_id, "--append-notes", "used " + tok)
    task("comment", task_id, "key " + tok)
    commit(f"{task_id}.txt", f"work of {task_id}\\n")
    task("close", task_id, "--reason", "done with " + tok)
else:
    commit("config.txt", "token = " + tok + "\\n")
    task("close", task_id, "--reason", "done")
'''
    repo = _setup(env, ["t-1", "t-2"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stdout + done.stderr  # t-2's work goes to a human
    token = "ghp_" + "A1b2" * 9
    assert token not in (repo / ".beads" / "issues.jsonl").read_text()
    assert token not in git(repo, "log", "-p", "--all", "--", ".beads/issues.jsonl")
    assert token not in git(repo, "log", "-p", "main")
    t1 = tasks_of(repo)["t-1"]
    assert "[REDACTED]" in t1.notes and "[REDACTED]" in t1.close_reason
    t2 = history_of(repo, "t-2")[-1]
    assert (t2.subclass, t2.decision) == ("secret", "escalate")
    assert "config.txt:1: looks like a GitHub token" in t2.digest
    assert token not in t2.digest


def test_a_deleted_live_queue_is_restored_never_committed(env: dict[str, Any]) -> None:
    body = '''
if task_id == "t-2":
    os.remove(os.path.join(os.environ["ORCHESTRATOR_REPO"], ".beads", "issues.jsonl"))
    sys.exit(0)
''' + SUCCEED
    repo = _setup(env, ["t-1", "t-2"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "the live queue was damaged" in done.stdout
    committed = git(repo, "show", "HEAD:.beads/issues.jsonl")
    assert '"t-1"' in committed and '"t-2"' in committed
    tasks = tasks_of(repo)
    assert tasks["t-1"].status == "closed"  # the earlier task's closed state is kept
    assert tasks["t-2"].status == "blocked"
    assert history_of(repo, "t-2")[-1].subclass == "tamper"


def test_an_edit_to_the_worktrees_copy_of_the_queue_is_a_tamper_not_a_conflict(
        env: dict[str, Any]) -> None:
    body = '''
if task_id == "t-2":
    with open(os.path.join(".beads", "issues.jsonl"), "a") as f:
        f.write("{}\\n")
''' + SUCCEED
    repo = _setup(env, ["t-1", "t-2"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 3, done.stdout + done.stderr
    last = history_of(repo, "t-2")[-1]
    assert (last.subclass, last.decision) == ("tamper", "escalate")
    assert ".beads/issues.jsonl" in last.digest
    assert len(history_of(repo, "t-2")) == 1  # not requeued as a landing conflict


def test_a_token_written_straight_into_the_queue_is_cut_before_the_queue_state_commit(
        env: dict[str, Any]) -> None:
    body = '''
path = os.path.join(os.environ["ORCHESTRATOR_REPO"], ".beads", "issues.jsonl")
text = open(path).read().replace('"title":"Task t-1"', '"title":"Task t-1 ' + "ghp_" + "Z9" * 18 + '"')
open(path, "w").write(text)
''' + SUCCEED
    repo = _setup(env, ["t-1"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ghp_" not in git(repo, "log", "-p", "--", ".beads/issues.jsonl")
    assert "[REDACTED]" in tasks_of(repo)["t-1"].title


def test_a_daemonised_grandchild_is_stopped_with_its_agent_and_what_it_writes_never_lands(
        env: dict[str, Any]) -> None:
    """The agent starts a process that leaves its group and session (setsid after a fork, its
    parent gone) and writes into the worktree after the agent ended."""
    body = '''
if task_id == "t-1":
    pidfile = os.environ["AGENT_TRACE"] + ".daemon"
    agent = os.getpid()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # the grandchild: parent gone, own session, not in the agent's group
            with open(pidfile + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(pidfile + ".tmp", pidfile)
            while os.path.exists(f"/proc/{agent}") and \\
                    open(f"/proc/{agent}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
                time.sleep(0.05)
            time.sleep(2)
            with open("late.txt", "w") as f:
                f.write("written after the agent ended\\n")
            time.sleep(300)
            os._exit(0)
        os._exit(0)
    while not os.path.exists(pidfile):
        time.sleep(0.05)
''' + SUCCEED
    repo = _setup(env, ["t-1"], body)
    done = run_cli(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    daemon = int((env["dir"] / "trace.jsonl.daemon").read_text())
    state = ""
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{daemon}/stat").read_text().rsplit(")", 1)[1].split()[0]
    assert state in ("", "Z"), "the daemonised grandchild outlived its agent"
    assert "late.txt" not in git(repo, "ls-tree", "-r", "--name-only", "main")
