"""One cycle's decisions as data (pure): what to reclaim, what to launch with which attempt
number and budget, which containers to close, and whether a loop guard stops the launches.
`orchestrator plan` prints this; `orchestrator cycle` carries it out."""
from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.config import Config
from orchestrator.dispatch import policy, scheduler
from orchestrator.tasks import graph
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.history import AttemptRecord, read_history, render
from orchestrator.tasks.kinds import task_kind
from orchestrator.tasks.model import Comment, Status, Task


@dataclass(frozen=True)
class Launch:
    task_id: str
    title: str
    kind: str          # which prompt: plan_features, plan_tasks, implementation, verification, ...
    attempt: int       # 1-based, handoffs and interruptions included
    budget: str        # thinking budget for this try
    why: str           # first try, retry after ..., handoff, ...
    priority: int
    critical_path: int


@dataclass(frozen=True)
class Reclaim:
    task_id: str
    attempt: int       # the interrupted try
    reason: str


@dataclass(frozen=True)
class Plan:
    ready: tuple[str, ...]                 # dispatchable ready tasks, in launch order
    running: tuple[str, ...]               # tasks whose runs are alive
    reclaim: tuple[Reclaim, ...]           # stale claims to release (interrupted attempts)
    launches: tuple[Launch, ...]           # what to claim and launch now
    close: tuple[str, ...]                 # containers whose children are all closed
    blocked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # why not dispatched
    escalated: tuple[str, ...] = ()        # tasks waiting for a human
    stop: str = ""                         # a loop guard's reason: launch nothing

    def to_json(self) -> dict[str, Any]:
        # field by field: asdict() deep-copies every ID of a big queue's ready list
        return {"ready": list(self.ready), "running": list(self.running),
                "reclaim": [asdict(r) for r in self.reclaim],
                "launches": [asdict(ln) for ln in self.launches], "close": list(self.close),
                "blocked": {k: list(v) for k, v in self.blocked.items()},
                "escalated": list(self.escalated), "stop": self.stop}


def attempt_history(task: Task) -> list[AttemptRecord]:
    return policy.since_last_reset(read_history(task))


def _why(history: list[AttemptRecord]) -> str:
    if not history:
        return "first try"
    last = history[-1]
    return {
        "retry": f"retry after {last.kind}",
        "handoff": "handoff: continues from the notes of a run that ran out of context",
        "wait": "its discovered blocker is closed",
        "release": "after an interrupted run",
    }.get(last.decision, f"after {last.kind}")


def make_plan(tasks: Mapping[str, Task], *, live: Collection[str], actor: str, config: Config,
              state: policy.LoopState | None = None, now: datetime | None = None,
              escalation_label: str | None = None, only: str | None = None,
              info: scheduler.GraphInfo | None = None) -> Plan:
    """The next cycle's decisions. `live` are tasks whose agent runs are still going (their
    lease is held); an `in_progress` task claimed by `actor` that is not live is a stale claim.
    `only` limits the launches to one task. `info`: `GraphInfo.of(tasks)` when the caller has
    it already (used unless a stale claim makes the plan's view differ from `tasks`)."""
    label = escalation_label or config.github.escalation_label
    state = state or policy.LoopState()
    facts = info.facts if info is not None else None
    # with the facts a long-lived coordinator keeps, no step below passes over every task
    busy = tasks if facts is None else facts.sorted_ids(facts.busy)
    stale = [t for t in map(tasks.__getitem__, busy) if t.status == Status.IN_PROGRESS
             and t.assignee == actor and t.id not in live]
    reclaims = []
    view = dict(tasks)
    for t in stale:
        hist = attempt_history(t)
        reclaims.append(Reclaim(t.id, len(hist) + 1,
                                "claimed by this coordinator but its run is gone"))
        rec = AttemptRecord(attempt=len(hist) + 1, kind="interrupted", decision=policy.RELEASE)
        view[t.id] = t.evolve(status=Status.OPEN, assignee="", comments=t.comments)
        view[t.id] = _with_record(view[t.id], rec)
    if info is None or stale:
        info = scheduler.GraphInfo.of(view)  # children_of once for all that follows
        facts = None
    kids = info.kids
    close = tuple(scheduler.closable_containers(view, kids=kids))
    blocked_map = info.blocked
    ready = graph.ready(view, now=now, filter=ReadyFilter(), blocked=blocked_map,
                        among=None if facts is None else facts.candidates)
    ready = [t for t in ready if scheduler.dispatchable(t, info, config)]
    if only is not None:  # `cycle --task ID`: this task or nothing
        ready = [t for t in ready if t.id == only]
    running = tuple(sorted(tid for tid in live if tid in tasks))
    order = scheduler.schedule(ready, running, info, config, slots=len(ready))
    free = config.dispatch.max_parallel - len(running)
    chosen = [t for t in order if t.id not in running][:max(free, 0)]
    stop = policy.guard(state, config)
    launches = []
    if not stop:
        for t in chosen:
            hist = attempt_history(view[t.id])
            attempt, failures = policy.next_attempt(hist)
            launches.append(Launch(t.id, t.title, task_kind(t, config), attempt,
                                   policy.budget_for(config, failures), _why(hist), t.priority,
                                   info.critical.get(t.id, 1)))
    blocked: Mapping[str, tuple[str, ...]]
    if facts is None:
        blocked = {tid: tuple(b) for tid, b in blocked_map.items()
                   if view[tid].status == Status.OPEN}
        escalated = tuple(t.id for t in view.values() if label in t.labels
                          and t.status not in (Status.CLOSED, Status.OPEN))
    else:
        blocked = OpenBlocked(facts.open_blocked, blocked_map)
        escalated = tuple(tid for tid in facts.sorted_ids(facts.labelled.get(label, ()))
                          if view[tid].status not in (Status.CLOSED, Status.OPEN))
    return Plan(ready=tuple(t.id for t in order), running=running, reclaim=tuple(reclaims),
                launches=tuple(launches), close=close, blocked=blocked, escalated=escalated,
                stop=stop)


class OpenBlocked(Mapping[str, tuple[str, ...]]):
    """Plan.blocked read from the blocked set a coordinator keeps, entry by entry when asked
    (`plan --json` prints it; a cycle never reads most of it): the open blocked tasks and what
    blocks each."""

    def __init__(self, ids: Mapping[str, None], blocked: Mapping[str, list[str]]) -> None:
        self._ids, self._blocked = ids, blocked

    def __getitem__(self, tid: str) -> tuple[str, ...]:
        if tid not in self._ids:
            raise KeyError(tid)
        return tuple(self._blocked[tid])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def _with_record(task: Task, rec: AttemptRecord) -> Task:
    return task.evolve(comments=(*task.comments, Comment("", task.id, "", render(rec), "")))


def render_plan(plan: Plan, *, dry_run: bool = False) -> list[str]:
    """Plain lines for humans: what the cycle will (or would) do."""
    verb = "would " if dry_run else ""
    lines = [f"ready: {', '.join(plan.ready) or '(none)'}"]
    if plan.running:
        lines.append(f"running: {', '.join(plan.running)}")
    for r in plan.reclaim:
        lines.append(f"{verb}reclaim {r.task_id}: {r.reason}; attempt {r.attempt} recorded as "
                     "interrupted, task reopened")
    for tid in plan.close:
        lines.append(f"{verb}close {tid}: all its children are closed")
    if plan.stop:
        lines.append(f"stop: {plan.stop}")
    for ln in plan.launches:
        budget = f", budget {ln.budget}" if ln.budget else ""
        lines.append(f"{verb}claim and launch {ln.task_id} ({ln.kind}, attempt {ln.attempt}"
                     f"{budget}; {ln.why}): {ln.title}")
    if not plan.launches and not plan.stop:
        lines.append("nothing to launch" + (" (all slots busy)" if plan.running and plan.ready
                                            else ""))
    for tid in plan.escalated:
        lines.append(f"waiting for a human: {tid}")
    return lines
