"""The agent runner with real subprocess agents: streams, hangs, idling, floods, forked
children, outside kills, stop requests and secrets; the logs and the process group after."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from orchestrator.agents.outcome import classify, read_stream
from orchestrator.agents.runner import (
    CappedLog,
    ProcessResult,
    Scrubber,
    run_agent_process,
    secret_values,
)
from orchestrator.errors import UserError
from orchestrator.process import group_members
from support.agents import claude_stream, pid_alive, write_script


def run(tmp_path: Path, body: str, *, stream: str = "auto", timeout_s: float = 60,
        idle_timeout_s: float = 60, stop: threading.Event | None = None, max_log_bytes: int = 1 << 20,
        env: dict[str, str] | None = None, secrets: tuple[str, ...] = ()) -> tuple[ProcessResult, Path]:
    script = write_script(tmp_path / "agent.py", body)
    log_dir = tmp_path / "logs" / "run1"
    result = run_agent_process([sys.executable, str(script)], cwd=tmp_path,
                               env=env or dict(os.environ), log_dir=log_dir, stream=stream,
                               timeout_s=timeout_s, idle_timeout_s=idle_timeout_s, kill_grace_s=1,
                               heartbeat_s=0.2, max_log_bytes=max_log_bytes, secrets=secrets, stop=stop,
                               monitor_fields={"task": "t-1", "budget": "high"})
    return result, log_dir


def test_stream_then_exit_writes_three_logs(tmp_path: Path) -> None:
    lines = claude_stream("All tests pass.")
    body = f"""
    import sys, time
    LINES = {lines!r}
    sys.stderr.write("warning: model retiring soon\\n")
    for line in LINES:
        print(line, flush=True)
        time.sleep(0.05)
    """
    result, log_dir = run(tmp_path, body, stream="claude")
    assert result.exit_code == 0 and result.killed == "" and result.leftovers == 0
    raw = (log_dir / "verbose.jsonl").read_bytes()
    assert raw == ("\n".join(lines) + "\n").encode()  # byte for byte
    assert result.stdout == raw.decode()
    output = (log_dir / "output.log").read_text()
    assert "[init] model=claude-opus-4-6" in output
    assert "assistant: Working on it." in output and "-> Bash: pytest -q" in output
    assert "<- 3 passed" in output and "[result] success" in output
    assert "[stderr] warning: model retiring soon" in output
    monitor = (log_dir / "monitor.log").read_text()
    assert "start task=t-1 budget=high" in monitor and "exit code=0" in monitor
    facts = read_stream("claude", result.stdout, result.stderr, result.exit_code)
    assert classify(facts, task_id="t-1", exit_code=0).kind == "success"


def test_wall_clock_timeout_kills_the_group_even_when_term_is_ignored(tmp_path: Path) -> None:
    body = f"""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
    open({str(tmp_path / 'child.pid')!r}, "w").write(str(child.pid))
    while True:
        print("tick", flush=True)
        time.sleep(0.1)
    """
    result, log_dir = run(tmp_path, body, timeout_s=1.5)
    assert result.killed == "timeout" and result.exit_code == -9
    child = int((tmp_path / "child.pid").read_text())
    assert not pid_alive(child) and group_members(result.pid) == []
    monitor = (log_dir / "monitor.log").read_text()
    assert "kill reason=timeout" in monitor and "heartbeat" in monitor
    facts = read_stream("auto", result.stdout, result.stderr, result.exit_code)
    assert classify(facts, task_id="t", exit_code=result.exit_code, killed=result.killed).kind == "timeout"


def test_idle_timeout(tmp_path: Path) -> None:
    body = """
    import time
    print("thinking...", flush=True)
    time.sleep(300)
    """
    result, log_dir = run(tmp_path, body, idle_timeout_s=0.8)
    assert result.killed == "idle_timeout" and result.exit_code == -15
    assert group_members(result.pid) == []
    assert "kill reason=idle_timeout" in (log_dir / "monitor.log").read_text()
    assert (log_dir / "output.log").read_text() == "thinking...\n"


def test_flood_is_capped_and_keeps_the_final_result(tmp_path: Path) -> None:
    result_line = claude_stream("Flooded but done.")[-1]
    body = f"""
    import sys
    for i in range(40000):
        sys.stdout.write('{{"type":"user","session_id":"s","message":{{"role":"user","content":"%06d ' % i + "x" * 100 + '"}}}}\\n')
    sys.stderr.write("e" * 300000 + "\\n")
    print({result_line!r}, flush=True)
    """
    cap = 256 * 1024
    result, log_dir = run(tmp_path, body, stream="claude", max_log_bytes=cap)
    verbose = (log_dir / "verbose.jsonl").read_bytes()
    assert len(verbose) < cap + 200 and b"bytes cut here" in verbose
    assert verbose.rstrip().endswith(result_line.encode())
    assert (log_dir / "output.log").stat().st_size < cap + 200
    facts = read_stream("claude", result.stdout, result.stderr, 0)
    assert facts.verdict == "success" and facts.detail == "Flooded but done."


def test_forked_child_left_behind_is_killed(tmp_path: Path) -> None:
    body = f"""
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open({str(tmp_path / 'child.pid')!r}, "w").write(str(child.pid))
    print("done, leaving my server running")
    """
    result, log_dir = run(tmp_path, body)
    assert result.exit_code == 0 and result.leftovers == 1
    assert not pid_alive(int((tmp_path / "child.pid").read_text()))
    assert group_members(result.pid) == []
    assert "killed 1 leftover process(es)" in (log_dir / "monitor.log").read_text()


def test_killed_from_outside_is_a_timeout_without_result(tmp_path: Path) -> None:
    lines = claude_stream()[:2]
    body = f"""
    import os, signal
    for line in {lines!r}:
        print(line, flush=True)
    print('{{"type":"assistant","mess', end="", flush=True)  # cut off mid-line
    os.kill(os.getpid(), signal.SIGKILL)
    """
    result, _ = run(tmp_path, body, stream="claude")
    assert result.exit_code == -9 and result.killed == ""
    facts = read_stream("claude", result.stdout, result.stderr, result.exit_code)
    got = classify(facts, task_id="t", exit_code=result.exit_code)
    assert (got.kind, got.subclass) == ("timeout", "killed")


def test_stop_event_interrupts(tmp_path: Path) -> None:
    stop = threading.Event()
    ready = tmp_path / "started"
    body = f"""
    import time
    open({str(ready)!r}, "w").close()
    while True:
        print("working", flush=True)
        time.sleep(0.1)
    """
    def trigger() -> None:
        while not ready.exists():
            threading.Event().wait(0.05)
        stop.set()
    threading.Thread(target=trigger, daemon=True).start()
    result, log_dir = run(tmp_path, body, stop=stop)
    assert result.killed == "interrupted"
    assert group_members(result.pid) == []
    assert "kill reason=interrupted" in (log_dir / "monitor.log").read_text()


def test_secrets_are_scrubbed_from_every_log(tmp_path: Path) -> None:
    api_key = "sk-ant-api03-" + "q" * 40
    gh = "ghp_" + "x" * 36
    job_secret = "hunter2-correct-horse"
    env = dict(os.environ, ANTHROPIC_API_KEY=api_key, DEPLOY_PASSWORD=job_secret, MAX_THINKING_TOKENS="16000")
    body = """
    import os, sys
    print('{"type":"system","subtype":"init","session_id":"s","key":"%s"}' % os.environ["ANTHROPIC_API_KEY"])
    print("token %s and %s" % ("ghp_" + "x" * 36, os.environ["DEPLOY_PASSWORD"]), flush=True)
    sys.stderr.write("auth failed for %s\\n" % os.environ["ANTHROPIC_API_KEY"])
    """
    result, log_dir = run(tmp_path, body, env=env, secrets=tuple(secret_values(env)))
    assert secret_values(env) == sorted([api_key, job_secret], key=len, reverse=True)
    for name in ("verbose.jsonl", "output.log", "monitor.log"):
        text = (log_dir / name).read_text()
        assert api_key not in text and gh not in text and job_secret not in text, name
    assert "[REDACTED]" in (log_dir / "verbose.jsonl").read_text()
    assert api_key not in result.stderr and "[REDACTED]" in result.stderr


def test_scrubber_and_capped_log_units(tmp_path: Path) -> None:
    scrub = Scrubber(["s3cr3t-value"])
    assert scrub(b"a s3cr3t-value b github_pat_" + b"A" * 30) == b"a [REDACTED] b [REDACTED]"
    log = CappedLog(tmp_path / "x.log", 4096)
    for i in range(1000):
        log.write(f"{i:05d}\n".encode())
    log.close()
    text = (tmp_path / "x.log").read_text()
    assert text.startswith("00000\n") and text.endswith("00999\n") and "bytes cut here" in text


def test_missing_executable_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no-such-agent-cli: command not found"):
        run_agent_process(["no-such-agent-cli"], cwd=tmp_path, env=dict(os.environ),
                          log_dir=tmp_path / "l", timeout_s=5, idle_timeout_s=5)


@pytest.mark.parametrize("text", [
    b"cd /tmp/test_disk-usage-monitoring-service && pytest",
    b"see risk-assessment-matrix-for-release.md",
    b"ask-the-user-before-deleting-files",
])
def test_token_shapes_do_not_cut_ordinary_kebab_case_words(text: bytes) -> None:
    assert Scrubber()(text) == text


def test_token_shapes_still_match_after_separators() -> None:
    key = "sk-proj-" + "a1" * 15
    for sep in (" ", "=", ":", '"', "/", "\n"):
        assert Scrubber().text(f"key{sep}{key} end") == f"key{sep}[REDACTED] end"


def test_a_line_longer_than_one_read_is_scrubbed_and_rendered_whole(tmp_path: Path) -> None:
    """A tool result bigger than the 64 KiB read size (Claude reading a big file): the secret
    that straddles the read boundary is still scrubbed, and output.log shows the rendered
    tool result, not raw JSON pieces."""
    token = "ghp_" + "x" * 36
    body = f"""
    import json
    def line(content):
        return json.dumps({{"type": "user", "session_id": "s", "uuid": "u", "message": {{"role": "user",
            "content": [{{"type": "tool_result", "tool_use_id": "t1", "content": content}}]}}}})
    head = line("@").index("@")  # the token starts 20 bytes before the first read ends
    print(line("a" * (65536 - 20 - head - 1) + " " + {token!r} + " " + "b" * 100000), flush=True)
    print(json.dumps({{"type": "user", "session_id": "s", "uuid": "u2", "message": {{"role": "user",
          "content": [{{"type": "tool_result", "tool_use_id": "t2", "content": "short one"}}]}}}}), flush=True)
    """
    result, log_dir = run(tmp_path, body, stream="claude")
    verbose = (log_dir / "verbose.jsonl").read_text()
    assert token not in verbose and "[REDACTED]" in verbose
    output = (log_dir / "output.log").read_text()
    assert token not in output and '"tool_result"' not in output
    assert output.startswith("<- aaaa") and "<- short one" in output


def test_a_long_stderr_line_is_scrubbed_whole_and_logged_as_one_line(tmp_path: Path) -> None:
    token = "ghp_" + "y" * 36
    body = f"""
    import sys
    sys.stderr.write("e" * (65536 - 20) + " " + {token!r} + " " + "f" * 70000 + "\\\\n")
    """
    result, log_dir = run(tmp_path, body)
    output = (log_dir / "output.log").read_text()
    assert token not in output and token not in result.stderr
    assert output.count("[stderr] ") == 1


def test_capped_log_ignores_writes_after_close(tmp_path: Path) -> None:
    """A daemonized grandchild (outside the group) can keep the agent's stdout open and write
    after the run is over: the late write is dropped, not a traceback in a reader thread."""
    log = CappedLog(tmp_path / "x.log", 4096)
    log.write(b"during\n")
    log.close()
    log.write(b"late\n")
    assert (tmp_path / "x.log").read_bytes() == b"during\n"


def test_a_daemonized_grandchild_holding_stdout_does_not_hang_the_run(tmp_path: Path) -> None:
    """A grandchild that left the process group (setsid) cannot be killed with it; the run
    still ends, says so in monitor.log, and its late output is dropped quietly."""
    import signal
    body = f"""
    import os, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c",
        "import time; time.sleep(6); print('late', flush=True); time.sleep(30)"], start_new_session=True)
    open({str(tmp_path / 'child.pid')!r}, "w").write(str(child.pid))
    print("bye", flush=True)
    """
    try:
        result, log_dir = run(tmp_path, body)
        assert result.exit_code == 0
        monitor = (log_dir / "monitor.log").read_text()
        assert "output pipe still held open by a process outside the group" in monitor
        assert (log_dir / "output.log").read_text() == "bye\n"
    finally:
        os.kill(int((tmp_path / "child.pid").read_text()), signal.SIGKILL)


def test_secret_names_a_workflow_commonly_uses() -> None:
    env = {"GH_PAT": "pat-value-123456", "DB_PASS": "db-pass-value-1", "PATH": "/usr/local/bin:/usr/bin",
           "PYTHONPATH": "/src/lib/python", "PASSENGER_MODE": "enabled-mode", "MAX_THINKING_TOKENS": "16000"}
    assert sorted(secret_values(env)) == ["db-pass-value-1", "pat-value-123456"]


def test_a_script_without_a_shebang_is_a_user_error(tmp_path: Path) -> None:
    script = tmp_path / "my-agent.sh"
    script.write_text("echo hi\n")  # a team's script that forgot its #! line
    script.chmod(0o755)
    with pytest.raises(UserError, match="my-agent.sh: Exec format error"):
        run_agent_process([str(script)], cwd=tmp_path, env=dict(os.environ), log_dir=tmp_path / "l",
                          timeout_s=5, idle_timeout_s=5)
