"""The status report as Markdown (pure): counts, per-phase and per-feature progress, what is
running, blocked and escalated, recent attempts, and a Mermaid graph of the open work.

It is a view of the store (the store is the truth), rendered the same for a local file and
for a GitHub comment or job summary."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orchestrator.dispatch.scheduler import GraphInfo
from orchestrator.tasks import graph
from orchestrator.tasks.history import AttemptRecord, read_history
from orchestrator.tasks.model import Status, Task

PHASE_PREFIX = "phase:"
MAX_DAG_NODES = 40


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
                   blocked: Mapping[str, object] | None = None) -> dict[str, int]:
    """Count per column (all of COLUMNS, zeros included); the values sum to len(tasks).
    `blocked`: graph.blocked_by(tasks) when the caller has it already."""
    waiting = graph.blocked_by(tasks) if blocked is None else blocked
    counts = dict.fromkeys(COLUMNS, 0)
    for t in tasks.values():
        counts[column_of(t, waiting=t.id in waiting, escalation_label=escalation_label)] += 1
    return counts


def shown_columns(counts: Mapping[str, int]) -> list[str]:
    """The columns a table shows: the usual ones always, the rare ones when they hold a task."""
    return [c for c in COLUMNS if c in ALWAYS_SHOWN or counts[c]]


def phase_of(task: Task, tasks: Mapping[str, Task]) -> str:
    """A task's phase: its own `phase:NAME` label, else its nearest ancestor's."""
    seen: set[str] = set()
    cur: Task | None = task
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        for label in cur.labels:
            if label.startswith(PHASE_PREFIX):
                return label[len(PHASE_PREFIX):]
        cur = tasks.get(cur.parent) if cur.parent else None
    return ""


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


def _cap(rows: list[str], limit: int | None, what: str) -> list[str]:
    """At most `limit` rows, and a line saying how many were left out."""
    if limit is None or len(rows) <= limit:
        return rows
    return rows[:limit] + [f"_… and {len(rows) - limit} more {what} not shown._"]


def render_status(tasks: Mapping[str, Task], *, title: str = "Orchestrator status",
                  escalation_label: str = "needs-human", events: Sequence[str] = (),
                  dag_limit: int = MAX_DAG_NODES, header: Sequence[str] = (),
                  max_rows: int | None = None, info: GraphInfo | None = None) -> str:
    """`header`: lines under the title (the GitHub comment's cycle, chain and run links);
    `max_rows`: cap every table and list (None: all rows, as the local status file has);
    `info`: GraphInfo.of(tasks) when the caller has it already (the plan computed it)."""
    info = GraphInfo.of(tasks) if info is None else info
    blocked = info.blocked
    counts = status_columns(tasks, escalation_label=escalation_label, blocked=blocked)
    shown = shown_columns(counts)
    out = [f"## {title}", "", *header, *([""] if header else []),
           "| Total | " + " | ".join(COLUMNS[c] for c in shown) + " |",
           "|---|" + "---|" * len(shown),
           f"| {len(tasks)} | " + " | ".join(str(counts[c]) for c in shown) + " |", ""]
    phases = phase_progress(tasks)
    features = feature_progress(tasks, kids=info.kids)
    if phases or features:
        out += ["### Progress", "", "| | Done | |", "|---|---|---|"]
        rows = [f"| phase {_esc(p.name)} | {p.closed}/{p.total} | {_bar(p)} {p.percent}% |"
                for p in phases]
        rows += [f"| {_esc(p.name)} | {p.closed}/{p.total} | {_bar(p)} {p.percent}% |"
                 for p in features]
        out += _cap(rows, max_rows, "rows")
        out.append("")
    escalated = [t for t in tasks.values() if escalation_label in t.labels
                 and t.status != Status.CLOSED]
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
    running = [t for t in tasks.values() if t.status == Status.IN_PROGRESS]
    if running:
        out += ["### Running", "", "| Task | Title | Assignee |", "|---|---|---|"]
        out += _cap([f"| {t.id} | {_esc(t.title)} | {t.assignee} |" for t in running],
                    max_rows, "tasks")
        out.append("")
    waiting = {k: v for k, v in blocked.items() if tasks[k].status != Status.CLOSED}
    if waiting:
        out += ["### Blocked", "", "| Task | Waiting on | Title |", "|---|---|---|"]
        out += _cap([f"| {k} | {', '.join(v)} | {_esc(tasks[k].title)} |"
                     for k, v in waiting.items()], max_rows, "tasks")
        out.append("")
    attempts = recent_attempts(tasks)
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
    if dag_limit > 0 and any(t.status != Status.CLOSED for t in tasks.values()):
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
