"""The chain of workflow runs, as pure functions: how a cycle changed the queue, whether the
next cycle is dispatched (and which guard says no), which escalations are new, and the text
of the status header and the escalation comment.

A chain is the sequence of runs one `/orchestrator run` (or a manual dispatch) starts: each
run's report dispatches cycle N+1 with the same chain id while work is ready and no guard
fires, so a queue drains unattended yet a loop that stops making progress ends, loudly."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from orchestrator.config import Config
from orchestrator.dispatch import policy
from orchestrator.forge.comments import ESCALATION, marker
from orchestrator.forge.state import ForgeState, Snapshot
from orchestrator.tasks import graph
from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.model import Status, Task

PAUSE_VARIABLE = "ORCHESTRATOR_PAUSED"


def snapshot(tasks: Mapping[str, Task]) -> Snapshot:
    closed = handoffs = 0
    cost = 0.0
    for t in tasks.values():
        closed += t.status == Status.CLOSED
        for r in read_history(t):
            handoffs += r.kind == "context_exhausted"
            cost += r.cost_usd or 0.0
    return Snapshot(closed=closed, total=len(tasks), handoffs=handoffs, cost_usd=round(cost, 6))


def is_truthy(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Step:
    """What follows this cycle. `dispatch` true: cycle `cycle + 1` is requested; otherwise
    `reason` says why not (a guard's name, drained, waiting)."""

    dispatch: bool
    reason: str
    drained: bool = False
    guard: bool = False        # a guard stopped a chain that still had work


def advance(state: ForgeState, now: Snapshot, *, chain_id: str, cycle: int,
            count_cycle: bool = True) -> ForgeState:
    """Fold a report into the counters: a new chain starts them afresh; a task closed resets
    `cycles_since_close`; a closed, new or handed-off task resets `idle_cycles`. A cycle is a
    workflow run, and one run has a report per matrix leg: only the first report of a cycle
    number above the last one counted adds a cycle without progress (a second leg of the same
    run, or a late leg of an older run, still resets the counters when it made progress). A
    refresh (`count_cycle` false, `/orchestrator status`) changes nothing: the next cycle is
    still judged against the last one."""
    if not count_cycle:
        return state
    if state.chain_id != chain_id:
        base = state.last.cost_usd if state.last else now.cost_usd
        state = replace(state, chain_id=chain_id, cycle=0, cycles_since_close=0, idle_cycles=0,
                        chain_cost_base=base)
    prev = state.last
    new_cycle = cycle > state.cycle
    closed = prev is None or now.closed > prev.closed
    progressed = closed or prev is None or now.total > prev.total or now.handoffs > prev.handoffs
    step = 1 if new_cycle else 0
    return replace(state, cycle=max(cycle, state.cycle), last=now,
                   cycles_since_close=0 if closed else state.cycles_since_close + step,
                   idle_cycles=0 if progressed else state.idle_cycles + step)


def next_step(tasks: Mapping[str, Task], state: ForgeState, config: Config, *,
              stop_file: bool, paused: str = "", new_escalations: Sequence[str] = ()) -> Step:
    """`paused`: why a human paused the chain ('' if not): the pause label, the repository
    variable, `/orchestrator stop` (which sets the label)."""
    ready = graph.ready(tasks, filter=graph.ReadyFilter(
        exclude_types=frozenset(config.dispatch.exclude_types)))
    if not ready:
        running = [t.id for t in tasks.values() if t.status == Status.IN_PROGRESS]
        if running:
            return Step(False, f"nothing ready; {len(running)} task(s) still running "
                        "(their run's report continues the chain)")
        label = config.github.escalation_label
        waiting = [t.id for t in tasks.values() if label in t.labels and t.status != Status.CLOSED]
        if waiting:
            return Step(False, "nothing ready; waiting for a human on " + ", ".join(waiting[:10]))
        open_ = [t for t in tasks.values() if t.status != Status.CLOSED]
        if open_:
            return Step(False, f"nothing ready; {len(open_)} task(s) open but blocked or deferred")
        return Step(False, "drained: every task is closed", drained=True)
    if paused:
        return Step(False, f"paused: {paused}", guard=True)
    loop = policy.LoopState(
        cycles=state.cycle, idle_cycles=state.idle_cycles,
        cycles_since_close=state.cycles_since_close,
        cost_usd=max(0.0, (state.last.cost_usd if state.last else 0.0) - state.chain_cost_base),
        stop_file=stop_file, escalated=tuple(new_escalations))
    why = policy.guard(loop, config)
    if why:
        return Step(False, f"stopped by a guard: {why}", guard=True)
    return Step(True, f"{len(ready)} task(s) ready")


def escalation_key(task_id: str, attempt: int) -> str:
    return f"{task_id}@{attempt}"


@dataclass(frozen=True)
class Escalation:
    task: Task
    attempts: tuple[AttemptRecord, ...]   # the tries since the last reset, the last escalated

    @property
    def key(self) -> str:
        return escalation_key(self.task.id, self.attempts[-1].attempt if self.attempts else 0)


def escalations(tasks: Mapping[str, Task], label: str) -> list[Escalation]:
    """Tasks waiting for a human whose last recorded try was escalated."""
    out = []
    for t in sorted(tasks.values(), key=lambda t: t.id):
        if label not in t.labels or t.status == Status.CLOSED:
            continue
        hist = read_history(t)
        if not hist or hist[-1].decision != policy.ESCALATE:
            continue
        start = 0
        for i in range(len(hist) - 2, -1, -1):
            if hist[i].decision == policy.ESCALATE:
                start = i + 1
                break
        out.append(Escalation(t, tuple(hist[start:])))
    return out


def _cell(text: str, limit: int = 300) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def escalation_body(items: Sequence[Escalation], *, queue: str, mention: Sequence[str],
                    run_url: str, escalation_label: str) -> str:
    """One comment announcing one or more new escalations (one per report keeps a report's
    API calls bounded however many tasks escalate at once)."""
    people = " ".join("@" + m.lstrip("@") for m in mention)
    out = [marker(ESCALATION, queue, task=e.task.id, attempt=e.attempts[-1].attempt)
           for e in items]
    out += ["", f"### ⚠ A human is needed{': ' + people if people else ''}", ""]
    for e in items:
        out += [f"**{e.task.id}** {_cell(e.task.title, 200)} is labelled `{escalation_label}` "
                "and waits for you.", "",
                "| Try | Outcome | Budget | Next | What happened | Logs |",
                "|---|---|---|---|---|---|"]
        for r in e.attempts[-10:]:
            what = r.kind + (f" ({r.subclass})" if r.subclass else "")
            logs = f"`{_cell(r.log_dir, 120)}`" if r.log_dir else ""
            if run_url:
                logs += f" [run]({run_url})"
            out.append(f"| {r.attempt} | {what} | {r.budget} | {r.decision} | "
                       f"{_cell(r.digest)} | {logs} |")
        out += ["", f"Resume: comment `/orchestrator retry {e.task.id}` (add `--reset-branch` "
                "to start over from the working branch), or run "
                f"`orchestrator task update {e.task.id} --status open` and push.", ""]
    return "\n".join(out)


def header_lines(*, cycle: int, chain_id: str, run_url: str, artifacts: Sequence[str],
                 step: Step | None, dispatch_error: str = "", updated: str = "") -> list[str]:
    run = f" · [workflow run]({run_url})" if run_url else ""
    lines = [f"Cycle **{cycle}** of chain `{chain_id or '-'}`{run}"]
    if artifacts:
        shown = ", ".join(f"`{_cell(a, 80)}`" for a in artifacts[:20])
        more = f" and {len(artifacts) - 20} more" if len(artifacts) > 20 else ""
        lines.append(f"Agent logs: artifacts {shown}{more} of this run")
    if dispatch_error:
        lines.append(f"**⛔ The next cycle could not be dispatched:** {_cell(dispatch_error)}. "
                     "The chain has stopped; comment `/orchestrator run` to start it again.")
    elif step is not None:
        if step.dispatch:
            lines.append(f"Next: cycle {cycle + 1} dispatched ({step.reason}).")
        elif step.drained:
            lines.append("**✅ Drained:** every task is closed; no further cycle.")
        elif step.guard:
            lines.append(f"**⏸ Chain stopped** ({step.reason}); comment `/orchestrator run` "
                         "to start a new chain.")
        else:
            lines.append(f"No further cycle: {step.reason}.")
    if updated:
        lines.append(f"_Updated {updated}._")
    return [line + "  " for line in lines[:-1]] + lines[-1:]
