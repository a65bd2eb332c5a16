"""The seed's loop over the three steps in one process (`orchestrator run`; `cycle` is one
turn of it), its summary, and the exit codes below (described for users in docs/coordinator.md).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import wait
from dataclasses import dataclass, field

from orchestrator.coordinator.local import Coordinator
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import Plan, render_plan
from orchestrator.tasks.model import Status

EXIT_DRAINED = 0        # the queue drained (`cycle`: the cycle ended with no human needed)
EXIT_ERROR = 1          # an unexpected error (a bug: it keeps its traceback)
EXIT_USER = 2           # a UserError: one line on stderr (errors.UserError.exit_code)
EXIT_HUMAN = 3          # stopped for a human: an escalated task, or a loop guard
EXIT_INTERRUPTED = 130  # Ctrl-C: agents stopped, attempts recorded, claims released
EXIT_TERMINATED = 143   # SIGTERM: handled as Ctrl-C is
_STATUS = {EXIT_DRAINED: "drained", EXIT_HUMAN: "stopped for a human", EXIT_ERROR: "error",
           EXIT_INTERRUPTED: "interrupted", EXIT_TERMINATED: "terminated"}
OTHERS_POLL_S = 0.5


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the loop stops as it does on Ctrl-C."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM (a CI runner cancelling the job, `kill`) stops the loop as
    Ctrl-C does: agents stopped, attempts recorded, claims released; exit 143. Outside the main
    thread signals cannot be caught, and the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class RunSummary:
    exit_code: int            # EXIT_DRAINED, EXIT_HUMAN, EXIT_INTERRUPTED or EXIT_TERMINATED
    reason: str
    cycles: int
    attempts: int
    closed: tuple[str, ...]
    escalated: tuple[str, ...]
    remaining: int
    cost_usd: float
    elapsed_s: float
    decisions: Mapping[str, int] = field(default_factory=dict)  # attempts per decision
    containers_closed: tuple[str, ...] = ()   # epics/features closed with their children


def run_loop(coord: Coordinator, *, once: bool = False,
             tick: Callable[[], None] | None = None) -> RunSummary:
    """The seed's loop: until nothing is ready and nothing runs, or a guard stops it. With once,
    one cycle: launch what the plan says, wait for all of it, apply, stop."""
    started = time.monotonic()
    coord.preflight(coord.store.all())
    coord.prune_leftovers()
    state = policy.LoopState()
    attempts = 0
    closed: list[str] = []
    escalated: list[str] = []
    reason = ""
    known = set(coord.store.all())
    waiting_on: tuple[str, ...] = ()
    try:
        while True:
            cp = coord.plan_cycle(state)                                  # PLAN
            plan = cp.plan
            if plan.stop:
                reason = plan.stop
            if cp.claimed:
                coord.launch(cp.claimed)                                  # RUN AGENTS
            if not coord.running:
                if cp.reconciled and not plan.stop and not once:
                    continue  # what it reopened or closed may make more work ready
                if plan.running and not plan.stop and not once:
                    # another coordinator's runs hold the slots (max_parallel is for the whole
                    # queue) or may unblock more work: wait for them instead of stopping
                    if plan.running != waiting_on:
                        waiting_on = plan.running
                        coord._event("waiting for runs of another coordinator: "
                                     + ", ".join(plan.running))
                    time.sleep(OTHERS_POLL_S)
                    if tick is not None:
                        tick()
                    continue
                if not reason:
                    reason = "nothing is ready" if not plan.escalated else \
                        "nothing is ready; waiting for a human"
                break
            finished: list[str] = []
            while not finished:
                finished = coord.wait(all_=once, timeout=1.0)
                if tick is not None:
                    tick()
            progressed = False
            closed_before = len(closed)
            new_escalations = []
            for tid in finished:
                a = coord.collect(tid)                                    # APPLY RESULTS
                attempts += 1
                if a.record.decision == policy.DONE:
                    closed.append(tid)
                    progressed = True
                if a.record.decision == policy.HANDOFF:
                    progressed = True  # it left notes and work for the next agent
                if a.record.decision == policy.ESCALATE:
                    new_escalations.append(tid)
                    escalated.append(tid)
            now_ids = set(coord.store.all())
            if now_ids - known:
                progressed = True
                known = now_ids
            state = policy.after_cycle(state, progressed=progressed,
                                       closed=len(closed) > closed_before,
                                       escalated=new_escalations)
            coord.report(force=False)
            if once:
                # a last reconcile so a finished feature's epic closes in the same cycle
                coord.plan_cycle(state, launch=False)
                reason = reason or "one cycle done"
                break
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated)
        coord._event(f"{'terminated' if terminated else 'interrupted'}: stopping running agents "
                     "and releasing their claims")
        stopped = coord.interrupt()
        coord.report()
        # the cycle under way and the runs it stopped count: "0 cycle(s)" after agents ran misled
        if stopped:
            state = dataclasses.replace(state, cycles=state.cycles + 1)
        return _summary(coord, EXIT_TERMINATED if terminated else EXIT_INTERRUPTED,
                        "terminated" if terminated else "interrupted", state,
                        attempts + len(stopped), closed, escalated, started)
    except BaseException:
        for r in coord.running.values():
            r.stop.set()
        for tid in list(coord.running):
            with contextlib.suppress(BaseException):
                wait([coord.running[tid].future])
                coord.collect(tid)
        raise
    finally:
        coord.close()
        coord.commit_store()
    coord.report()
    tasks = coord.store.all()
    waiting = [t.id for t in tasks.values() if coord.config.github.escalation_label in t.labels
               and t.status != Status.CLOSED]
    if once:
        human = bool(escalated and coord.config.dispatch.on_escalation == "stop") or bool(plan.stop)
    else:
        human = bool(waiting or plan.stop)
    return _summary(coord, EXIT_HUMAN if human else EXIT_DRAINED, reason, state, attempts, closed,
                    escalated, started)


def _summary(coord: Coordinator, code: int, reason: str, state: policy.LoopState, attempts: int,
             closed: list[str], escalated: list[str], started: float) -> RunSummary:
    tasks = coord.store.all()
    remaining = sum(1 for t in tasks.values() if t.status != Status.CLOSED)
    return RunSummary(code, reason, state.cycles, attempts, tuple(closed), tuple(escalated),
                      remaining, coord.cost_usd, time.monotonic() - started,
                      dict(coord.decisions), tuple(coord.containers_closed))


def summary_lines(s: RunSummary) -> list[str]:
    status = _STATUS.get(s.exit_code, str(s.exit_code))
    counts = ", ".join(f"{s.decisions[d]} {d}" for d in policy.RECORDED if s.decisions.get(d))
    why = f" ({s.reason})" if s.reason and s.reason != status else ""
    lines = [f"summary: {status}{why}; {s.cycles} cycle(s), {s.elapsed_s:.1f}s",
             f"  {s.attempts} agent run(s)" + (f": {counts}" if counts else "")
             + (f"; {len(s.containers_closed)} epic(s)/feature(s) closed with their children"
                if s.containers_closed else "")
             + f"; {s.remaining} task(s) not closed"]
    if s.cost_usd:
        lines.append(f"  agent cost: ${s.cost_usd:.2f}")
    if s.escalated:
        lines.append(f"  escalated: {', '.join(s.escalated)}")
    return lines


def plan_lines(plan: Plan, *, dry_run: bool) -> list[str]:
    return render_plan(plan, dry_run=dry_run)


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2)
