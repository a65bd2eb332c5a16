"""Prompts: task kinds, repo overrides, and everything the agent needs in the prompt."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from orchestrator.agents.prompts import TEMPLATES, build_prompt, load_template
from orchestrator.config import AgentConfig, Config
from orchestrator.errors import UserError
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.kinds import KINDS, task_kind
from orchestrator.tasks.model import Task, task_from_record
from support.repo import task_record


def tasks(*records: dict) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


@pytest.mark.parametrize("title,labels,kind", [
    ("Plan features for Phase 1", [], "plan_features"),
    ("Plan tasks for Feature A: upload", [], "plan_tasks"),
    ("Plan tasks for Regression Testing", [], "plan_tasks"),
    ("Run full regression pack", [], "regression"),
    ("A.E2E: End-to-end verification", [], "verify"),
    ("Create upload endpoint", [], "implement"),
    ("Create upload endpoint", ["kind:verify"], "verify"),
    ("Phase kickoff", ["bootstrap"], "plan_features"),
])
def test_task_kind(title: str, labels: list[str], kind: str) -> None:
    task = task_from_record(task_record("t-1", title=title, labels=labels))
    assert task_kind(task, Config()) == kind


def test_task_kind_is_configurable() -> None:
    cfg = Config(agent=dataclasses.replace(AgentConfig(), kind_verify=["type:qa", "^check "]))
    assert task_kind(task_from_record(task_record("t-1", title="Anything", issue_type="qa")), cfg) == "verify"
    assert task_kind(task_from_record(task_record("t-1", title="check login")), cfg) == "verify"
    assert task_kind(task_from_record(task_record("t-1", title="E2E run")), cfg) == "implement"
    with pytest.raises(UserError, match="kind:nonsense"):
        task_kind(task_from_record(task_record("t-1", labels=["kind:nonsense"])), cfg)


def test_every_kind_has_a_packaged_template() -> None:
    for kind in KINDS:
        assert "{task_id}" in load_template(TEMPLATES[kind], None, Config())
    assert "orchestrator agent" in load_template("loop_prompt.txt", None, Config())


def test_prompt_carries_task_parent_unblocks_history_and_queue_commands() -> None:
    q = tasks(
        task_record("f-1", title="Feature: upload", issue_type="feature",
                    description="Users upload videos.", acceptance_criteria="Upload works end to end"),
        task_record("t-1", title="Create upload endpoint", parent="f-1", blocks_on=["t-0"],
                    description="POST /upload", design="FastAPI route", acceptance_criteria="201 on success",
                    notes="HANDOFF: route stub exists in api/upload.py",
                    comments=[{"id": "1", "author": "alice", "text": "use chunked uploads",
                               "created_at": "2026-05-29T08:00:00Z"},
                              {"id": "2", "author": "orchestrator", "created_at": "2026-05-29T08:00:00Z",
                               "text": render(AttemptRecord(1, "error", "overloaded"))}]),
        task_record("t-0", title="Set up app", status="closed"),
        task_record("t-2", title="Add file validation", blocks_on=["t-1"]),
    )
    history = [AttemptRecord(1, "error", "overloaded", budget="high", digest="API overloaded twice.",
                             log_dir="logs/run/x_t-1")]
    text = build_prompt(task=q["t-1"], tasks=q, kind="implement", task_cmd="orchestrator task",
                        attempt=2, budget="xhigh", history=history, config=Config())
    for needle in ("# Your task: t-1: Create upload endpoint", "POST /upload", "FastAPI route",
                   "201 on success", "HANDOFF: route stub", "use chunked uploads",
                   "## Parent: f-1: Feature: upload", "Users upload videos.", "Upload works end to end",
                   "- t-0: Set up app (closed)", "- t-2: Add file validation (open)",
                   "This is attempt 2 (thinking budget xhigh)", "API overloaded twice.",
                   'orchestrator task close t-1 --reason', "orchestrator task update t-1 --append-notes",
                   "orchestrator task dep add t-1 \"$NEW\"", "--silent)"):
        assert needle in text, needle
    assert "orchestrator:attempt" not in text  # attempt records are shown as history, not raw
    assert "{task_cmd}" not in text and "{task_id}" not in text


def test_bd_store_prompts_use_bd() -> None:
    q = tasks(task_record("bd-1", title="Plan tasks for Feature B"))
    text = build_prompt(task=q["bd-1"], tasks=q, kind="plan_tasks", task_cmd="bd", config=Config())
    assert "bd close bd-1" in text and "bd create --title" in text and "orchestrator task" not in text


def test_repo_prompt_folder_overrides(tmp_path: Path) -> None:
    (tmp_path / "prompt").mkdir()
    (tmp_path / "prompt" / "coding_agent_prompt.txt").write_text(
        "House rules for {task_id}: run `make check` {not_a_placeholder}.\n")
    q = tasks(task_record("t-1"))
    text = build_prompt(task=q["t-1"], tasks=q, kind="implement", task_cmd="bd", repo=tmp_path,
                        config=Config())
    assert text.startswith("House rules for t-1: run `make check` {not_a_placeholder}.")
    assert "bd close t-1" in text


def test_every_queue_command_in_every_prompt_runs_against_the_jsonl_store(tmp_git_repo: Path) -> None:
    """Read each prompt as an agent would: every `orchestrator task ...` line it is told to run
    (with its <placeholders> filled in) must be accepted by the real command."""
    import re
    import shlex
    import subprocess
    import sys

    from orchestrator.tasks.jsonl import JsonlStore
    from support.repo import write_queue

    write_queue(tmp_git_repo, [task_record("f-1", title="Feature: upload", issue_type="feature"),
                               task_record("t-1", title="Upload endpoint", parent="f-1"),
                               task_record("x-1", title="Storage setup")])
    store = JsonlStore(tmp_git_repo / ".beads" / "issues.jsonl")
    cmd = [sys.executable, "-m", "orchestrator.cli", "task", "--repo", str(tmp_git_repo)]
    for kind in KINDS:
        q = store.all()
        text = build_prompt(task=q["t-1"], tasks=q, kind=kind, task_cmd="orchestrator task", config=Config())
        lines = [m.group(1) for m in re.finditer(r"(?:\$\(|^\s*|`)orchestrator task ([^`\n]*?)\)?(?:`|$)",
                                                 text, re.MULTILINE)]
        assert any(line.startswith("close t-1") for line in lines), kind
        for line in lines:
            if line.startswith("close"):
                continue  # closing would end the walk through the other kinds
            for placeholder, tid in (("<feature-id>", "f-1"), ('"$NEW"', "x-1"), ("<later-task>", "t-1"),
                                     ("<later>", "t-1"), ("<earlier-task>", "x-1"), ("<earlier>", "x-1"),
                                     ("<id>", "t-1")):
                line = line.replace(placeholder, tid)
            argv = shlex.split(line.replace("...", "x"))
            done = subprocess.run(cmd + argv, capture_output=True, text=True)
            assert done.returncode == 0, (kind, line, done.stderr)
    # features the planning prompt creates are epics: containers no agent is handed, even in the
    # moment before their "Plan tasks for ..." child exists
    created = [t for t in store.all().values() if t.title.startswith("Feature: ") and t.id != "f-1"]
    assert created and {t.issue_type for t in created} == {"epic"}


def test_a_repository_template_that_is_not_text_is_a_one_line_error(tmp_path: Path) -> None:
    prompts = tmp_path / "prompt"
    prompts.mkdir()
    (prompts / TEMPLATES["implement"]).write_bytes(b"Do {task_id}\n\xff\n")
    with pytest.raises(UserError, match=r"prompt/coding_agent_prompt\.txt:2: not UTF-8"):
        load_template(TEMPLATES["implement"], tmp_path, Config())
    (prompts / TEMPLATES["implement"]).write_bytes(b"x" * ((1 << 20) + 1))
    with pytest.raises(UserError, match=r"larger than 1 MB \(the limit for the prompt template\)$"):
        load_template(TEMPLATES["implement"], tmp_path, Config())
