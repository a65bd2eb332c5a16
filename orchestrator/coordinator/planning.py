"""PLAN: what this cycle does, and the claims that make it so.

`plan_cycle` reads the queue and the leases, asks the pure `dispatch.plan.make_plan`, then
carries out the parts that only touch the queue: stale claims are released (recorded as
interrupted attempts), containers whose children are all closed are closed, and the tasks to
launch are leased and claimed. Launching the agents is the next step's job (`agent.run_agent`).

Claims are guarded twice: the store's atomic claim, and a lease file per task taken before it,
so two coordinators never run the same task at once.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from orchestrator import runlog
from orchestrator.config import STOP_FILE
from orchestrator.coordinator import crashpoints, queue_guard, recovery
from orchestrator.coordinator.ports import Ports
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import Launch, Plan, make_plan
from orchestrator.errors import ClaimRefused
from orchestrator.process import stop_group
from orchestrator.tasks.history import AttemptRecord, render
from orchestrator.tasks.model import Status, Task, now_rfc3339, parse_time
from orchestrator.tasks.store import TaskChanges


@dataclass(frozen=True)
class Claimed:
    launch: Launch
    task: Task               # as the claim left it


@dataclass(frozen=True)
class CyclePlan:
    plan: Plan
    claimed: tuple[Claimed, ...] = ()
    reconciled: bool = False                 # reconcile changed the queue
    containers_closed: tuple[str, ...] = ()


def live_runs(ports: Ports, tasks: Mapping[str, Task], running: Collection[str] = ()) -> set[str]:
    """Tasks whose runs may still be going: `running` (ours), those with a live lease, and those
    claimed by our actor with no lease file at all (claimed by something that takes no lease,
    e.g. another machine) until the lease time has passed since the claim."""
    live = set(running) | ports.leases.live()
    now = datetime.now(timezone.utc)
    kept = ports.graphs.kept(tasks)  # the tasks neither open nor closed, when kept
    facts = kept.facts if kept is not None else None
    for t in tasks.values() if facts is None else map(tasks.__getitem__, facts.busy):
        if t.status != Status.IN_PROGRESS or t.assignee != ports.actor or t.id in live:
            continue
        if ports.leases.read(t.id) is not None:
            continue  # a lease that is not live: its run is gone
        claimed = parse_time(t.started_at) or parse_time(t.updated_at)
        if claimed is not None and now - claimed < ports.leases.ttl:
            live.add(t.id)
    return live


def decide_plan(ports: Ports, state: policy.LoopState, *, running: Collection[str] = (),
                cost_usd: float = 0.0, only: str | None = None,
                known: tuple[Mapping[str, Task], set[str]] | None = None) -> Plan:
    """The plan for the queue as it is now; changes nothing. `known`: the queue and its live
    runs as the caller just read them (a pass over every task saved), used while the store
    still hands out that same queue."""
    tasks: Mapping[str, Task] = ports.store.all()
    # the same version (the jsonl store hands out the same view) or the same task objects
    if known is not None and (known[0] is tasks or known[0] == tasks):
        tasks, live = known  # (the same map too: the graph memo holds it already)
    else:
        live = live_runs(ports, tasks, running)
    state = dataclasses.replace(state, cost_usd=state.cost_usd + cost_usd,
                                stop_file=(ports.repo / STOP_FILE).exists())
    return make_plan(tasks, live=live, actor=ports.actor, config=ports.config, state=state,
                     only=only, info=ports.graphs.info(tasks))


def stop_orphans(ports: Ports, task_id: str) -> list[int]:
    """Stop agents still running for a task whose coordinator died (killed hard: its agents
    live on in their own process groups), so a task never has two agents."""
    lease = ports.leases.read(task_id)
    if lease is not None and not lease.here:
        return []
    stopped = []
    for pgid in runlog.orphaned_agents(runlog.runs_root(ports.repo), task_id):
        stop_group(pgid)
        stopped.append(pgid)
        ports.event(f"stopped the orphaned agent of {task_id} (process group {pgid}): "
                    "its coordinator is gone")
    return stopped


def reconcile(ports: Ports, plan: Plan,
              orphans: Callable[[str], list[int]] | None = None) -> tuple[str, ...]:
    """Release stale claims (recorded as interrupted attempts, their orphaned agents stopped)
    and close finished containers. Returns the containers it closed."""
    for r in plan.reclaim:
        digest = f"Reclaimed: {r.reason}."
        for pgid in (orphans or (lambda tid: stop_orphans(ports, tid)))(r.task_id):
            digest += f" Its orphaned agent (process group {pgid}) was stopped."
        rec = AttemptRecord(attempt=r.attempt, kind="interrupted", decision=policy.RELEASE,
                            digest=digest, at=now_rfc3339())
        ports.store.comment(r.task_id, render(rec), author=ports.actor)
        ports.store.update([r.task_id], TaskChanges(status=Status.OPEN, assignee=""),
                           actor=ports.actor)
        ports.leases.drop_stale(r.task_id)
        ports.event(f"reclaim {r.task_id}: {r.reason}; attempt {r.attempt} recorded as "
                    "interrupted")
    closed = []
    for tid in plan.close:
        result = ports.store.close([tid], reason="all children closed", actor=ports.actor)
        if result.closed:
            closed.append(tid)
            ports.event(f"close {tid}: all its children are closed")
    return tuple(closed)


def claim(ports: Ports, launches: Sequence[Launch]) -> tuple[Claimed, ...]:
    """Lease and claim each task; one that another coordinator holds is skipped."""
    out = []
    for ln in launches:
        if not ports.leases.acquire(ln.task_id):
            ports.event(f"skip {ln.task_id}: another coordinator holds its lease")
            continue
        try:
            task = ports.store.claim(ln.task_id, actor=ports.actor)
        except ClaimRefused as e:
            ports.leases.release(ln.task_id)
            ports.event(f"skip {ln.task_id}: claim refused ({e})")
            continue
        label = ports.config.github.escalation_label
        if label in task.labels:  # a human resumed an escalated task: it is no longer waiting
            task = ports.store.update([ln.task_id], TaskChanges(remove_labels=(label,)),
                                      actor=ports.actor)[0]
        out.append(Claimed(ln, task))
    return tuple(out)


def unclaim(ports: Ports, task_id: str) -> None:
    """Give a claimed task back untouched (its launch failed before the agent ran)."""
    ports.store.update([task_id], TaskChanges(status=Status.OPEN, assignee=""), actor=ports.actor)
    ports.leases.release(task_id)


def plan_cycle(ports: Ports, state: policy.LoopState, *, running: Collection[str] = (),
               cost_usd: float = 0.0, only: str | None = None, launch: bool = True,
               orphans: Callable[[str], list[int]] | None = None) -> CyclePlan:
    """Check the recovery invariant (repairing what breaks it), plan, reconcile and (with
    launch) claim what the plan launches."""
    queue_guard.check(ports)
    tasks = ports.store.all()
    live = live_runs(ports, tasks, running)
    restored = recovery.restore_invariant(ports, tasks, live)
    plan = decide_plan(ports, state, running=running, cost_usd=cost_usd, only=only,
                       known=None if restored else (tasks, live))
    closed = reconcile(ports, plan, orphans)
    claimed: tuple[Claimed, ...] = ()
    if launch and plan.launches:
        ports.event("ready queue: " + ", ".join(plan.ready))
        claimed = claim(ports, plan.launches)
        crashpoints.reached("claimed")
    queue_guard.keep(ports)
    return CyclePlan(plan, claimed, bool(plan.reclaim) or bool(closed) or bool(restored), closed)
