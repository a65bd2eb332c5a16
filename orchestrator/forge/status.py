"""The status report as Markdown (pure): counts, per-phase and per-feature progress, what is
running, blocked and escalated, recent attempts, and a Mermaid graph of the open work.

It is a view of the store (the store is the truth), rendered the same for a local file and
for a GitHub comment or job summary."""
from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.dispatch.queue_facts import PHASE_PREFIX as PHASE_PREFIX
from orchestrator.dispatch.queue_facts import QueueFacts, phase_of
from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks import graph
from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.model import Status, Task

MAX_DAG_NODES = 40
# The local status file's tables list at most this many rows (the GitHub comment fits its
# size limit, render_fitting): rendering it stays bounded on a queue of any size.
LOCAL_MAX_ROWS = 50


@dataclass(frozen=True)
class Progress:
    name: str
    closed: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.closed / self.total) if self.total else 100


# The status table's columns: every task is in exactly one, so they add up to the total. bd's
# own stats keys do not (its blocked_issues counts open tasks waiting on dependencies, and a task
# with status blocked, which is what an escalation leaves, is in none of them).
COLUMNS = {
    "ready": "Ready", "waiting": "Waiting", "in_progress": "In progress",
    "escalated": "Escalated", "blocked": "Blocked", "deferred": "Deferred", "pinned": "Pinned",
    "hooked": "Hooked", "closed": "Closed", "other": "Other",
}
ALWAYS_SHOWN = ("ready", "waiting", "in_progress", "escalated", "blocked", "deferred", "closed")


def resume_hint(task_id: str, *, start_over: bool = False) -> str:
    """How a human resumes an escalated task. `start_over`: the task branch holds what was
    escalated (a tamper): rebasing it again would escalate again."""
    cmd = f"orchestrator task update {task_id} --status open"
    if start_over:
        return (f"Resume with `{cmd} --reset-branch`: its branch holds the refused change, so the "
                "next attempt must start without it (the branch is archived, not deleted).")
    return (f"Resume with `{cmd}` (the next attempt continues on its branch), or add "
            "`--reset-branch` to start over without that work.")


def column_of(task: Task, *, waiting: bool, escalation_label: str) -> str:
    """The one column a task is counted in. `waiting`: it has an unfinished blocker."""
    if task.status == Status.CLOSED:
        return "closed"
    if escalation_label in task.labels:
        return "escalated"
    if task.status == Status.OPEN:
        return "waiting" if waiting else "ready"
    return task.status if task.status in COLUMNS else "other"


def status_columns(tasks: Mapping[str, Task], *, escalation_label: str = "needs-human",
                   blocked: Mapping[str, object] | None = None,
                   facts: QueueFacts | None = None) -> dict[str, int]:
    """Count per column (all of COLUMNS, zeros included); the values sum to len(tasks).
    `blocked`: graph.blocked_by(tasks) when the caller has it already; `facts`: the counts a
    long-lived coordinator keeps (then no pass over every task)."""
    if facts is not None:
        return _columns_from(facts, tasks, escalation_label)
    waiting = graph.blocked_by(tasks) if blocked is None else blocked
    counts = dict.fromkeys(COLUMNS, 0)
    for t in tasks.values():
        counts[column_of(t, waiting=t.id in waiting, escalation_label=escalation_label)] += 1
    return counts


def _columns_from(facts: QueueFacts, tasks: Mapping[str, Task],
                  escalation_label: str) -> dict[str, int]:
    """column_of summed from the tasks per status: an open task is waiting when blocked, and
    an escalated one (labelled, not closed) leaves the column its status gives it."""
    counts = dict.fromkeys(COLUMNS, 0)
    for status, n in facts.statuses.items():
        if status == Status.CLOSED:
            counts["closed"] += n
        elif status == Status.OPEN:
            counts["ready"] += n
        else:
            counts[status if status in COLUMNS else "other"] += n
    counts["ready"] -= len(facts.open_blocked)
    counts["waiting"] += len(facts.open_blocked)
    for tid in facts.labelled.get(escalation_label, ()):
        t = tasks[tid]
        if t.status != Status.CLOSED:
            counts[column_of(t, waiting=tid in facts.open_blocked, escalation_label="")] -= 1
            counts["escalated"] += 1
    return counts


def shown_columns(counts: Mapping[str, int]) -> list[str]:
    """The columns a table shows: the usual ones always, the rare ones when they hold a task."""
    return [c for c in COLUMNS if c in ALWAYS_SHOWN or counts[c]]


def phase_progress(tasks: Mapping[str, Task]) -> list[Progress]:
    counts: dict[str, list[int]] = {}
    for t in tasks.values():
        name = phase_of(t, tasks)
        if not name:
            continue
        c = counts.setdefault(name, [0, 0])
        c[0] += t.status == Status.CLOSED
        c[1] += 1
    return [Progress(n, c[0], c[1]) for n, c in counts.items()]


def feature_progress(tasks: Mapping[str, Task], *,
                     kids: Mapping[str, list[str]] | None = None) -> list[Progress]:
    """Every container (a task with children) with its closed/total descendants. `kids`:
    graph.children_of(tasks) when the caller has it already."""
    kids = graph.children_of(tasks) if kids is None else kids
    out = []
    for tid in kids:
        if tid not in tasks:
            continue
        below = [tasks[d] for d in graph.descendants(tasks, tid, kids=kids) if d in tasks]
        done = sum(1 for d in below if d.status == Status.CLOSED)
        out.append(Progress(f"{tid} {tasks[tid].title}", done, len(below)))
    return out


def recent_attempts(tasks: Mapping[str, Task], limit: int = 10) -> list[tuple[str, AttemptRecord]]:
    out = [(t.id, r) for t in tasks.values() for r in read_history(t)]
    out.sort(key=lambda x: x[1].at)
    return out[-limit:]


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _bar(p: Progress) -> str:
    filled = p.percent // 10
    return "█" * filled + "░" * (10 - filled)


def mermaid(tasks: Mapping[str, Task], *, limit: int = MAX_DAG_NODES,
            info: GraphInfo | None = None) -> str:
    """A Mermaid flowchart of unfinished work (blocks edges), capped at `limit` nodes (the
    ones on the longest chains first) so the status stays readable and within GitHub's limits.
    `info`: GraphInfo.of(tasks) when the caller has it already."""
    info = GraphInfo.of(tasks) if info is None else info
    crit, blocked = info.critical, info.blocked
    if info.facts is not None:
        open_ids = info.facts.longest(limit)
    else:
        open_ids = sorted(crit, key=lambda t: (-crit[t], t))[:limit]
    keep = set(open_ids)
    lines = ["```mermaid", "flowchart LR"]
    for tid in open_ids:
        t = tasks[tid]
        state = ("running" if t.status == Status.IN_PROGRESS else
                 "blocked" if tid in blocked or t.status == Status.BLOCKED else "ready")
        title = t.title.replace('"', "'")[:40]
        lines.append(f'  {_node(tid)}["{tid}: {title}"]:::{state}')
    for tid in open_ids:
        for d in tasks[tid].dependencies:
            if d.depends_on_id in keep and d.type in ("blocks", "conditional-blocks"):
                lines.append(f"  {_node(d.depends_on_id)} --> {_node(tid)}")
    lines += ["  classDef running fill:#ffd966", "  classDef blocked fill:#f4cccc",
              "  classDef ready fill:#d9ead3", "```"]
    if len(crit) > limit:
        lines.append(f"_{len(crit) - limit} more open tasks not shown._")
    return "\n".join(lines)


def _node(tid: str) -> str:
    return "n_" + "".join(ch if ch.isalnum() else "_" for ch in tid)


def _cap(rows: Iterable[str], limit: int | None, what: str, total: int | None = None) -> list[str]:
    """At most `limit` rows, and a line saying how many were left out. `total`: how many
    `rows` would give, when they are made only as far as they are shown."""
    if total is None:
        rows = list(rows)
        total = len(rows)
    if limit is None or total <= limit:
        return list(rows)
    return [*itertools.islice(rows, limit), f"_… and {total - limit} more {what} not shown._"]


def render_status(tasks: Mapping[str, Task], *, title: str = "Orchestrator status",
                  escalation_label: str = "needs-human", events: Sequence[str] = (),
                  dag_limit: int = MAX_DAG_NODES, header: Sequence[str] = (),
                  max_rows: int | None = None, info: GraphInfo | None = None) -> str:
    """`header`: lines under the title (the GitHub comment's cycle, chain and run links);
    `max_rows`: cap every table and list (None: all rows, as the local status file has);
    `info`: GraphInfo.of(tasks) when the caller has it already (the plan computed it)."""
    info = GraphInfo.of(tasks) if info is None else info
    blocked, facts = info.blocked, info.facts
    counts = status_columns(tasks, escalation_label=escalation_label, blocked=blocked,
                            facts=facts)
    shown = shown_columns(counts)
    out = [f"## {title}", "", *header, *([""] if header else []),
           "| Total | " + " | ".join(COLUMNS[c] for c in shown) + " |",
           "|---|" + "---|" * len(shown),
           f"| {len(tasks)} | " + " | ".join(str(counts[c]) for c in shown) + " |", ""]
    if facts is None:
        phases = phase_progress(tasks)
        features = feature_progress(tasks, kids=info.kids)
        progress_rows = len(phases) + len(features)
    else:  # only the rows shown are made
        phases = [Progress(n, c[0], c[1]) for n, c in facts.phases.items()]
        features = [Progress(f"{tid} {tasks[tid].title}", c[0], c[1])
                    for tid, c in itertools.islice(facts.containers.items(), max_rows)]
        progress_rows = len(phases) + len(facts.containers)
    if progress_rows:
        out += ["### Progress", "", "| | Done | |", "|---|---|---|"]
        rows = [f"| phase {_esc(p.name)} | {p.closed}/{p.total} | {_bar(p)} {p.percent}% |"
                for p in phases]
        rows += [f"| {_esc(p.name)} | {p.closed}/{p.total} | {_bar(p)} {p.percent}% |"
                 for p in features]
        out += _cap(rows, max_rows, "rows", progress_rows)
        out.append("")
    if facts is None:
        escalated = [t for t in tasks.values() if escalation_label in t.labels
                     and t.status != Status.CLOSED]
    else:
        escalated = [tasks[tid] for tid in facts.sorted_ids(facts.labelled.get(escalation_label, ()))
                     if tasks[tid].status != Status.CLOSED]
    if escalated:
        out += ["### ⚠ Waiting for a human", ""]
        rows = []
        for t in escalated:
            hist = read_history(t)
            last = hist[-1] if hist else None
            why = f": {_esc(last.digest)}" if last and last.digest else ""
            logs = f" (logs: `{last.log_dir}`)" if last and last.log_dir else ""
            hint = resume_hint(t.id, start_over=bool(last and last.subclass == "tamper"))
            rows.append(f"- **{t.id}** {_esc(t.title)}{why}{logs}. {hint}")
        out += _cap(rows, max_rows, "tasks")
        out.append("")
    if facts is None:
        running = [t for t in tasks.values() if t.status == Status.IN_PROGRESS]
    else:
        running = [tasks[tid] for tid in facts.sorted_ids(facts.busy)
                   if tasks[tid].status == Status.IN_PROGRESS]
    if running:
        out += ["### Running", "", "| Task | Title | Assignee |", "|---|---|---|"]
        out += _cap([f"| {t.id} | {_esc(t.title)} | {t.assignee} |" for t in running],
                    max_rows, "tasks")
        out.append("")
    # blocked_by leaves closed tasks out: every blocked task is waiting
    waiting = blocked if facts is not None else \
        {k: v for k, v in blocked.items() if tasks[k].status != Status.CLOSED}
    if waiting:
        out += ["### Blocked", "", "| Task | Waiting on | Title |", "|---|---|---|"]
        out += _cap((f"| {k} | {', '.join(v)} | {_esc(tasks[k].title)} |"
                     for k, v in waiting.items()), max_rows, "tasks", len(waiting))
        out.append("")
    attempts = recent_attempts(tasks) if facts is None else facts.recent_attempts()
    if attempts:
        costs = any(r.cost_usd is not None for _, r in attempts)
        out += ["### Recent attempts", "",
                "| Task | Try | Outcome | Budget | Next |" + (" Cost |" if costs else ""),
                "|---|---|---|---|---|" + ("---|" if costs else "")]
        for tid, r in attempts:
            what = r.kind + (f" ({r.subclass})" if r.subclass else "")
            cost = (f" ${r.cost_usd:.2f} |" if r.cost_usd is not None else " |") if costs else ""
            out.append(f"| {tid} | {r.attempt} | {what} | {r.budget} | {r.decision} |{cost}")
        out.append("")
    unfinished = any(t.status != Status.CLOSED for t in tasks.values()) if facts is None else \
        len(tasks) > facts.statuses.get(Status.CLOSED, 0)
    if dag_limit > 0 and unfinished:
        out += ["### Open work", "", mermaid(tasks, limit=dag_limit, info=info), ""]
    if events:
        out += ["### This run", ""] + _cap([f"- {_esc(e)}" for e in events], max_rows, "events")
        out.append("")
    return "\n".join(out)


# GitHub refuses a comment body over 65,536 characters (422 "Body is too long"); the job
# summary allows 1 MiB. Leave room for the marker and the footer.
COMMENT_LIMIT = 65_536
_FIT_STEPS = ((None, MAX_DAG_NODES), (50, MAX_DAG_NODES), (20, 20), (5, 10), (0, 0))


def render_fitting(tasks: Mapping[str, Task], *, limit: int = COMMENT_LIMIT - 2_000,
                   **kwargs: object) -> str:
    """render_status, summarised until it fits in `limit` characters: tables and lists are
    cut to fewer rows (each saying how many it left out) and the graph to fewer nodes; the
    counts table at the top always stays. A last resort cuts the text itself."""
    text = ""
    kwargs.setdefault("info", GraphInfo.of(tasks))  # the same for every render below
    # a queue this large never fits uncut (a table row per open task): skip that render
    steps = _FIT_STEPS[1:] if len(tasks) > 1_000 else _FIT_STEPS
    for rows, dag in steps:
        text = render_status(tasks, max_rows=rows, dag_limit=dag, **kwargs)  # type: ignore[arg-type]
        if len(text) <= limit:
            return text
    note = "\n\n_… status cut to fit GitHub's comment size limit._"
    return text[:limit - len(note)] + note
