"""The result record: what one agent run hands to the step that applies results.

It is plain JSON (`result.json` beside the run's logs), so the run and the apply step can be
in different processes or machines: the GitHub workflow's agent job writes it into an artifact
and its report job applies it; `orchestrator run` passes it in memory. The format is described
in docs/coordinator.md; `RESULT_VERSION` changes when a field changes meaning or goes away
(adding a field with a default does not change it).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from orchestrator.agents.outcome import Outcome, outcome_from_dict
from orchestrator.dispatch.graph_state import changed_between
from orchestrator.errors import UserError
from orchestrator.tasks.model import Task, task_from_record, to_record

RESULT_VERSION = 1


@dataclass(frozen=True)
class NewComment:
    author: str
    text: str


@dataclass(frozen=True)
class DepAdded:
    issue_id: str
    depends_on_id: str
    type: str


@dataclass(frozen=True)
class TaskEffects:
    """What the agent did to the queue: its own task's after-state, the comments it added to
    it, the tasks it created and the dependencies it added to tasks that existed before.
    Changes to other existing tasks are not carried (an agent works on its own task only)."""

    readable: bool = True                   # False: the store could not be read after the run
    status: str = ""                        # its task's status after the run
    close_reason: str = ""
    notes: str = ""
    comments: tuple[NewComment, ...] = ()
    created: tuple[Task, ...] = ()
    deps_added: tuple[DepAdded, ...] = ()
    refused: tuple[str, ...] = ()            # what the task command refused the agent


@dataclass(frozen=True)
class Commits:
    """The task branch after the run (uncommitted leftovers committed), or all "" without git."""

    base: str = ""          # the commit the run started from
    head: str = ""          # the branch tip after the run (== base: no commits)
    branch: str = ""        # orchestrator/<task-id>
    worktree: str = ""      # where the run worked, when the applying process can see it (local)
    bundle: str = ""        # a git bundle of base..head beside result.json (distributed runs)
    update: str = ""        # how an earlier attempt's branch met the tip (gitops.TaskWorktree)


@dataclass(frozen=True)
class ResultRecord:
    task_id: str
    attempt: int
    kind: str               # the task kind the run got (implement, verify, ...)
    budget: str             # the thinking budget it ran with ("" if the profile has none)
    log_dir: str            # logs/run/<run>, relative to the repository when inside it
    started_at: str         # RFC 3339 UTC
    outcome: Outcome        # what the policy judges, adjusted for refused or protected commits
    effects: TaskEffects = field(default_factory=TaskEffects)
    commits: Commits = field(default_factory=Commits)
    profile: str = ""
    duration_s: float = 0.0
    version: int = RESULT_VERSION

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["effects"]["created"] = [to_record(t) for t in self.effects.created]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "result") -> ResultRecord:
        try:
            version = int(data.get("version", 0))
            if version != RESULT_VERSION:
                raise UserError(f"{where}: result format version {version}, this orchestrator "
                                f"reads version {RESULT_VERSION}")
            e = dict(data.get("effects") or {})
            effects = TaskEffects(
                readable=bool(e.get("readable", True)), status=str(e.get("status", "")),
                close_reason=str(e.get("close_reason", "")), notes=str(e.get("notes", "")),
                comments=tuple(NewComment(str(c["author"]), str(c["text"]))
                               for c in e.get("comments", ())),
                created=tuple(task_from_record(r) for r in e.get("created", ())),
                deps_added=tuple(DepAdded(str(d["issue_id"]), str(d["depends_on_id"]),
                                          str(d["type"])) for d in e.get("deps_added", ())),
                refused=tuple(str(x) for x in e.get("refused", ())))
            commits = Commits(**{k: str(v) for k, v in (data.get("commits") or {}).items()})
            return cls(task_id=str(data["task_id"]), attempt=int(data["attempt"]),
                       kind=str(data.get("kind", "")), budget=str(data.get("budget", "")),
                       log_dir=str(data.get("log_dir", "")),
                       started_at=str(data.get("started_at", "")),
                       outcome=outcome_from_dict(data["outcome"]), effects=effects,
                       commits=commits, profile=str(data.get("profile", "")),
                       duration_s=float(data.get("duration_s", 0.0)), version=version)
        except UserError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(f"{where}: not a result record ({type(e).__name__}: {e})") from None


def read_result(path: Path) -> ResultRecord:
    """A result.json; a bundle named relative to it is returned as an absolute path."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot read the result record ({e.strerror or e})") from None
    except ValueError as e:
        raise UserError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a result record (a JSON object is expected)")
    record = ResultRecord.from_json(data, where=str(path))
    if record.commits.bundle:
        bundle = (path.parent / record.commits.bundle).resolve()
        record = replace(record, commits=replace(record.commits, bundle=str(bundle)))
    return record


def task_effects(task_id: str, before: Mapping[str, Task],
                 after: Mapping[str, Task] | None) -> TaskEffects:
    """The queue changes between two snapshots that the record carries (see TaskEffects)."""
    if after is None:
        return TaskEffects(readable=False)
    mine = after.get(task_id)
    old = before.get(task_id)
    seen = {(c.author, c.text) for c in old.comments} if old is not None else set()
    deps = []
    # only the tasks whose object changed can differ (a store hands out the same object for a
    # task it did not change): no pass over every task's edges
    changed, _ = changed_between(before, after)
    for tid in changed:
        t, prior = after[tid], before.get(tid)
        if prior is None:
            continue
        had = {(d.depends_on_id, d.type) for d in prior.dependencies}
        deps += [DepAdded(tid, d.depends_on_id, d.type) for d in t.dependencies
                 if (d.depends_on_id, d.type) not in had]
    return TaskEffects(
        status=str(mine.status) if mine else "", close_reason=mine.close_reason if mine else "",
        notes=mine.notes if mine else "",
        comments=tuple(NewComment(c.author, c.text) for c in (mine.comments if mine else ())
                       if (c.author, c.text) not in seen),
        created=tuple(after[tid] for tid in changed if tid not in before),
        deps_added=tuple(deps))
