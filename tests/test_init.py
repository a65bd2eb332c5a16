"""`orchestrator init`: the workflows, a commented config, the .gitignore lines; idempotent,
and a file its user edited is never replaced without --force."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.commands.init import GITIGNORE_LINES, config_template
from orchestrator.config import load_config
from orchestrator.workflows import ACTION, TEMPLATES, workflow_text

ROOT = Path(__file__).resolve().parent.parent


def init(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # stdin closed, as in CI and in the act test: init must not ask anything
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(repo), "init",
                           *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


def snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(repo).parts}


def test_init_writes_the_workflows_config_and_gitignore_and_a_second_run_changes_nothing(
        tmp_git_repo: Path) -> None:
    first = init(tmp_git_repo)
    assert first.returncode == 0, first.stderr
    for name in TEMPLATES:
        assert (tmp_git_repo / ".github" / "workflows" / name).read_text() == workflow_text(name)
    config = load_config(tmp_git_repo / ".orchestrator.yml", required=True)
    assert config.dispatch.max_parallel == 1 and config.store == "auto"
    assert "# " in (tmp_git_repo / ".orchestrator.yml").read_text()  # commented for its reader
    ignored = (tmp_git_repo / ".gitignore").read_text().splitlines()
    assert all(line in ignored for line in GITIGNORE_LINES)
    assert not (tmp_git_repo / "prompt").exists()

    before = snapshot(tmp_git_repo)
    second = init(tmp_git_repo)
    assert second.returncode == 0, second.stderr
    assert snapshot(tmp_git_repo) == before
    assert all(line.startswith("unchanged ") for line in second.stdout.splitlines())


def test_an_edited_workflow_is_kept_with_its_diff_until_force(tmp_git_repo: Path) -> None:
    assert init(tmp_git_repo).returncode == 0
    wf = tmp_git_repo / ".github" / "workflows" / "orchestrator.yml"
    edited = wf.read_text().replace("timeout-minutes: 15", "timeout-minutes: 20")
    wf.write_text(edited)

    kept = init(tmp_git_repo)
    assert kept.returncode == 1
    assert wf.read_text() == edited
    assert "-    timeout-minutes: 20\n+    timeout-minutes: 15" in kept.stdout
    assert "kept .github/workflows/orchestrator.yml" in kept.stdout

    forced = init(tmp_git_repo, "--force")
    assert forced.returncode == 0, forced.stdout
    assert wf.read_text() == workflow_text("orchestrator.yml")


def test_an_existing_config_is_never_rewritten_even_with_force(tmp_git_repo: Path) -> None:
    mine = "store: jsonl  # mine\ndispatch: {max_parallel: 2}\n"
    (tmp_git_repo / ".orchestrator.yml").write_text(mine)
    assert init(tmp_git_repo, "--force").returncode == 0
    assert (tmp_git_repo / ".orchestrator.yml").read_text() == mine


def test_gitignore_gets_only_the_missing_lines(tmp_git_repo: Path) -> None:
    (tmp_git_repo / ".gitignore").write_text("node_modules/\nlogs/")  # no final newline
    done = init(tmp_git_repo)
    assert done.returncode == 0
    assert "updated .gitignore: logs/status.md, .beads/*.lock\n" in done.stdout  # what it added
    lines = (tmp_git_repo / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "logs/"]
    assert lines.count("logs/") == 1 and ".beads/*.lock" in lines and "logs/status.md" in lines


def test_prompts_are_copied_only_when_asked(tmp_git_repo: Path) -> None:
    assert init(tmp_git_repo, "--prompts").returncode == 0
    copied = sorted(p.name for p in (tmp_git_repo / "prompt").iterdir())
    packaged = sorted(p.name for p in (ROOT / "orchestrator" / "prompt").glob("*.txt"))
    assert copied == packaged and "coding_agent_prompt.txt" in copied


def test_action_option_points_every_step_at_that_action(tmp_git_repo: Path) -> None:
    pinned = "someone/fork@" + "a" * 40
    assert init(tmp_git_repo, "--action", pinned).returncode == 0
    texts = [(tmp_git_repo / ".github" / "workflows" / n).read_text() for n in TEMPLATES]
    assert all(ACTION not in t for t in texts)
    assert sum(t.count(f"uses: {pinned}") for t in texts) == 4  # plan, agent, report, command


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_projects_own_workflows_are_the_templates(name: str) -> None:
    """.github/workflows/ is linted by CI and used through workflow_call: the same files."""
    assert (ROOT / ".github" / "workflows" / name).read_text() == workflow_text(name)


def test_config_template_is_valid_config(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(config_template())
    load_config(path, required=True)
