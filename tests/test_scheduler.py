"""Scheduler order and invariants, the plan built from a queue, and the status Markdown."""
from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.config import Config, DispatchConfig
from orchestrator.dispatch import scheduler
from orchestrator.dispatch.plan import make_plan, render_plan
from orchestrator.dispatch.policy import LoopState
from orchestrator.forge.status import mermaid, render_status
from orchestrator.tasks import graph
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.kinds import task_kind
from orchestrator.tasks.model import Comment, Task, task_from_record
from support.repo import task_record


def queue(*records: dict) -> dict[str, Task]:
    return {r["id"]: task_from_record(r) for r in records}


def cfg(**dispatch: object) -> Config:
    return dataclasses.replace(Config(), dispatch=dataclasses.replace(DispatchConfig(), **dispatch))


def launch_order(tasks: dict[str, Task], config: Config, running: tuple[str, ...] = ()) -> list[str]:
    info = scheduler.GraphInfo.of(tasks)
    ready = graph.ready(tasks)
    return [t.id for t in scheduler.schedule(ready, running, info, config)]


def test_priority_then_critical_path_then_bd_order() -> None:
    tasks = queue(
        task_record("a", priority=2),                       # alone
        task_record("b", priority=2),                       # starts a chain of 3
        task_record("b2", blocks_on=["b"]), task_record("b3", blocks_on=["b2"]),
        task_record("c", priority=1),                       # higher priority wins
        task_record("d", priority=2, created_at="2026-05-30T08:00:00Z"),  # newer: bd order first
    )
    assert launch_order(tasks, cfg(max_parallel=10)) == ["c", "b", "d", "a"]
    assert launch_order(tasks, cfg(max_parallel=2)) == ["c", "b"]
    assert launch_order(tasks, cfg(max_parallel=1)) == ["c"]


def test_running_tasks_hold_slots_and_are_not_launched_again() -> None:
    tasks = queue(task_record("a"), task_record("b"), task_record("c"))
    assert launch_order(tasks, cfg(max_parallel=2), running=("x",)) == ["a"]
    assert launch_order(tasks, cfg(max_parallel=2), running=("x", "y")) == []


def test_containers_and_excluded_types_are_never_dispatched() -> None:
    tasks = queue(
        task_record("e", issue_type="epic"),
        task_record("f", issue_type="feature"),             # a container: it has a child
        task_record("f.1", parent="f"),
        task_record("c", issue_type="chore"),
        task_record("t"),
    )
    assert launch_order(tasks, cfg(max_parallel=10)) == ["f.1", "c", "t"] or \
        set(launch_order(tasks, cfg(max_parallel=10))) == {"f.1", "c", "t"}
    assert "c" not in launch_order(tasks, cfg(max_parallel=10, exclude_types=["epic", "chore"]))


def test_closable_containers() -> None:
    tasks = queue(
        task_record("e", issue_type="epic"),
        task_record("e.1", parent="e", status="closed"),
        task_record("e.2", parent="e", status="closed"),
        task_record("g", issue_type="epic"),
        task_record("g.1", parent="g", status="closed"),
        task_record("g.2", parent="g"),
        task_record("h", issue_type="epic", status="closed"),
        task_record("h.1", parent="h", status="closed"),
        task_record("x", status="blocked"),
        task_record("k", issue_type="epic", blocks_on=["x"]),  # its own open blocker: bd refuses
        task_record("k.1", parent="k", status="closed"),
    )
    assert scheduler.closable_containers(tasks) == ["e"]


def test_task_kinds() -> None:
    tasks = [Task("a", "Plan features for phase2"), Task("b", "Plan tasks for Feature A"),
             Task("c", "Run full regression pack"), Task("d", "A.E2E End-to-end verification"),
             Task("e", "Write the upload endpoint"), Task("f", "x", labels=("kind:verify",))]
    assert [task_kind(t, Config()) for t in tasks] == [
        "plan_features", "plan_tasks", "regression", "verify", "implement", "verify"]


@st.composite
def dags(draw: st.DrawFn) -> dict[str, Task]:
    n = draw(st.integers(1, 25))
    records = []
    for i in range(n):
        blockers = draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=3, unique=True)) if i else []
        records.append(task_record(
            f"t-{i}", priority=draw(st.integers(0, 4)),
            status=draw(st.sampled_from(["open", "open", "open", "closed", "in_progress"])),
            issue_type=draw(st.sampled_from(["task", "task", "task", "epic", "bug"])),
            blocks_on=[f"t-{b}" for b in blockers if b != i]))
    return queue(*records)


@settings(max_examples=200, deadline=None)
@given(dags(), st.integers(1, 8), st.data())
def test_schedule_invariants(tasks: dict[str, Task], max_parallel: int, data: st.DataObject) -> None:
    config = cfg(max_parallel=max_parallel)
    info = scheduler.GraphInfo.of(tasks)
    ready = graph.ready(tasks)
    running = data.draw(st.lists(st.sampled_from(sorted(tasks)), max_size=max_parallel + 2,
                                 unique=True))
    chosen = scheduler.schedule(ready, running, info, config)
    ids = [t.id for t in chosen]
    ready_ids = {t.id for t in ready}
    # never more than the free slots, never twice, never a running task
    assert len(ids) <= max(0, max_parallel - len(running))
    assert len(ids) == len(set(ids))
    assert not set(ids) & set(running)
    # only ready, dispatchable tasks: nothing blocked, closed, in progress or a container
    for t in chosen:
        assert t.id in ready_ids and t.status == "open"
        assert t.issue_type != "epic" and t.id not in info.containers
    # it fills the slots when it can
    eligible = [t for t in ready if t.id not in running and scheduler.dispatchable(t, info, config)]
    assert len(ids) == min(len(eligible), max(0, max_parallel - len(running)))
    # order: no skipped eligible task sorts before a chosen one
    key = {t.id: (t.priority, -info.critical.get(t.id, 1)) for t in eligible}
    if ids:
        worst = max(key[i] for i in ids)
        for t in eligible:
            if t.id not in ids:
                assert key[t.id] >= worst


def _with_attempts(record: dict, *recs: AttemptRecord) -> dict:
    record["comments"] = [{"id": str(i), "issue_id": record["id"], "author": "orchestrator",
                           "text": render(r), "created_at": "2026-05-29T08:00:00Z"}
                          for i, r in enumerate(recs)]
    return record


def test_plan_attempts_budgets_and_stale_claims() -> None:
    tasks = queue(
        _with_attempts(task_record("r"), AttemptRecord(1, "error", decision="retry")),
        _with_attempts(task_record("h"), AttemptRecord(1, "error", decision="retry"),
                       AttemptRecord(2, "context_exhausted", decision="handoff")),
        task_record("s", status="in_progress", assignee="orchestrator"),   # stale: no live run
        task_record("live", status="in_progress", assignee="orchestrator"),
        task_record("other", status="in_progress", assignee="alice"),     # a human's: left alone
    )
    plan = make_plan(tasks, live={"live"}, actor="orchestrator", config=cfg(max_parallel=4))
    assert [r.task_id for r in plan.reclaim] == ["s"]
    got = {ln.task_id: (ln.attempt, ln.budget) for ln in plan.launches}
    assert got == {"r": (2, "xhigh"), "h": (3, "xhigh"), "s": (2, "high")}
    assert plan.running == ("live",)
    lines = render_plan(plan, dry_run=True)
    assert any(line.startswith("would reclaim s") for line in lines)


def test_plan_stops_on_a_guard_but_still_reconciles() -> None:
    tasks = queue(task_record("a"), task_record("s", status="in_progress", assignee="orchestrator"))
    plan = make_plan(tasks, live=(), actor="orchestrator", config=Config(),
                     state=LoopState(stop_file=True))
    assert plan.launches == () and "kill switch" in plan.stop
    assert [r.task_id for r in plan.reclaim] == ["s"]


def test_plan_skips_escalated_tasks_after_a_reset() -> None:
    esc = _with_attempts(task_record("x", status="blocked", labels=["needs-human"]),
                         AttemptRecord(3, "error", decision="escalate"))
    plan = make_plan(queue(esc), live=(), actor="o", config=Config())
    assert plan.escalated == ("x",) and plan.launches == ()
    esc["status"] = "open"  # a human resumed it: a fresh count and the first budget again
    plan = make_plan(queue(esc), live=(), actor="o", config=Config())
    assert [(ln.attempt, ln.budget) for ln in plan.launches] == [(1, "high")]


def test_status_markdown_and_capped_mermaid() -> None:
    records = [task_record("e", issue_type="epic", labels=["phase:p1"])]
    records += [task_record(f"t-{i}", parent="e", blocks_on=[f"t-{i - 1}"] if i else [])
                for i in range(60)]
    records[1]["status"] = "closed"
    tasks = queue(*records)
    md = render_status(tasks)
    assert "| phase p1 | 1/61 |" in md
    assert "```mermaid" in md and "more open tasks not shown" in md
    dag = mermaid(tasks, limit=5)
    assert dag.count('["') == 5


def test_status_lists_escalated_tasks_with_the_way_to_resume() -> None:
    t = _with_attempts(task_record("x", status="blocked", labels=["needs-human"]),
                       AttemptRecord(3, "error", digest="it broke", log_dir="logs/run/1_x",
                                     decision="escalate"))
    md = render_status(queue(t))
    assert "Waiting for a human" in md and "logs/run/1_x" in md
    assert "orchestrator task update x --status open" in md


def test_comment_type_is_the_store_comment() -> None:  # the plan reads comments back
    assert Comment("1", "x", "a", render(AttemptRecord(1, "error")), "").text.startswith("orchestrator:")
