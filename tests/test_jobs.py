"""The workflow's jobs without act: claims and results reach the branch as compare-and-swap
pushes, so overlapping runs never claim a task twice, hold max_parallel together, and a
result is applied on top of whatever landed meanwhile; a result that speaks for another task,
or whose commits touch protected paths, lands nothing."""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.coordinator import jobs
from orchestrator.errors import UserError
from orchestrator.forge.local import LocalForge
from orchestrator.tasks.jsonl import JsonlStore
from support.dispatch import history_of, make_agent, setup_repo, tasks_of
from support.repo import git, task_record

ACTOR = "orchestrator"


def origin_and_clone(tmp_path: Path, records: list[dict], agent_body: str = "",
                     **dispatch: object) -> tuple[Path, Path]:
    """A bare `origin` holding a queue, and a first clone of it."""
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    git(seed, "config", "user.email", "t@example.invalid")
    git(seed, "config", "user.name", "T")
    command = make_agent(seed / "agent.py", agent_body or "sys.exit(0)\n")
    command[1] = "agent.py"
    setup_repo(seed, records, command, **dispatch)
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    return origin, clone(origin, tmp_path / "c1")


def clone(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True)
    git(dest, "config", "user.email", "t@example.invalid")
    git(dest, "config", "user.name", "T")
    return dest


def planner(repo: Path, before=None):  # noqa: ANN001, ANN202
    config = load_config(repo / ".orchestrator.yml", required=True)
    calls = {"n": 0}

    def stores() -> JsonlStore:
        calls["n"] += 1
        if before is not None and calls["n"] == 1:
            before()   # another run pushes between this run's sync and its push
        return JsonlStore(repo / ".beads" / "issues.jsonl")

    return lambda: jobs.plan_job(jobs.Branch(repo, "main"), stores, config, LocalForge(None),
                                 ACTOR)


def in_progress(repo: Path) -> set[str]:
    return {t.id for t in tasks_of(repo).values() if str(t.status) == "in_progress"}


def test_a_planner_that_lost_the_race_replans_from_the_new_tip(tmp_path: Path) -> None:
    origin, a = origin_and_clone(tmp_path, [task_record(f"t-{i}") for i in range(1, 5)],
                                 max_parallel=3)
    b = clone(origin, tmp_path / "c2")
    first = {}

    def a_plans_first() -> None:
        first["a"] = planner(a)()

    second = planner(b, before=a_plans_first)()   # b's first try is rejected: a pushed first

    claimed_a = {ln.task_id for ln in first["a"].claimed}
    claimed_b = {ln.task_id for ln in second.claimed}
    assert len(claimed_a) == 3 and claimed_b == set()    # max_parallel 3 across both runs
    final = clone(origin, tmp_path / "final")
    assert in_progress(final) == claimed_a
    assert git(final, "rev-parse", "HEAD").strip() == first["a"].base
    assert second.base == first["a"].base            # b pushed nothing: nothing to claim


def test_overlapping_planners_split_the_free_slots(tmp_path: Path) -> None:
    origin, a = origin_and_clone(tmp_path, [task_record(f"t-{i}") for i in range(1, 5)],
                                 max_parallel=4)
    b = clone(origin, tmp_path / "c2")
    config = load_config(a / ".orchestrator.yml", required=True)
    small = dataclasses.replace(config, dispatch=dataclasses.replace(config.dispatch,
                                                                     max_parallel=2))
    got_a = jobs.plan_job(jobs.Branch(a, "main"),
                          lambda: JsonlStore(a / ".beads" / "issues.jsonl"), small,
                          LocalForge(None), ACTOR)
    got_b = planner(b)()   # from a stale clone, max_parallel 4: two slots are left
    ids_a = {ln.task_id for ln in got_a.claimed}
    ids_b = {ln.task_id for ln in got_b.claimed}
    assert len(ids_a) == 2 and len(ids_b) == 2 and not ids_a & ids_b
    assert in_progress(clone(origin, tmp_path / "final")) == ids_a | ids_b


AGENT_DONE = '''
commit(f"work-{task_id}.txt", "done\\n")
task("close", task_id, "--reason", "done")
'''


def run_leg(origin: Path, tmp_path: Path, base: str, task_id: str, attempt: int,
            name: str) -> Path:
    """The agent job: a clone at the plan's commit; returns the result directory."""
    repo = clone(origin, tmp_path / f"agent-{name}")
    git(repo, "checkout", "-q", base)
    config = load_config(repo / ".orchestrator.yml", required=True)
    out = tmp_path / f"result-{name}"
    jobs.agent_job(repo, JsonlStore(repo / ".beads" / "issues.jsonl"), config, task_id=task_id,
                   attempt=attempt, budget="low", kind="", result_dir=out)
    return out


def report(origin: Path, tmp_path: Path, out: Path, task_id: str, attempt: int,
           name: str) -> list:  # noqa: ANN001
    repo = clone(origin, tmp_path / f"report-{name}")
    config = load_config(repo / ".orchestrator.yml", required=True)
    record = jobs.load_result(out, task_id=task_id, attempt=attempt, agent_job="success")
    return jobs.report_job(jobs.Branch(repo, "main"),
                           lambda: JsonlStore(repo / ".beads" / "issues.jsonl"), config,
                           LocalForge(None), ACTOR, record)


def test_each_leg_lands_its_own_result_on_top_of_the_others(tmp_path: Path) -> None:
    origin, a = origin_and_clone(tmp_path, [task_record("t-1"), task_record("t-2")],
                                 AGENT_DONE, max_parallel=2)
    plan = planner(a)()
    outs = {ln.task_id: run_leg(origin, tmp_path, plan.base, ln.task_id, ln.attempt, ln.task_id)
            for ln in plan.claimed}
    assert set(outs) == {"t-1", "t-2"}
    assert (outs["t-1"] / "result.json").is_file() and (outs["t-1"] / "commits.bundle").is_file()
    # the agent jobs pushed nothing
    assert git(origin, "rev-parse", "main").strip() == plan.base
    applied = [report(origin, tmp_path, outs[t], t, 1, t) for t in ("t-2", "t-1")]
    assert [a[0].record.decision for a in applied] == ["done", "done"]
    final = clone(origin, tmp_path / "final")
    assert {t.id: str(t.status) for t in tasks_of(final).values()} == \
        {"t-1": "closed", "t-2": "closed"}
    assert (final / "work-t-1.txt").is_file() and (final / "work-t-2.txt").is_file()


def test_a_result_for_another_task_or_touching_the_workflows_lands_nothing(
        tmp_path: Path) -> None:
    body = '''
import os
os.makedirs(".github/workflows", exist_ok=True)
commit(".github/workflows/evil.yml", "on: push\\n")
task("close", task_id, "--reason", "done")
'''
    origin, a = origin_and_clone(tmp_path, [task_record("t-1"), task_record("t-2")], body,
                                 max_parallel=2)
    plan = planner(a)()
    out = run_leg(origin, tmp_path, plan.base, "t-1", 1, "evil")
    applied = report(origin, tmp_path, out, "t-1", 1, "evil")
    assert applied[0].record.subclass == "tamper" and applied[0].record.decision == "escalate"
    final = clone(origin, tmp_path / "final")
    assert not (final / ".github" / "workflows" / "evil.yml").exists()
    assert str(tasks_of(final)["t-1"].status) == "blocked"

    # t-2's leg uploads a record that claims to be t-1's second attempt
    out2 = run_leg(origin, tmp_path, plan.base, "t-2", 1, "liar")
    data = json.loads((out2 / "result.json").read_text())
    data["task_id"], data["attempt"] = "t-1", 2
    (out2 / "result.json").write_text(json.dumps(data))
    applied = report(origin, tmp_path, out2, "t-2", 1, "liar")
    assert applied[0].task_id == "t-2" and applied[0].record.subclass == "tamper"
    assert [r.kind for r in history_of(clone(origin, tmp_path / "f2"), "t-1")] == ["error"]


def test_a_burst_of_rejections_is_outlasted_with_jittered_redos(tmp_path: Path) -> None:
    """A burst: every other in-flight leg, a plan and a cache push land first, one per round.
    The compare-and-swap outlasts max_parallel + 2 rejections, waits a random, bounded,
    growing moment before each redo (no real sleep here), and gives up loudly after that."""
    origin, a = origin_and_clone(tmp_path, [task_record("t-1")])
    rival = clone(origin, tmp_path / "rival")
    max_parallel = 16
    tries = jobs.push_tries(max_parallel)
    assert tries == 18 and jobs.push_tries(1) == jobs.MIN_PUSH_TRIES

    def contended(rejections: int):  # noqa: ANN202
        waits: list[float] = []
        bounds: list[tuple[float, float]] = []

        def draw(lo: float, hi: float) -> float:
            bounds.append((lo, hi))
            return hi

        def change(tip: str) -> tuple[int, bool]:
            if len(waits) < rejections:   # another writer lands between our sync and push
                git(rival, "pull", "-q", "--rebase", "origin", "main")
                git(rival, "commit", "-q", "--allow-empty", "-m", f"rival {len(waits)}")
                git(rival, "push", "-q", "origin", "HEAD:main")
            git(a, "commit", "-q", "--allow-empty", "-m", "ours")
            return len(waits), True

        result = jobs.compare_and_swap(jobs.Branch(a, "main"), change, tries=tries,
                                       event=lambda _m: None, sleep=waits.append, draw=draw)
        return result, waits, bounds

    result, waits, bounds = contended(tries - 1)
    assert result == tries - 1 and len(waits) == tries - 1
    assert all(lo == 0.0 and 0 < hi <= jobs.REDO_JITTER_S for lo, hi in bounds)
    assert [hi for _, hi in bounds] == sorted(hi for _, hi in bounds)   # grows, then capped
    assert git(origin, "log", "-1", "--format=%s", "main").strip() == "ours"

    with pytest.raises(UserError, match=f"after {tries} tries"):
        contended(tries)


def test_a_retry_that_lost_the_race_to_a_report_is_made_again_on_the_new_tip(
        tmp_path: Path) -> None:
    """The comment job's `/orchestrator retry`: a report pushes between the job's sync and its
    push. The push is rejected, the reopen is made again on the report's tip, and the branch
    ends with both: the report's result and the reopened task, which the next plan launches."""
    from orchestrator.forge.comment_commands import reopen_escalated
    from orchestrator.tasks.model import Status
    from orchestrator.tasks.store import TaskChanges
    from support.github import escalated_record

    origin, a = origin_and_clone(tmp_path, [task_record("t-1", status="in_progress",
                                                        assignee=ACTOR),
                                            escalated_record("bd-7")])
    rival = clone(origin, tmp_path / "rival")
    config = load_config(a / ".orchestrator.yml", required=True)
    answers: list[str] = []

    def a_report_lands_first() -> None:
        JsonlStore(rival / ".beads" / "issues.jsonl").update(
            ["t-1"], TaskChanges(status=Status.CLOSED), actor=ACTOR)
        git(rival, "commit", "-qam", "t-1 done")
        git(rival, "push", "-q", "origin", "HEAD:main")

    def retry(store: JsonlStore) -> str:
        if not answers:
            a_report_lands_first()
        answers.append(reopen_escalated(store, config, "bd-7", actor="maintainer"))
        return answers[-1]

    stores = lambda: JsonlStore(a / ".beads" / "issues.jsonl")  # noqa: E731
    answer, pushed = jobs.edit_job(jobs.Branch(a, "main"), stores, config, LocalForge(None),
                                   ACTOR, retry)
    assert (answer, pushed) == ("", True) and answers == ["", ""]   # made twice, pushed once
    final = clone(origin, tmp_path / "final")
    assert git(final, "log", "-2", "--format=%s").splitlines() == ["orchestrator: queue state",
                                                                   "t-1 done"]
    tasks = tasks_of(final)
    assert str(tasks["t-1"].status) == "closed"                   # the report's result is kept
    assert str(tasks["bd-7"].status) == "open" and "needs-human" in tasks["bd-7"].labels
    # the next plan launches it, and the claim drops the escalation label
    plan = planner(final)()
    assert [ln.task_id for ln in plan.claimed] == ["bd-7"]
    assert "needs-human" not in tasks_of(clone(origin, tmp_path / "f2"))["bd-7"].labels

    # a retry of a task that waits for nobody changes nothing and pushes nothing
    tip = git(origin, "rev-parse", "main").strip()
    answer, pushed = jobs.edit_job(jobs.Branch(a, "main"), stores, config, LocalForge(None),
                                   ACTOR, lambda s: reopen_escalated(s, config, "t-1",
                                                                     actor="maintainer"))
    assert (answer, pushed) == ("it is not waiting for a human", False)
    assert git(origin, "rev-parse", "main").strip() == tip
