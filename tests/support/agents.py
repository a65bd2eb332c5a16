"""Helpers for agent tests: real scripted agents (small Python programs) and stream lines."""
from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

SID = "5e551011-0000-4000-8000-00000000abcd"


def claude_line(**fields: Any) -> str:
    return json.dumps({**fields, "session_id": SID, "uuid": "u-1"})


def claude_stream(final_text: str = "Done.", *, is_error: bool = False, subtype: str = "success",
                  **result_extra: Any) -> list[str]:
    """A short claude stream-json transcript: init, one text block, one tool call, the result."""
    result: dict[str, Any] = dict(type="result", subtype=subtype, is_error=is_error, num_turns=2,
                                  duration_ms=900, total_cost_usd=0.0123,
                                  modelUsage={"claude-opus-4-6": {"inputTokens": 100, "outputTokens": 40,
                                                                  "cacheReadInputTokens": 0,
                                                                  "cacheCreationInputTokens": 0}})
    if subtype == "success":
        result["result"] = final_text
    result.update(result_extra)
    return [
        claude_line(type="system", subtype="init", model="claude-opus-4-6", cwd="/w", tools=["Bash"],
                    permissionMode="bypassPermissions", claude_code_version="2.1.331"),
        claude_line(type="assistant", parent_tool_use_id=None, message={
            "role": "assistant", "content": [{"type": "text", "text": "Working on it."}]}),
        claude_line(type="assistant", parent_tool_use_id=None, message={
            "role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                              "input": {"command": "pytest -q"}}]}),
        claude_line(type="user", parent_tool_use_id=None, message={
            "role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                         "content": "3 passed", "is_error": False}]}),
        claude_line(**result),
    ]


def write_script(path: Path, body: str) -> Path:
    """A Python agent script; `body` is dedented. It runs with the test's interpreter."""
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


# An agent that updates the queue the way the prompt tells it to: with ORCHESTRATOR_TASK_CMD.
TASK_CMD_HELPER = """
import os, shlex, subprocess, sys
def task(*args):
    cmd = shlex.split(os.environ["ORCHESTRATOR_TASK_CMD"]) + list(args)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write("task command failed: %s\\n" % done.stderr)
    return done.stdout.strip()
TASK = os.environ["ORCHESTRATOR_TASK_ID"]
"""


def pid_alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def default_sigint() -> None:
    """Popen preexec_fn for a child a test will Ctrl-C: a shell that starts pytest in the
    background ignores SIGINT, the child inherits that, and Python then never raises
    KeyboardInterrupt; the test would wait out its timeout instead."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
