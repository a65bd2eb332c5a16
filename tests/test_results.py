"""Result records: an agent run in one checkout, its result applied in another.

This is the GitHub workflow's shape on one machine: the plan claims in the report repository,
the agent works in a clone with its own copy of the queue and hands over result.json plus a
git bundle, and the apply step lands the commits and the queue changes in the report repo."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from orchestrator import gitops, runlog
from orchestrator.agents.outcome import Outcome
from orchestrator.agents.session import task_command
from orchestrator.config import config_for_repo
from orchestrator.coordinator.agent import run_agent
from orchestrator.coordinator.apply import apply_results
from orchestrator.coordinator.local import Coordinator
from orchestrator.coordinator.planning import plan_cycle
from orchestrator.coordinator.results import (
    RESULT_VERSION,
    Commits,
    DepAdded,
    NewComment,
    ResultRecord,
    TaskEffects,
    read_result,
)
from orchestrator.dispatch.policy import LoopState
from orchestrator.errors import UserError
from orchestrator.forge.local import LocalForge
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.model import Task
from support.dispatch import history_of, make_agent, setup_repo, tasks_of
from support.repo import git, task_record

AGENT = '''
new = task("create", "Follow-up found while working", "--silent").strip()
task("dep", "add", "t-2", new)
task("comment", task_id, "done; the follow-up is " + new)
commit("feature.txt", "the feature\\n")
with open("leftover.txt", "w") as f:
    f.write("not committed by the agent\\n")
task("close", task_id, "--reason", "implemented")
'''


def test_a_record_survives_json() -> None:
    record = ResultRecord(
        task_id="t-1", attempt=2, kind="implement", budget="high",
        log_dir="logs/run/20260529T100000Z_t-1", started_at="2026-05-29T10:00:00Z",
        outcome=Outcome("success", exit_code=0, cost_usd=0.25, critical_errors=("x",)),
        effects=TaskEffects(status="closed", close_reason="done", notes="n",
                            comments=(NewComment("agent", "hi"),),
                            created=(Task("t-9", "New", created_at="2026-05-29T10:00:00Z"),),
                            deps_added=(DepAdded("t-2", "t-9", "blocks"),)),
        commits=Commits(base="a" * 40, head="b" * 40, branch="orchestrator/t-1",
                        bundle="commits.bundle"),
        profile="claude", duration_s=12.5)
    data = json.loads(json.dumps(record.to_json()))
    assert data["version"] == RESULT_VERSION
    back = ResultRecord.from_json(data)
    assert back.to_json() == record.to_json()
    assert back.effects.created[0].id == "t-9" and back.outcome.critical_errors == ("x",)


@pytest.mark.parametrize("data, expect", [
    ({"version": RESULT_VERSION + 1, "task_id": "t-1"}, "result format version"),
    ({"version": RESULT_VERSION, "task_id": "t-1"}, "not a result record"),
])
def test_a_bad_record_is_one_line(tmp_path: Path, data: dict[str, Any], expect: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=expect):
        read_result(path)


def test_a_result_made_in_another_checkout_is_applied_here(tmp_git_repo: Path,
                                                           tmp_path: Path) -> None:
    report = tmp_git_repo
    setup_repo(report, [task_record("t-1"), task_record("t-2")],
               make_agent(tmp_path / "agent.py", AGENT))
    config = config_for_repo(report, None)
    coord = Coordinator(repo=report, store=open_store(report, config), config=config,
                        forge=LocalForge(None, echo=lambda line: None), actor="orchestrator")
    # PLAN, in the report repository
    cp = plan_cycle(coord.ports, LoopState())
    assert [c.launch.task_id for c in cp.claimed] == ["t-1"]
    assert tasks_of(report)["t-1"].status == "in_progress"

    # RUN AGENTS, in a clone with its own copy of the queue (the agent job's checkout)
    agent_repo = tmp_path / "agent-checkout"
    git(tmp_path, "clone", "-q", str(report), str(agent_repo))
    agent_store = open_store(agent_repo, config)
    wt = gitops.create_task_worktree(agent_repo, "t-1")
    result = run_agent(cp.claimed[0].launch, repo=agent_repo, store=agent_store, config=config,
                       worktree=wt, task_cmd=task_command(agent_store, agent_repo, wt.path),
                       bundle=True)
    assert result.outcome.kind == "success" and result.commits.bundle == "commits.bundle"
    new_id = result.effects.created[0].id
    assert result.effects.deps_added == (DepAdded("t-2", new_id, "blocks"),)
    # the artifact: the run's log directory, downloaded somewhere else
    artifact = tmp_path / "artifact"
    shutil.copytree(agent_repo / result.log_dir, artifact)
    assert (artifact / runlog.RESULT).is_file()

    # APPLY RESULTS, back in the report repository
    (applied,) = apply_results(coord.ports, [read_result(artifact / runlog.RESULT)])
    assert applied.record.decision == "done" and len(applied.landed) == 2
    tasks = tasks_of(report)
    assert tasks["t-1"].status == "closed" and tasks["t-1"].close_reason == "implemented"
    assert tasks[new_id].title == "Follow-up found while working"
    assert [d.depends_on_id for d in tasks["t-2"].dependencies] == [new_id]
    assert any(c.text == f"done; the follow-up is {new_id}" for c in tasks["t-1"].comments)
    assert [(r.kind, r.decision) for r in history_of(report, "t-1")] == [("success", "done")]
    assert (report / "feature.txt").read_text() == "the feature\n"
    assert (report / "leftover.txt").is_file()  # committed to the task branch by run_agent
    assert not list(coord.leases.root.glob("*.json"))
    # the queue state is committed with the landed work
    assert git(report, "log", "-1", "--format=%s").strip() == "orchestrator: queue state"

    # applying the same result again changes nothing in the queue (a local run's agent has
    # already written its changes to the shared queue when its result is applied)
    before = {t.id: (t.status, len(t.comments)) for t in tasks_of(report).values()}
    from orchestrator.coordinator.apply import apply_task_effects
    apply_task_effects(coord.store, "t-1", result.effects, actor="orchestrator")
    assert {t.id: (t.status, len(t.comments)) for t in tasks_of(report).values()} == before
    coord.close()
