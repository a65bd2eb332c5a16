"""The dispatch simulation's model (pure, simulated clock): random task DAGs, drawn run times
and outcomes, the lower bound of a drain, and the queue as the store sees it while a drain runs
(`Drain`), with each run judged by the real failure policy and each launch chosen by the real
scheduler. `bench_dispatch.py` drives it for the local coordinator, `github_mode.py` for the
GitHub workflow; see bench_dispatch.py's docstring for the shapes and numbers.
"""
from __future__ import annotations

import dataclasses
import heapq
import random
import sys
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.config import Config, DispatchConfig  # noqa: E402
from orchestrator.dispatch import policy, scheduler  # noqa: E402
from orchestrator.tasks import graph  # noqa: E402
from orchestrator.tasks.history import AttemptRecord  # noqa: E402
from orchestrator.tasks.model import Dependency, Task  # noqa: E402

Runs = dict[str, list[tuple[float, str]]]   # task -> (minutes, outcome kind) of each run


@dataclass(frozen=True)
class Outcome:
    kind: str
    subclass: str = ""
    retryable: bool = True


def make_dag(n: int, rng: random.Random, *, priorities: bool = True) -> dict[str, Task]:
    """About n dispatchable tasks in phases of features (see the module docstring). With
    priorities, implementation tasks get a random P1-P3 (mostly P2); without, all are P2."""
    tasks: dict[str, Task] = {}
    created = 0

    def add(tid: str, title: str, *, itype: str = "task", parent: str | None = None,
            blocks_on: list[str] = (), priority: int = 2) -> str:
        nonlocal created
        deps = [Dependency(tid, parent, "parent-child")] if parent else []
        deps += [Dependency(tid, b, "blocks") for b in dict.fromkeys(blocks_on)]
        created += 1
        stamp = f"2026-01-01T{created // 3600 % 24:02d}:{created // 60 % 60:02d}:{created % 60:02d}Z"
        tasks[tid] = Task(tid, title, issue_type=itype, priority=priority, created_at=stamp,
                          dependencies=tuple(deps))
        return tid

    phase, prev_regression, count = 0, None, 0
    while count < n:
        phase += 1
        boot = add(f"p{phase}", f"Plan features for phase {phase}", priority=1,
                   blocks_on=[prev_regression] if prev_regression else [])
        count += 1
        e2es = []
        for f in range(rng.randint(4, 7)):
            epic = add(f"p{phase}-f{f}", f"Feature {f}", itype="epic")
            plan = add(f"p{phase}-f{f}-plan", f"Plan tasks for feature {f}", parent=epic,
                       blocks_on=[boot])
            chain = [plan]
            for i in range(rng.randint(4, 12)):
                blockers = [chain[-1]]
                if len(chain) > 2 and rng.random() < 0.3:      # fan-in
                    blockers.append(rng.choice(chain[:-1]))
                if rng.random() < 0.25 and len(chain) > 1:     # fan-out: parallel to the last
                    blockers = [chain[-2]]
                if e2es and rng.random() < 0.1:                # a cross-feature edge
                    blockers.append(rng.choice(e2es))
                chain.append(add(f"p{phase}-f{f}-t{i}", f"Task {i}", parent=epic,
                                 blocks_on=blockers,
                                 priority=rng.choice((1, 2, 2, 2, 3)) if priorities else 2))
            leaves = chain[-3:]
            e2es.append(add(f"p{phase}-f{f}-e2e", "E2E verification", parent=epic,
                            blocks_on=leaves))
            count += len(chain) + 1
        prev_regression = add(f"p{phase}-reg", "Run full regression pack", blocks_on=e2es)
        count += 1
    return tasks


def draw_runs(tasks: dict[str, Task], rng: random.Random) -> Runs:
    """Per dispatchable task: the (minutes, outcome kind) of each run until success."""
    info = scheduler.GraphInfo.of(tasks)
    out = {}
    for tid, t in tasks.items():
        if not scheduler.dispatchable(t, info, Config()):
            continue
        runs = []
        while True:
            minutes = min(rng.lognormvariate(2.3, 0.9), 240.0)
            r = rng.random()
            kind = "error" if r < 0.06 else "context_exhausted" if r < 0.10 else "success"
            if len(runs) >= 4:
                kind = "success"  # keep every task finishable within the policy's caps
            runs.append((minutes, kind))
            if kind == "success":
                break
        out[tid] = runs
    return out


def lower_bound(tasks: dict[str, Task], runs: Runs, parallel: int) -> float:
    work = {tid: sum(m for m, _ in rs) for tid, rs in runs.items()}
    finish: dict[str, float] = {}
    order = _topo(tasks)
    for tid in order:
        start = max((finish.get(d.depends_on_id, 0.0) for d in tasks[tid].dependencies
                     if d.type == "blocks"), default=0.0)
        finish[tid] = start + work.get(tid, 0.0)
    return max(max(finish.values()), sum(work.values()) / parallel)


def _topo(tasks: dict[str, Task]) -> list[str]:
    indeg = {tid: 0 for tid in tasks}
    waiters = defaultdict(list)
    for t in tasks.values():
        for d in t.dependencies:
            if d.type == "blocks":
                indeg[t.id] += 1
                waiters[d.depends_on_id].append(t.id)
    queue = [tid for tid, k in indeg.items() if k == 0]
    out = []
    while queue:
        tid = queue.pop()
        out.append(tid)
        for w in waiters[tid]:
            indeg[w] -= 1
            if indeg[w] == 0:
                queue.append(w)
    return out


class Drain:
    """The queue as the store sees it during a simulated drain: which tasks are done, which are
    ready (open, unblocked, not claimed), each task's attempt history. `claim` hands out a
    task's next drawn run; `finish` judges that run with the real policy (`policy.decide`) and
    releases the task for another try or closes it and readies its dependents."""

    def __init__(self, tasks: dict[str, Task], runs: Runs, parallel: int) -> None:
        self.tasks, self.runs = tasks, runs
        self.config = dataclasses.replace(Config(), dispatch=dataclasses.replace(
            DispatchConfig(), max_parallel=parallel, max_attempts=5, max_handoffs=5))
        # critical lengths of open tasks do not change as upstream tasks close (their chains
        # are all still open), so once is enough here
        self.info = scheduler.GraphInfo.of(tasks)
        self.blockers = {tid: {d.depends_on_id for d in t.dependencies if d.type == "blocks"}
                         for tid, t in tasks.items()}
        self.waiters: dict[str, list[str]] = defaultdict(list)
        for tid, bs in self.blockers.items():
            for b in bs:
                self.waiters[b].append(tid)
        self.order = {t.id: i for i, t in enumerate(graph.sort_tasks(tasks.values()))}
        # containers need no run; they block nothing here (blocks edges are between tasks)
        self.done: set[str] = {tid for tid in tasks if tid not in runs}
        self.ready = {tid for tid in runs if not (self.blockers[tid] - self.done)}
        self.claimed: set[str] = set()
        self.history: dict[str, list[AttemptRecord]] = defaultdict(list)
        self.attempts = 0

    @property
    def drained(self) -> bool:
        return len(self.done) == len(self.tasks)

    def choose(self, running: Collection[str], *, strategy: str = "scheduler") -> list[str]:
        """What a plan launches now: `scheduler` is the real one (`running` hold slots);
        `first` is the seed's ready_tasks[0] rule, in bd order, with the same slots."""
        candidates = sorted((self.tasks[t] for t in self.ready), key=lambda t: self.order[t.id])
        if strategy == "scheduler":
            chosen = scheduler.schedule(candidates, running, self.info, self.config)
        else:
            chosen = candidates[:max(0, self.config.dispatch.max_parallel - len(running))]
        return [t.id for t in chosen]

    def claim(self, tid: str) -> float:
        """Claim a ready task; the minutes its next run takes."""
        assert tid in self.ready and tid not in self.claimed, f"{tid} claimed twice"
        self.ready.discard(tid)
        self.claimed.add(tid)
        return self.runs[tid][len(self.history[tid])][0]

    def finish(self, tid: str) -> bool:
        """Apply the outcome of the claimed task's run; True when the task is done."""
        assert tid in self.claimed, f"{tid}: a result without a claim"
        self.claimed.discard(tid)
        self.attempts += 1
        n = len(self.history[tid])
        kind = self.runs[tid][n][1]
        task = self.tasks[tid].evolve(status="closed" if kind == "success" else "in_progress")
        d = policy.decide(task, self.history[tid], Outcome(kind), self.config)
        self.history[tid].append(AttemptRecord(n + 1, kind, decision=d.action))
        if d.action == policy.DONE:
            assert tid not in self.done, f"{tid} closed twice"
            self.done.add(tid)
            for w in self.waiters[tid]:
                if w in self.runs and not (self.blockers[w] - self.done) \
                        and w not in self.claimed:
                    self.ready.add(w)
            return True
        if d.releases:
            self.ready.add(tid)
            return False
        raise AssertionError(f"{tid}: escalated in the benchmark ({d.reason})")


def simulate(tasks: dict[str, Task], runs: Runs, parallel: int,
             *, strategy: str) -> tuple[float, int]:
    """The local coordinator (`orchestrator run`, continuous): a slot is refilled the moment
    its run ends. Makespan (minutes) and attempts; `strategy` as in `Drain.choose`."""
    q = Drain(tasks, runs, parallel)
    running: dict[str, float] = {}
    events: list[tuple[float, str]] = []
    now = 0.0
    while q.ready or running:
        for tid in q.choose(running, strategy=strategy):
            running[tid] = now + q.claim(tid)
            heapq.heappush(events, (running[tid], tid))
        now, tid = heapq.heappop(events)
        del running[tid]
        q.finish(tid)
    return now, q.attempts
