"""Which prompt a task gets, filled from the task and its neighbours.

The task's kind (feature planning, task planning, implementation, E2E verification, regression)
picks a template: the built-in ones live in `orchestrator/prompt/`, and a file of the same name in
the repository's `prompt/` folder (config `agent.prompt_dir`) overrides it. The template is
followed by the task itself, its parent feature, what it unblocks, earlier attempts, and the exact
commands that update the queue with the store's command (`bd` or `orchestrator task`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.fileio import read_capped_text
from orchestrator.tasks.history import MARKER, AttemptRecord
from orchestrator.tasks.kinds import KINDS
from orchestrator.tasks.model import BLOCKING_EDGES, Task

TEMPLATES = {
    "plan_features": "plan_features.txt",
    "plan_tasks": "plan_tasks.txt",
    "implement": "coding_agent_prompt.txt",
    "verify": "verification_prompt.txt",
    "regression": "regression_prompt.txt",
}
MAX_TEMPLATE_BYTES = 1 << 20  # the built-in templates are a few KB
_MAX_FIELD = 6000       # characters of one task field in the prompt
_MAX_PARENT = 3000
_MAX_COMMENTS = 5


def load_template(name: str, repo: Path | None, config: Config) -> str:
    """The repository's `<prompt_dir>/<name>` if present, else the built-in template."""
    if repo is not None:
        override = repo / config.agent.prompt_dir / name
        if override.is_file():
            return read_capped_text(override, MAX_TEMPLATE_BYTES, "prompt template")
    return resources.files("orchestrator").joinpath("prompt", name).read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace the known `{name}` placeholders; other braces (code, JSON) stay as they are."""
    return re.sub(r"\{([a-z_]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"\n[... {len(text) - limit} more characters]"


def queue_commands(task_id: str, task_cmd: str) -> str:
    c, t = task_cmd, task_id
    return "\n".join([
        "## Updating the queue",
        "",
        f"This queue is updated with `{c}`. Use exactly these commands:",
        "",
        f"- Read the task again: `{c} show {t}`",
        f"- Done (acceptance criteria met, work committed): `{c} close {t} --reason \"<one-line summary>\"`",
        f"- Running low on context, or stopping for any reason before done: first "
        f"`{c} update {t} --append-notes \"HANDOFF: <done so far; what is left; files; next step>\"`, "
        "then exit without closing the task.",
        "- Blocked by work that does not exist yet: create the blocking task, make this task depend "
        "on it, explain in a note, and exit without closing:",
        "  ```",
        f"  NEW=$({c} create --title \"<what is needed>\" --type task --priority 1 "
        "--description \"<why and what exactly>\" --silent)",
        f"  {c} dep add {t} \"$NEW\"",
        f"  {c} update {t} --append-notes \"Blocked by $NEW: <why>\"",
        "  ```",
        f"- Leave a remark for humans: `{c} comment {t} \"<text>\"`",
    ])


def _task_section(task: Task, tasks: Mapping[str, Task]) -> list[str]:
    out = [f"# Your task: {task.id}: {task.title}", ""]
    meta = f"Type {task.issue_type}, priority P{task.priority}, status {task.status}"
    if task.labels:
        meta += ", labels " + ", ".join(task.labels)
    out += [meta + ".", ""]
    for heading, value in (("Description", task.description), ("Design", task.design),
                           ("Acceptance criteria", task.acceptance_criteria),
                           ("Notes (handoff notes from earlier agents are here)", task.notes)):
        if value.strip():
            out += [f"## {heading}", "", _clip(value, _MAX_FIELD), ""]
    remarks = [c for c in task.comments if MARKER not in c.text][-_MAX_COMMENTS:]
    if remarks:
        out += ["## Recent comments", ""]
        out += [f"- {c.author or 'someone'} ({c.created_at}): {_clip(c.text, 800)}" for c in remarks]
        out.append("")
    parent = tasks.get(task.parent) if task.parent else None
    if parent is not None:
        out += [f"## Parent: {parent.id}: {parent.title} ({parent.issue_type}, {parent.status})", ""]
        if parent.description.strip():
            out += [_clip(parent.description, _MAX_PARENT), ""]
        if parent.acceptance_criteria.strip():
            out += ["Parent acceptance criteria:", "", _clip(parent.acceptance_criteria, _MAX_PARENT), ""]
    blockers = [d.depends_on_id for d in task.dependencies if d.type in BLOCKING_EDGES]
    if blockers:
        out += ["## Depends on", ""]
        out += [f"- {b}: {tasks[b].title} ({tasks[b].status})" if b in tasks else f"- {b}" for b in blockers]
        out.append("")
    unblocks = [t for t in tasks.values() if t.id != task.id and any(
        d.depends_on_id == task.id and d.type in BLOCKING_EDGES for d in t.dependencies)]
    if unblocks:
        out += ["## Closing this task unblocks", ""]
        out += [f"- {t.id}: {t.title} ({t.status})" for t in unblocks[:20]]
        out.append("")
    return out


def _history_section(history: Sequence[AttemptRecord], attempt: int, budget: str) -> list[str]:
    out = [f"## This is attempt {attempt}" + (f" (thinking budget {budget})" if budget else ""), ""]
    if not history:
        return out
    out += ["Earlier attempts at this task (oldest first). Learn from them; do not repeat what failed:", ""]
    for rec in history[-6:]:
        what = rec.kind + (f"/{rec.subclass}" if rec.subclass else "")
        line = f"- Attempt {rec.attempt}: {what}" + (f", budget {rec.budget}" if rec.budget else "")
        if rec.digest:
            line += f". {_clip(rec.digest, 1200)}"
        if rec.log_dir:
            line += f" (log: {rec.log_dir})"
        out.append(line)
    out.append("")
    return out


def build_prompt(*, task: Task, tasks: Mapping[str, Task], kind: str, task_cmd: str,
                 attempt: int = 1, budget: str = "", history: Sequence[AttemptRecord] = (),
                 repo: Path | None = None, config: Config) -> str:
    """The full prompt (Markdown) for one run."""
    if kind not in TEMPLATES:
        raise UserError(f"unknown task kind {kind!r} (expected one of {', '.join(KINDS)})")
    values = {"task_id": task.id, "task_cmd": task_cmd, "attempt": str(attempt), "title": task.title,
              "kind": kind, "budget": budget}
    head = fill(load_template(TEMPLATES[kind], repo, config), values).strip()
    body = [head, "", "---", ""]
    body += _task_section(task, tasks)
    body += _history_section(history, attempt, budget)
    body.append(queue_commands(task.id, task_cmd))
    return "\n".join(body).rstrip() + "\n"
