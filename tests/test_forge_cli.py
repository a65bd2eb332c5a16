"""The GitHub commands as the workflow runs them: real `orchestrator` subprocesses, the
stand-in as a separate process (as the act workflow test starts it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.github import queue, token
from support.repo import git, task_record

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`python -m support.github_api --port 0 --state FILE`, seeded with an admin."""
    state = tmp_path / "github-state.json"
    state.write_text(json.dumps({"collaborators": {"admin": "admin"}}))
    proc = subprocess.Popen([sys.executable, "-m", "support.github_api", "--port", "0",
                             "--state", str(state)], cwd=TESTS, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        yield url, state
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def workflow_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ORCHESTRATOR_"))}
    env.update(GITHUB_ACTIONS="true", GITHUB_API_URL=url, GITHUB_REPOSITORY="octo/queue",
               GITHUB_TOKEN=token(), GITHUB_REF_NAME="main", GITHUB_RUN_ID="31",
               GITHUB_SERVER_URL="http://github.invalid",
               GITHUB_WORKFLOW_REF="octo/queue/.github/workflows/orchestrator.yml@refs/heads/main",
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"), **extra)
    return env


def orchestrator(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(repo), *args],
                          env=env, text=True, capture_output=True, timeout=120)


def test_report_dispatch_through_the_standalone_stand_in(server: tuple[str, Path],
                                                         tmp_path: Path) -> None:
    url, state_file = server
    queue(tmp_path, [task_record("t-1"), task_record("t-2", status="closed")])
    env = workflow_env(url, tmp_path, ORCHESTRATOR_CYCLE="3", ORCHESTRATOR_CHAIN_ID="chain-a")
    done = orchestrator(tmp_path, env, "report", "--dispatch", "--artifact", "logs-t-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report: cycle 3 of chain chain-a: cycle 4 dispatched" in done.stdout
    state = get(url + "/_control/state")
    assert isinstance(state, dict)
    assert state["dispatches"] == [{"workflow": "orchestrator.yml", "ref": "main",
                                    "inputs": {"cycle": "4", "chain_id": "chain-a"}}]
    (comment,) = state["comments"].values()
    assert "`logs-t-1`" in comment["body"] and "actions/runs/31" in comment["body"]
    assert get(url + "/_control/violations") == []
    recorded = json.loads(state_file.read_text())
    assert recorded["violations"] == [] and len(recorded["requests"]) <= 8
    assert (tmp_path / "summary.md").read_text().startswith("<!-- orchestrator:status")


def test_a_refused_dispatch_fails_the_step(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    req = urllib.request.Request(url + "/_control/faults", method="POST", data=json.dumps(
        {"actions/create-workflow-dispatch": [{"status": 403,
                                              "message": "Resource not accessible by integration"}]}
    ).encode())
    urllib.request.urlopen(req, timeout=10).close()
    queue(tmp_path, [task_record("t-1")])
    done = orchestrator(tmp_path, workflow_env(url, tmp_path), "report", "--dispatch")
    assert done.returncode == 1
    assert "::error title=dispatch failed::" in done.stdout and "HTTP 403" in done.stdout


def test_report_without_a_token_is_a_one_line_error(tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    env = workflow_env("http://127.0.0.1:9", tmp_path)
    del env["GITHUB_TOKEN"]
    done = orchestrator(tmp_path, env, "report")
    assert done.returncode == 2
    assert done.stderr == "orchestrator: no GitHub token: set GITHUB_TOKEN (or pass --token)\n"


def test_cycle_dry_run_on_github_prints_the_comment_and_dispatch_and_changes_nothing(
        server: tuple[str, Path], tmp_git_repo: Path) -> None:
    url, _ = server
    queue(tmp_git_repo, [task_record("t-1", title="Write the parser")])
    git(tmp_git_repo, "add", ".beads")
    git(tmp_git_repo, "commit", "-qm", "queue")
    before = git(tmp_git_repo, "status", "--porcelain")
    env = workflow_env(url, tmp_git_repo.parent, ORCHESTRATOR_CYCLE="2",
                       ORCHESTRATOR_CHAIN_ID="c9")
    done = orchestrator(tmp_git_repo, env, "cycle", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would post the status comment on the tracking issue" in done.stdout
    assert "Cycle **2** of chain `c9`" in done.stdout and "Write the parser" in done.stdout
    assert ("would dispatch workflow orchestrator.yml on ref main with inputs "
            "{'cycle': '3', 'chain_id': 'c9'}") in done.stdout
    assert get(url + "/_control/requests") == []
    assert git(tmp_git_repo, "status", "--porcelain") == before
    assert not (tmp_git_repo / ".beads" / "orchestrator-github.json").exists()
