"""A newcomer's first try: the rough edges found, each pinned by a test through the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.coordinator.preflight import uncommitted_files
from orchestrator.tasks.history import MARKER, AttemptRecord, render
from support.dispatch import make_agent, run_cli, setup_repo
from support.repo import task_record, write_queue


def cli(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--repo", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_show_hides_the_attempt_marker_but_json_and_store_keep_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_queue(tmp_path, [task_record("t-1")])
    text = render(AttemptRecord(attempt=1, kind="error", decision="retry", digest="It crashed."))
    assert cli(tmp_path, capsys, "task", "comment", "t-1", text)[0] == 0
    code, out, _ = cli(tmp_path, capsys, "show", "t-1")
    assert code == 0
    assert "orchestrator: attempt 1 ended: error; next: retry." in out
    assert "It crashed." in out
    assert MARKER.strip() not in out and "-->" not in out
    code, out, _ = cli(tmp_path, capsys, "show", "t-1", "--json")
    assert MARKER in json.loads(out)[0]["comments"][0]["text"]
    stored = json.loads((tmp_path / ".beads" / "issues.jsonl").read_text())
    assert MARKER in stored["comments"][0]["text"]


NEEDS_A_QUEUE = [["run"], ["cycle"], ["plan"], ["cycle", "--dry-run"], ["ready"], ["status"],
                 ["status", "--json"], ["show", "t-1"], ["task", "show", "t-1"],
                 ["task", "close", "t-1"], ["task", "update", "t-1", "--status", "open"],
                 ["task", "dep", "add", "t-1", "t-2"], ["task", "comment", "t-1", "hi"],
                 ["agent", "--task", "t-1"]]


@pytest.mark.parametrize("command", NEEDS_A_QUEUE, ids=" ".join)
def test_no_queue_is_an_error_naming_the_file_and_how_to_start(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    # default config: profile claude, which is not installed here; the queue error comes first
    code, out, err = cli(tmp_git_repo, capsys, *command)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("orchestrator: no task queue in ")
    assert ".beads/issues.jsonl does not exist" in err
    assert "orchestrator task create" in err and "orchestrator phase start" in err
    assert not (tmp_git_repo / ".beads" / "issues.jsonl").exists()


def test_every_command_finds_the_repository_root_from_a_subdirectory(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_git_repo
    write_queue(repo, [task_record("t-1")])
    (repo / ".orchestrator.yml").write_text("jsonl:\n  prefix: zz\n")
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    code, out, _ = cli_here(capsys, "ready")
    assert code == 0 and "t-1" in out
    code, out, _ = cli_here(capsys, "task", "create", "from below", "--silent")
    assert code == 0 and out.startswith("zz-")  # the root's config, the root's queue
    assert not (sub / ".beads").exists() and out.strip() in (repo / ".beads" / "issues.jsonl").read_text()
    # --repo names any directory inside the repository, as `git -C` does
    monkeypatch.chdir(repo.parent)
    code, out, _ = cli(sub, capsys, "status", "--json")
    assert code == 0 and json.loads(out)["summary"]["total_issues"] == 2


def cli_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


SUCCEED = '''
commit(f"{task_id}.txt", f"{task_id} attempt {attempt}\\n")
task("close", task_id, "--reason", "done")
'''


def test_cycle_says_drained_only_when_nothing_is_ready(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    setup_repo(repo, [task_record("t-1"), task_record("t-2")],
               make_agent(tmp_path / "agent.py", SUCCEED))
    done = run_cli(repo, "cycle")
    assert done.returncode == 0, done.stderr
    head = [x for x in done.stdout.splitlines() if x.startswith("summary:")]
    assert len(head) == 1 and "drained" not in head[0]
    assert head[0].startswith("summary: one cycle done; 1 task(s) still ready")
    done = run_cli(repo, "cycle", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["still_ready"] == 0
    done = run_cli(repo, "cycle")
    assert done.returncode == 0
    assert next(x for x in done.stdout.splitlines() if x.startswith("summary:")).startswith(
        "summary: drained (nothing is ready); ")


def test_task_close_reports_each_unknown_id_and_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_queue(tmp_path, [task_record("t-1"), task_record("t-2")])
    assert cli(tmp_path, capsys, "task", "close", "zzz", "--reason", "x") == (
        1, "", "orchestrator: no task zzz\n")
    code, out, err = cli(tmp_path, capsys, "task", "close", "zzz", "t-1", "yyy", "--reason", "x")
    assert (code, out) == (1, "Closed t-1: x\n")
    assert err == "orchestrator: no task zzz\norchestrator: no task yyy\n"
    stored = {json.loads(x)["id"]: json.loads(x)
              for x in (tmp_path / ".beads" / "issues.jsonl").read_text().splitlines()}
    assert (stored["t-1"]["status"], stored["t-2"]["status"]) == ("closed", "open")


def test_reclosing_succeeds_keeps_the_old_reason_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_queue(tmp_path, [task_record("t-1")])
    assert cli(tmp_path, capsys, "task", "close", "t-1", "--reason", "first")[0] == 0
    code, out, err = cli(tmp_path, capsys, "task", "close", "t-1", "--reason", "second")
    assert (code, err) == (0, "")
    assert out == "t-1 was already closed: first (reason kept)\n"
    code, out, _ = cli(tmp_path, capsys, "task", "close", "t-1", "--reason", "third", "--json")
    assert code == 0 and json.loads(out)[0]["close_reason"] == "first"


def _warnings(stderr: str) -> list[str]:
    return [x for x in stderr.splitlines() if x.startswith("orchestrator: warning: ")]


def test_plan_and_dry_run_print_the_plan_with_launch_problems_as_warnings(
        tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    setup_repo(repo, [task_record("t-1")], ["/nonexistent/agent", "{task_id}"])
    (repo / "README.md").write_text("changed\n")
    before = (repo / ".beads" / "issues.jsonl").read_text()
    for args, expect in ((["plan"], "claim and launch t-1"),
                         (["cycle", "--dry-run"], "would claim and launch t-1")):
        done = run_cli(repo, *args)
        assert done.returncode == 0, done.stderr
        assert expect in done.stdout
        warnings = _warnings(done.stderr)
        assert len(warnings) == 2 and len(done.stderr.splitlines()) == 2
        assert "agent command not found: /nonexistent/agent" in warnings[0]
        assert "uncommitted changes (README.md)" in warnings[1]
    done = run_cli(repo, "plan", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["launches"][0]["task_id"] == "t-1"
    for args in (["run"], ["cycle"]):  # the real thing keeps refusing
        done = run_cli(repo, *args)
        assert done.returncode == 2 and "agent command not found" in done.stderr
    assert (repo / ".beads" / "issues.jsonl").read_text() == before


@pytest.mark.parametrize("case", ["placeholder", "not-executable", "not-committed"])
def test_bad_agent_command_warns_in_plan_and_is_refused_by_run(
        tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    repo = tmp_git_repo
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("AGENT_TRACE", str(trace))
    if case == "placeholder":
        command = [*make_agent(tmp_path / "agent.py", SUCCEED)[:2], "{taskid}", "1", "low"]
        expect = "agent.command: unknown placeholder {taskid}"
    elif case == "not-executable":
        (repo / "agent.sh").write_text("#!/bin/sh\nexit 0\n")  # committed without the x bit
        command = ["./agent.sh", "{task_id}"]
        expect = "agent command not executable: ./agent.sh"
    else:  # in the main tree, missing from the agents' checkouts
        command = ["sh", "scripts/agent.sh"]
        expect = ("agent.command runs scripts/agent.sh, which is not committed: agents run in a "
                  "checkout of the last commit (git add scripts/agent.sh && git commit)")
    setup_repo(repo, [task_record("t-1")], command)
    if case == "not-committed":
        (repo / "scripts").mkdir()
        (repo / "scripts" / "agent.sh").write_text("exit 0\n")
    before = (repo / ".beads" / "issues.jsonl").read_text()
    done = run_cli(repo, "plan")
    assert done.returncode == 0 and "claim and launch t-1" in done.stdout
    assert [expect in w for w in _warnings(done.stderr)] == [True]
    done = run_cli(repo, "run")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"orchestrator: {expect}") and len(done.stderr.splitlines()) == 1
    assert (repo / ".beads" / "issues.jsonl").read_text() == before  # nothing claimed
    assert not trace.exists()  # no agent ran


def test_uncommitted_files_are_this_repositorys_files_missing_from_the_last_commit(
        tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    (repo / "scripts").mkdir()
    (repo / "scripts" / "new.sh").write_text("exit 0\n")
    (tmp_path / "outside.sh").write_text("exit 0\n")  # not the repository's to commit
    command = ["sh", "README.md", "./scripts/new.sh", "../outside.sh", "--flag", "{prompt_file}",
               "scripts/missing.sh", str(repo / "scripts" / "new.sh")]
    assert uncommitted_files(repo, command) == ["./scripts/new.sh"]
