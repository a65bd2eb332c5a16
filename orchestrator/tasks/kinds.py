"""Task kinds: which prompt an agent gets for a task (feature planning, task planning,
implementation, E2E verification, regression). Pure: the plan shows the kind a run will get,
and the prompt builder picks its template by it."""
from __future__ import annotations

import re

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.tasks.model import Task

KINDS = ("plan_features", "plan_tasks", "implement", "verify", "regression")
KIND_LABEL = "kind:"


def _matches(entry: str, task: Task) -> bool:
    if entry.startswith("label:"):
        return entry[6:] in task.labels
    if entry.startswith("type:"):
        return task.issue_type == entry[5:]
    try:
        return re.search(entry, task.title, re.IGNORECASE) is not None
    except re.error as e:
        raise UserError(f"agent.kind_*: bad regular expression {entry!r}: {e}") from None


def task_kind(task: Task, config: Config) -> str:
    """A `kind:<kind>` label, else the first matching `agent.kind_*` list, else implement."""
    for label in task.labels:
        if label.startswith(KIND_LABEL):
            kind = label[len(KIND_LABEL):]
            if kind not in KINDS:
                raise UserError(f"task {task.id}: label {label!r} names no task kind "
                                f"(expected one of {', '.join(KINDS)})")
            return kind
    agent = config.agent
    for kind, entries in (("plan_features", agent.kind_plan_features),
                          ("plan_tasks", agent.kind_plan_tasks),
                          ("regression", agent.kind_regression),
                          ("verify", agent.kind_verify)):
        if any(_matches(e, task) for e in entries):
            return kind
    return "implement"
