"""`/orchestrator ...` comments, end to end through `orchestrator command` (a real subprocess
reading a real event file) against the loopback GitHub stand-in."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from orchestrator.cli import main
from orchestrator.gitops import ARCHIVE_PREFIX, task_branch
from support.github import escalated_record, queue, token
from support.github_api import GitHubStandIn
from support.repo import git, init_git_repo, task_record


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        server.repo.collaborators.update(
            {"maintainer": "maintain", "admin": "admin", "writer": "write", "reader": "read",
             "triager": "triage", "helper[bot]": "write", "renovate[bot]": "write"})
        yield server
        assert server.violations == []


def run_command(gh: GitHubStandIn, repo: Path, body: str, *, author: str = "maintainer",
                on_issue: int | None = None, user_type: str = "User",
                action: str = "created", in_process: bool = True, push: bool = False,
                ) -> subprocess.CompletedProcess[str]:
    """The command as the workflow runs it; in-process by default (the same `main`, without
    an interpreter start per call), or as a real subprocess."""
    number = on_issue or gh.repo.add_issue("where the comment is")
    comment = gh.repo.add_comment(number, body, user=author)
    issue: dict[str, object] = {"number": number}
    if gh.repo.issues[number]["pull"]:
        issue["pull_request"] = {"url": "x"}
    event = {"action": action, "issue": issue, "repository": {"full_name": gh.repo.full_name},
             "comment": {"id": comment, "body": body,
                         "user": {"login": author, "type": user_type}}}
    path = repo / "event.json"
    path.write_text(json.dumps(event))
    env = {**os.environ, "GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.repo.full_name,
           "GITHUB_TOKEN": token(), "GITHUB_EVENT_PATH": str(path), "GITHUB_ACTIONS": "true",
           "GITHUB_EVENT_NAME": "issue_comment", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "9",
           "GITHUB_WORKFLOW_REF": f"{gh.repo.full_name}/.github/workflows/orchestrator.yml@refs/heads/main",
           "GITHUB_SERVER_URL": "http://github.invalid"}
    env.pop("ORCHESTRATOR_PAUSED", None)
    argv = ["--repo", str(repo), "command", *(["--push"] if push else [])]
    if in_process:
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, env, clear=True), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = main(argv)
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *argv], env=env, text=True,
                          capture_output=True, timeout=120, cwd=repo)


def reactions(gh: GitHubStandIn) -> list[str]:
    return [r["content"] for r in gh.repo.reactions]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    queue(tmp_path, [task_record("t-1"), escalated_record("bd-7")])
    return tmp_path


def queue_text(repo: Path) -> str:
    return (repo / ".beads" / "issues.jsonl").read_text()


@pytest.mark.parametrize("author,user_type,why", [
    ("reader", "User", "reader has read permission"),
    ("triager", "User", "triager has read permission"),
    ("stranger", "User", "stranger has none permission"),
    ("renovate[bot]", "Bot", "renovate[bot] is a bot"),
])
def test_commands_from_readers_bots_and_strangers_are_refused(
        gh: GitHubStandIn, repo: Path, author: str, user_type: str, why: str) -> None:
    before = queue_text(repo)
    for body in ("/orchestrator run", "/orchestrator retry bd-7", "/orchestrator stop"):
        done = run_command(gh, repo, body, author=author, user_type=user_type,
                           in_process=body != "/orchestrator run" or author != "reader")
        assert done.returncode == 0, done.stderr
        assert f"refused: {why}" in done.stdout
    assert reactions(gh) == ["-1"] * 3
    assert gh.repo.dispatches == [] and queue_text(repo) == before
    assert all(not i["labels"] for i in gh.repo.issues.values())
    assert [c for c in gh.repo.comments.values() if c["user"] == "github-actions[bot]"] == []


def test_a_command_on_a_pull_request_from_a_fork_is_refused(gh: GitHubStandIn,
                                                            repo: Path) -> None:
    pr = gh.repo.add_pull("patch-1", head_repo="mallory/queue")
    done = run_command(gh, repo, "/orchestrator run", on_issue=pr)
    assert "pull request from a fork (mallory/queue)" in done.stdout
    assert gh.repo.dispatches == [] and reactions(gh) == ["-1"]
    # the same on a pull request from this repository is honoured
    own = gh.repo.add_pull("feature")
    run_command(gh, repo, "/orchestrator run", on_issue=own)
    assert len(gh.repo.dispatches) == 1


def test_a_configured_bot_may_command(gh: GitHubStandIn, repo: Path) -> None:
    (repo / ".orchestrator.yml").write_text("github:\n  allowed_bots: ['helper[bot]']\n")
    done = run_command(gh, repo, "/orchestrator run", author="helper[bot]", user_type="Bot")
    assert done.returncode == 0, done.stderr
    assert len(gh.repo.dispatches) == 1


def test_run_removes_the_pause_and_starts_a_new_chain(gh: GitHubStandIn, repo: Path) -> None:
    stop = run_command(gh, repo, "Pausing for the release.\n/orchestrator stop")
    assert stop.returncode == 0, stop.stderr
    (issue,) = gh.repo.issues
    assert gh.repo.issues[issue]["labels"] == ["orchestrator-paused"]
    run = run_command(gh, repo, "/orchestrator run", on_issue=issue, author="admin")
    assert run.returncode == 0, run.stderr
    assert gh.repo.issues[issue]["labels"] == []
    assert gh.repo.dispatches == [{"workflow": "orchestrator.yml", "ref": "main",
                                   "inputs": {"cycle": "1", "chain_id": "9-1"}}]
    assert reactions(gh) == ["+1", "rocket"]


def test_retry_reopens_an_escalated_task(gh: GitHubStandIn, repo: Path) -> None:
    done = run_command(gh, repo, "/orchestrator retry bd-7", author="writer", in_process=False)
    assert done.returncode == 0, done.stderr
    task = next(json.loads(line) for line in queue_text(repo).splitlines()
                if json.loads(line)["id"] == "bd-7")
    assert task["status"] == "open"
    assert reactions(gh) == ["+1"]
    # a task that is not waiting for a human is not touched
    before = queue_text(repo)
    other = run_command(gh, repo, "/orchestrator retry t-1")
    assert "not waiting for a human" in other.stdout and queue_text(repo) == before


def test_retry_with_reset_branch_reopens_and_sets_the_task_branch_aside(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    """`/orchestrator retry ID --reset-branch` is `task update ID --status open --reset-branch`:
    the escalated work is kept on an archive branch and the next attempt starts afresh."""
    repo = init_git_repo(tmp_path / "r")
    queue(repo, [task_record("t-1"), escalated_record("bd-7")])
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "queue")
    git(repo, "branch", task_branch("bd-7"))
    done = run_command(gh, repo, "/orchestrator retry bd-7 --reset-branch")
    assert done.returncode == 0, done.stdout + done.stderr
    branches = git(repo, "branch", "--format=%(refname:short)").split()
    assert task_branch("bd-7") not in branches and f"{ARCHIVE_PREFIX}bd-7-1" in branches
    assert f"archived as {ARCHIVE_PREFIX}bd-7-1" in done.stdout
    task = next(json.loads(line) for line in queue_text(repo).splitlines()
                if json.loads(line)["id"] == "bd-7")
    assert task["status"] == "open" and reactions(gh) == ["+1"]
    # without a branch there is nothing to set aside; the task is still reopened
    queue(repo, [task_record("t-1"), escalated_record("bd-7")])
    again = run_command(gh, repo, "/orchestrator retry bd-7 --reset-branch")
    assert "nothing to reset" in again.stdout
    task = next(json.loads(line) for line in queue_text(repo).splitlines()
                if json.loads(line)["id"] == "bd-7")
    assert task["status"] == "open"


def test_with_push_what_retry_and_status_change_reaches_the_branch(gh: GitHubStandIn,
                                                                     tmp_path: Path) -> None:
    """The workflow's `command --push`: the reopened queue and the status comment's cache are
    committed and pushed to the branch (GITHUB_REF_NAME); stop, a label, pushes nothing, and
    a refused retry pushes nothing."""
    seed = init_git_repo(tmp_path / "seed")
    queue(seed, [task_record("t-1"), escalated_record("bd-7")])
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "queue")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    repo = tmp_path / "job"
    subprocess.run(["git", "clone", "-q", str(origin), str(repo)], check=True)
    for k, v in (("user.email", "bot@example.invalid"), ("user.name", "bot")):
        git(repo, "config", k, v)

    def tip() -> str:
        return git(origin, "rev-parse", "main").strip()

    def at_tip(path: str) -> str:
        return git(origin, "show", f"main:{path}")

    before = tip()
    for body in ("/orchestrator stop", "/orchestrator retry t-1"):
        done = run_command(gh, repo, body, push=True)
        assert done.returncode == 0, done.stdout + done.stderr
    assert tip() == before
    done = run_command(gh, repo, "/orchestrator retry bd-7", push=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pushed the queue to origin/main" in done.stdout
    assert git(origin, "rev-parse", "main~1").strip() == before
    bd7 = next(json.loads(line) for line in at_tip(".beads/issues.jsonl").splitlines()
               if json.loads(line)["id"] == "bd-7")
    assert bd7["status"] == "open"
    done = run_command(gh, repo, "/orchestrator status", push=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (status,) = [cid for cid, c in gh.repo.comments.items() if "orchestrator:status" in c["body"]]
    assert json.loads(at_tip(".beads/orchestrator-github.json"))["comment_id"] == status
    assert reactions(gh) == ["+1", "confused", "+1", "eyes"]


def test_status_refreshes_the_comment_without_counting_a_cycle(gh: GitHubStandIn,
                                                               repo: Path) -> None:
    done = run_command(gh, repo, "/orchestrator status")
    assert done.returncode == 0, done.stdout + done.stderr
    status = [c for c in gh.repo.comments.values() if "orchestrator:status" in c["body"]]
    assert len(status) == 1 and gh.repo.dispatches == []
    assert "Cycle **1**" in status[0]["body"] and "bd-7" in status[0]["body"]
    assert reactions(gh) == ["eyes"]
    state = json.loads((repo / ".beads" / "orchestrator-github.json").read_text())
    assert state["cycles_since_close"] == 0 and state["idle_cycles"] == 0


@pytest.mark.parametrize("body", [
    "/orchestrator retry $(touch pwned)",
    "/orchestrator retry `touch pwned`",
    "/orchestrator retry ${{ secrets.GITHUB_TOKEN }}",
    "/orchestrator run; touch pwned",
    "/orchestrator run && touch pwned",
    "/orchestrator retry bd-7 $(touch pwned)",
])
def test_a_body_with_shell_or_expression_syntax_changes_nothing(
        gh: GitHubStandIn, repo: Path, body: str) -> None:
    before = queue_text(repo)
    done = run_command(gh, repo, body)
    assert done.returncode == 0, done.stderr
    assert not (repo / "pwned").exists()
    assert queue_text(repo) == before and gh.repo.dispatches == []
    assert reactions(gh) == ["confused"]
    (reply,) = [c["body"] for c in gh.repo.comments.values() if c["user"] == "github-actions[bot]"]
    assert "touch" not in reply and "${{" not in reply and "Commands:" in reply


@pytest.mark.parametrize("body,action", [
    ("I will /orchestrator run later", "created"),
    ("> /orchestrator run\nquoted", "created"),
    ("```\n/orchestrator run\n```", "created"),
    ("/orchestrator run", "edited"),
])
def test_text_that_is_not_a_new_command_makes_no_request(gh: GitHubStandIn, repo: Path,
                                                         body: str, action: str) -> None:
    gh.reset_traffic()
    done = run_command(gh, repo, body, action=action)
    assert done.returncode == 0 and "nothing to do" in done.stdout
    assert gh.calls() == []


def test_a_command_whose_request_fails_exits_non_zero_with_an_error(gh: GitHubStandIn,
                                                                    repo: Path) -> None:
    from support.github_api import Fault
    gh.inject("actions/create-workflow-dispatch", Fault.forbidden())
    done = run_command(gh, repo, "/orchestrator run")
    assert done.returncode == 1
    assert "::error title=orchestrator command::GitHub: dispatch workflow" in done.stdout


@pytest.mark.parametrize("operation,on_pull", [
    ("repos/get-collaborator-permission-level", False), ("pulls/get", True),
    ("reactions/create-for-issue-comment", False), ("issues/remove-label", False)])
@pytest.mark.parametrize("fault", ["bad_gateway", "timeout"])
def test_faults_on_each_command_call_are_retried(gh: GitHubStandIn, repo: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 operation: str, on_pull: bool, fault: str) -> None:
    from orchestrator.commands.command import command
    from orchestrator.config import Config
    from support.github import FAST
    from support.github_api import Fault

    number = gh.repo.add_pull("feature") if on_pull else gh.repo.add_issue("x", labels=(
        "orchestrator-paused",))
    cid = gh.repo.add_comment(number, "/orchestrator run", user="maintainer")
    issue: dict[str, object] = {"number": number}
    if on_pull:
        issue["pull_request"] = {"url": "x"}
    event = repo / "event.json"
    event.write_text(json.dumps({
        "action": "created", "issue": issue,
        "comment": {"id": cid, "body": "/orchestrator run",
                    "user": {"login": "maintainer", "type": "User"}}}))
    for k, v in {"GITHUB_API_URL": gh.url, "GITHUB_REPOSITORY": gh.repo.full_name,
                 "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "5",
                 "GITHUB_WORKFLOW_REF": "octo/queue/.github/workflows/o.yml@refs/heads/main"
                 }.items():
        monkeypatch.setenv(k, v)
    gh.inject(operation, Fault.timeout(1.2) if fault == "timeout" else Fault.bad_gateway())
    store = queue(repo, [task_record("t-1")])
    code = command(repo, lambda: store, Config(), token=token(), actor="x",
                   event_path=str(event), tuning=FAST)
    assert code == 0
    tries = gh.calls(operation)
    assert tries[0]["fault"] and len(tries) == 2
    assert gh.repo.dispatches[0]["inputs"]["cycle"] == "1"
