"""docs/agents.md's complete `command` agent, run as the docs write it: the config and the script
are taken from the page, committed as it says, and drained by `orchestrator run`."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.repo import git, task_record, write_queue

DOC = Path(__file__).parent.parent / "docs" / "agents.md"


def example() -> tuple[str, str]:
    text = DOC.read_text()
    section = text[text.index("### A complete `command` agent"):]
    section = section[:section.index("\n## ")]
    (config,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    (script,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return config, script


def orch(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=repo,
                          capture_output=True, text=True)


def test_the_command_agent_in_the_docs_drains_a_queue(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    config, script = example()
    (repo / ".orchestrator.yml").write_text(config)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "agent.sh").write_text(script)
    write_queue(repo, [task_record("ex-1", title="Write a note")])
    git(repo, "add", ".orchestrator.yml", "scripts/agent.sh", ".beads/issues.jsonl")
    git(repo, "commit", "-q", "-m", "agent")
    done = orch(repo, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "notes" / "ex-1.txt").read_text() == "done by the example agent\n"
    shown = orch(repo, "show", "ex-1", "--json")
    assert '"status": "closed"' in shown.stdout and "example agent finished" in shown.stdout
    # the transcript has its stdout and, as output.log has them, its stderr lines
    logs = orch(repo, "logs", "show", "ex-1").stdout
    assert "task ex-1, attempt 1, budget high" in logs
    assert re.search(r"^\[stderr\] working in .*/orchestrator/worktrees/", logs, re.M), logs
