"""`orchestrator agent` and `orchestrator logs` through the CLI entry point, on a real git repo
with the JSONL store and real scripted agents (the `command` profile, and a stand-in `claude`
executable that prints stream-json the way Claude Code does)."""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.commands.logs import logs_show
from orchestrator.tasks.history import read_history
from orchestrator.tasks.jsonl import JsonlStore
from support.agents import TASK_CMD_HELPER, claude_stream, default_sigint, write_script
from support.repo import task_record, write_queue


def setup_repo(repo: Path, script: Path, profile: str = "command") -> None:
    write_queue(repo, [task_record("t-1", title="Add parser", description="Parse CSV."),
                       task_record("t-2", title="Add writer", blocks_on=["t-1"])])
    (repo / ".orchestrator.yml").write_text(
        f"agent:\n  profile: {profile}\n  command: [{json.dumps(sys.executable)}, {json.dumps(str(script))}, "
        '"{prompt_file}"]\n  kill_grace_seconds: 1\n')


def task(repo: Path, tid: str):
    return JsonlStore(repo / ".beads" / "issues.jsonl").show([tid])[0]


def cli(repo: Path, *args: str) -> int:
    return main(["--repo", str(repo), *args])


def test_agent_success_records_attempt_and_logs(tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_git_repo.parent / "agent.py", TASK_CMD_HELPER + """
print("reading " + sys.argv[1])
print(task("close", TASK, "--reason", "parser done"))
""")
    setup_repo(tmp_git_repo, script)
    assert cli(tmp_git_repo, "agent", "--task", "t-1") == 0
    out = capsys.readouterr().out
    assert out.startswith("t-1: success [attempt 1, profile command, budget high")
    assert "logs: logs/run/" in out
    t = task(tmp_git_repo, "t-1")
    assert t.status == "closed" and t.close_reason == "parser done"
    (rec,) = read_history(t)
    assert (rec.attempt, rec.kind, rec.budget) == (1, "success", "high")
    assert rec.log_dir.startswith("logs/run/") and rec.log_dir.endswith("_t-1")

    assert cli(tmp_git_repo, "logs", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["RUN", "TASK", "ATTEMPT", "OUTCOME", "DURATION", "COST"]
    assert listing[1].split()[1:4] == ["t-1", "1", "success"]
    assert cli(tmp_git_repo, "logs", "list", "--json") == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["task_id"], entry["outcome"], entry["attempt"]) == ("t-1", "success", 1)
    assert cli(tmp_git_repo, "logs", "show", "t-1") == 0
    shown = capsys.readouterr().out
    assert "reading " in shown and "Closed t-1: parser done" in shown and "== outcome: success" in shown
    assert cli(tmp_git_repo, "logs", "show", entry["run"]) == 0
    assert capsys.readouterr().out == shown


def test_failed_attempt_releases_task_and_next_attempt_climbs_the_ladder(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = write_script(tmp_git_repo.parent / "agent.py",
                          "import os\nprint('budget', os.environ['ORCHESTRATOR_BUDGET'])\n")
    setup_repo(tmp_git_repo, script)
    assert cli(tmp_git_repo, "agent", "--task", "t-1") == 1
    out = capsys.readouterr().out
    assert out.startswith("t-1: no_progress") and "t-1 is open again" in out
    assert task(tmp_git_repo, "t-1").status == "open"
    assert cli(tmp_git_repo, "agent", "--task", "t-1", "--json") == 1
    run = json.loads(capsys.readouterr().out)
    assert (run["attempt"], run["budget"], run["outcome"]["kind"]) == (2, "xhigh", "no_progress")
    assert [r.attempt for r in read_history(task(tmp_git_repo, "t-1"))] == [1, 2]
    assert cli(tmp_git_repo, "logs", "list", "--json", "--task", "t-1") == 0
    assert [r["attempt"] for r in json.loads(capsys.readouterr().out)] == [2, 1]  # newest first
    assert cli(tmp_git_repo, "logs", "list", "--json", "--task", "t-2") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_unknown_task_and_missing_agent_are_one_line_errors(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_repo(tmp_git_repo, tmp_git_repo.parent / "no-such-agent.py")
    assert cli(tmp_git_repo, "agent", "--task", "t-404") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no task t-404" in err
    (tmp_git_repo / ".orchestrator.yml").write_text("agent:\n  profile: command\n  command: [no-such-agent-cli]\n")
    assert cli(tmp_git_repo, "agent", "--task", "t-1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-agent-cli: command not found" in err
    assert task(tmp_git_repo, "t-1").status == "open"  # the claim was given back
    assert cli(tmp_git_repo, "logs", "show", "t-1") == 2
    assert "no run or task 't-1'" in capsys.readouterr().err


FAKE_CLAUDE = TASK_CMD_HELPER + """
import json
json.dump({"argv": sys.argv[1:], "base_url": os.environ.get("ANTHROPIC_BASE_URL"),
           "nonessential": os.environ.get("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"),
           "stdin_is_devnull": os.path.realpath("/proc/self/fd/0") == "/dev/null"},
          open(os.path.join(os.environ["ORCHESTRATOR_LOG_DIR"], "claude-call.json"), "w"))
task("close", TASK, "--reason", "done by claude")
for line in LINES:
    print(line, flush=True)
"""


def test_claude_profile_end_to_end_with_a_stand_in_cli(
        tmp_git_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bindir = tmp_git_repo.parent / "bin"
    bindir.mkdir()
    write_script(bindir / "claude", f"LINES = {claude_stream('Parser added.')!r}\n" + FAKE_CLAUDE)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    write_queue(tmp_git_repo, [task_record("t-1", title="Add parser")])
    (tmp_git_repo / ".orchestrator.yml").write_text("agent:\n  model: claude-opus-4-6\n  max_turns: 30\n")
    assert cli(tmp_git_repo, "agent", "--task", "t-1") == 0
    out = capsys.readouterr().out
    assert out.startswith("t-1: success [attempt 1, profile claude, budget high") and "$0.0123" in out
    (log_dir,) = (tmp_git_repo / "logs" / "run").iterdir()
    call = json.loads((log_dir / "claude-call.json").read_text())
    argv = call["argv"]
    assert argv[0] == "-p" and "# Your task: t-1: Add parser" in argv[1]
    assert argv[2:] == ["--output-format", "stream-json", "--verbose", "--model", "claude-opus-4-6",
                        "--max-turns", "30", "--permission-mode", "bypassPermissions", "--effort", "high"]
    assert call["base_url"] == "http://127.0.0.1:9" and call["nonessential"] == "1"
    assert call["stdin_is_devnull"]
    assert "[result] success" in (log_dir / "output.log").read_text()


def test_logs_show_follow_tails_a_running_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "20261125T060000Z_t-7"
    run.mkdir()
    (run / "monitor.log").write_text("2026-11-25T06:00:00Z start task=t-7 attempt=1 profile=claude "
                                     "kind=implement budget=high cwd=/w argv=claude\n")
    lines = claude_stream("Followed.")
    (run / "verbose.jsonl").write_text(lines[0] + "\n")
    progressed = threading.Event()

    def agent_keeps_writing() -> None:
        progressed.wait(10)
        with open(run / "verbose.jsonl", "a") as f:
            f.write("\n".join(lines[1:]) + "\n")
        (run / "outcome.json").write_text(json.dumps({
            "task_id": "t-7", "attempt": 1, "profile": "claude", "budget": "high",
            "log_dir": str(run), "started_at": "2026-11-25T06:00:00Z", "duration_s": 2.0,
            "outcome": {"kind": "success", "digest": "Success: Followed."}}))

    threading.Thread(target=agent_keeps_writing, daemon=True).start()
    # the first poll prints what exists, then lets the writer go on
    import orchestrator.commands.logs as logs_mod
    real_sleep = logs_mod.time.sleep

    def sleep(s: float) -> None:
        progressed.set()
        real_sleep(0.02)
    logs_mod.time.sleep = sleep  # type: ignore[assignment]
    try:
        assert logs_show(tmp_path, "t-7", follow=True) == 0
    finally:
        logs_mod.time.sleep = real_sleep  # type: ignore[assignment]
    out = capsys.readouterr().out
    assert out.startswith("== 20261125T060000Z_t-7: task t-7, attempt 1, profile claude, budget high")
    assert "[init] model=claude-opus-4-6" in out and "assistant: Working on it." in out
    assert "[result] success" in out and out.rstrip().endswith("Success: Followed.")


def test_ctrl_c_ends_the_agent_group_and_records_interrupted(tmp_git_repo: Path) -> None:
    """`orchestrator agent` as a real process: SIGINT stops the agent (and its child), the
    attempt is recorded as interrupted and the task is released."""
    import signal
    import subprocess
    import time

    started = tmp_git_repo.parent / "started"
    child_pid = tmp_git_repo.parent / "child.pid"
    script = write_script(tmp_git_repo.parent / "agent.py", f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open({str(child_pid)!r}, "w").write(str(child.pid))
open({str(started)!r}, "w").close()
while True:
    print("working", flush=True)
    time.sleep(0.1)
""")
    setup_repo(tmp_git_repo, script)
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_git_repo),
                             "agent", "--task", "t-1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_sigint)
    while not started.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert out.startswith("t-1: interrupted")
    from support.agents import pid_alive
    assert not pid_alive(int(child_pid.read_text()))
    t = task(tmp_git_repo, "t-1")
    assert t.status == "open" and read_history(t)[-1].kind == "interrupted"


def test_explicit_config_and_store_reach_the_agents_task_command(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A queue outside the default path, named only by --config: the agent's `orchestrator
    task close` must update that queue, not look for .beads/issues.jsonl."""
    script = write_script(tmp_git_repo.parent / "agent.py", TASK_CMD_HELPER + "task('close', TASK)\n")
    queue = tmp_git_repo / "work" / "queue.jsonl"
    queue.parent.mkdir()
    queue.write_text(json.dumps(task_record("t-1")) + "\n")
    cfg = tmp_git_repo.parent / "custom.yml"
    cfg.write_text(f"jsonl:\n  path: work/queue.jsonl\nagent:\n  profile: command\n"
                   f"  command: [{json.dumps(sys.executable)}, {json.dumps(str(script))}]\n")
    assert cli(tmp_git_repo, "--config", str(cfg), "--store", "jsonl", "agent", "--task", "t-1") == 0, \
        capsys.readouterr()
    assert JsonlStore(queue).show(["t-1"])[0].status == "closed"
    (log_dir,) = (tmp_git_repo / "logs" / "run").iterdir()
    assert f"--config {cfg}" in (log_dir / "prompt.md").read_text()


@pytest.mark.parametrize("attempt", ["0", "-1"])
def test_bad_attempt_is_refused_before_the_task_is_claimed(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str], attempt: str) -> None:
    setup_repo(tmp_git_repo, write_script(tmp_git_repo.parent / "agent.py", "print('ran')\n"))
    assert cli(tmp_git_repo, "agent", "--task", "t-1", f"--attempt={attempt}") == 2
    assert f"--attempt {attempt}: must be 1 or more" in capsys.readouterr().err
    assert task(tmp_git_repo, "t-1").status == "open"
    assert not (tmp_git_repo / "logs").exists()


def test_a_run_whose_agent_died_without_an_exit_line_is_not_running_and_follow_ends(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The orchestrator was killed hard: monitor.log has no exit line, no outcome.json, and
    the agent process is gone. `logs list` must not call it running, `logs show --follow`
    must not follow it forever."""
    import subprocess
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = tmp_path / "20261125T060000Z_t-8"
    run.mkdir()
    (run / "monitor.log").write_text(
        "2026-11-25T06:00:00Z start task=t-8 attempt=1 profile=command kind=implement budget=high "
        f"cwd=/w argv=agent\n2026-11-25T06:00:00Z running pid={gone.pid} pgid={gone.pid}\n")
    (run / "verbose.jsonl").write_text("half way\n")
    alive = tmp_path / "20261125T060001Z_t-9"
    alive.mkdir()
    (alive / "monitor.log").write_text(
        f"2026-11-25T06:00:01Z start task=t-9 attempt=1 cwd=/w argv=agent\n"
        f"2026-11-25T06:00:01Z running pid={os.getpid()} pgid={os.getpid()}\n")
    from orchestrator.commands.logs import list_runs
    assert {r.task_id: r.state for r in list_runs(tmp_path)} == {"t-8": "unknown", "t-9": "running"}
    import orchestrator.commands.logs as logs_mod
    real_sleep = logs_mod.time.sleep
    logs_mod.time.sleep = lambda s: None  # type: ignore[assignment]
    try:
        assert logs_show(tmp_path, "t-8", follow=True) == 0
    finally:
        logs_mod.time.sleep = real_sleep  # type: ignore[assignment]
    out = capsys.readouterr().out
    assert "half way" in out and out.rstrip().endswith("== unknown")


def test_a_released_task_is_unassigned_so_another_actor_can_claim_it(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup_repo(tmp_git_repo, write_script(tmp_git_repo.parent / "agent.py", "print('looked around')\n"))
    assert cli(tmp_git_repo, "--actor", "alice", "agent", "--task", "t-1") == 1
    t = task(tmp_git_repo, "t-1")
    assert (t.status, t.assignee) == ("open", "")
    assert cli(tmp_git_repo, "--actor", "bob", "agent", "--task", "t-1") == 1
    assert "t-1: no_progress [attempt 2" in capsys.readouterr().out
    (tmp_git_repo / ".orchestrator.yml").write_text("agent:\n  profile: command\n  command: [no-such-agent-cli]\n")
    assert cli(tmp_git_repo, "--actor", "carol", "agent", "--task", "t-1") == 2  # setup error: released too
    assert task(tmp_git_repo, "t-1").assignee == ""


def test_a_task_another_actor_is_working_on_is_refused(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Never two agents on one task: in_progress and claimed by someone else is a one-line
    error that leaves the task alone; the same actor may resume it."""
    setup_repo(tmp_git_repo, write_script(tmp_git_repo.parent / "agent.py", "print('ran')\n"))
    JsonlStore(tmp_git_repo / ".beads" / "issues.jsonl").claim("t-1", actor="alice")
    assert cli(tmp_git_repo, "--actor", "bob", "agent", "--task", "t-1") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "claimed by alice" in err and "--assignee" in err
    t = task(tmp_git_repo, "t-1")
    assert (t.status, t.assignee, read_history(t)) == ("in_progress", "alice", [])
    assert not (tmp_git_repo / "logs").exists()
    assert cli(tmp_git_repo, "--actor", "alice", "agent", "--task", "t-1") == 1  # resumed: ran, no_progress
    assert "t-1: no_progress" in capsys.readouterr().out
    # the takeover command the error suggests works
    assert cli(tmp_git_repo, "task", "update", "t-1", "--status", "open", "--assignee", "") == 0


def test_token_budget_on_an_adaptive_alias_is_refused_before_the_claim(
        tmp_git_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Claude Code 2.1.331 ignores a token budget on the `opus` alias (test_claude_e2e.py shows
    the request stays adaptive), so the run is refused instead of silently getting less."""
    write_queue(tmp_git_repo, [task_record("t-1", title="Add parser")])
    (tmp_git_repo / ".orchestrator.yml").write_text(
        "agent:\n  profile: claude\n  model: opus\n  budgets: ['16000']\n")
    assert cli(tmp_git_repo, "agent", "--task", "t-1") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no effect on model 'opus'" in err
    t = task(tmp_git_repo, "t-1")
    assert t.status == "open" and not t.assignee
