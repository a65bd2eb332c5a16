"""The bd adapter: the TaskStore port backed by the real `bd` CLI (beads reference §3).

Every call runs `bd --actor <actor> <command> ... --json` in the repository through
orchestrator/process.py and parses stdout only (bd prints hints, notices and auto-import
messages on stderr). Shapes differ between bd versions, so the parser accepts an array or a
single object, the `BD_JSON_ENVELOPE=1` wrapper `{"data": ..., "schema_version": 1}`, and
`bd list --skip-labels`' `{"issues": [...]}`. `bd show` returns dependencies as full issues
with `dependency_type`; they become Dependency records here.

Choices (documented in docs/configuration.md as well):
- `all()` is `bd list --all --json --flat --limit 0`. `bd list` carries no comments, and the
  attempt history lives in comments, so `all()` then fetches comments with one batched
  `bd show ... --include-comments` for the tasks that are not closed and have
  `comment_count > 0`. Closed tasks keep their `comment_count` but come without comments.
- `update`, `claim` and `close` return the tasks exactly as bd prints them (`types.Issue`:
  labels, no dependencies); call `show()` for the full task.
"""
from __future__ import annotations

import builtins
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator import process
from orchestrator.config import BdConfig
from orchestrator.errors import ClaimRefused, UserError
from orchestrator.tasks.graph import ReadyFilter
from orchestrator.tasks.model import (
    BLOCKS,
    Comment,
    RecordError,
    Task,
    task_from_record,
)
from orchestrator.tasks.store import CloseResult, NewTask, TaskChanges

SHOW_BATCH = 200  # IDs per `bd show` call, to stay far below the argv size limit
_NOT_INITIALISED = "database not initialized"
_CLAIM_REFUSALS = ("already claimed", "not claimable")


class BdStore:
    kind = "bd"
    task_cmd = "bd"

    def __init__(self, repo: Path, cfg: BdConfig) -> None:
        self.repo = Path(repo)
        self.cfg = cfg

    # -- running bd ----------------------------------------------------------------------
    def _argv(self, args: Sequence[str], actor: str | None) -> list[str]:
        return [self.cfg.path, "--actor", actor or self.cfg.actor, *args]

    def _call(self, args: Sequence[str], *, actor: str | None = None) -> process.Completed:
        if shutil.which(self.cfg.path) is None:
            raise UserError(f"bd not found: {self.cfg.path!r} is not on PATH (install bd, set "
                            "bd.path in .orchestrator.yml, or use --store jsonl)")
        # CI=true-like behaviour without touching CI: bootstrap/init never prompt
        env = {**os.environ, "BD_NON_INTERACTIVE": "1"}
        return process.run(self._argv(args, actor), cwd=self.repo, env=env, check=False)

    def _json(self, args: Sequence[str], *, actor: str | None = None) -> Any:
        """Run a --json command; a non-zero exit or an error object is a UserError."""
        done = self._call(args, actor=actor)
        what = _what(args)
        payload = _parse_stdout(done.stdout, what) if done.stdout.strip() else None
        error = _error_text(payload) or (_stderr_error(done.stderr) if done.returncode else None)
        if done.returncode != 0 or error:
            raise _error(what, error or _tail(done.stderr) or f"exited {done.returncode}",
                         done.returncode)
        return payload

    def _tasks(self, payload: Any, what: str) -> list[Task]:
        out = []
        for rec in _items(payload):
            try:
                out.append(task_from_record(_flatten_show_record(rec)))
            except RecordError as e:
                raise UserError(f"{what}: bd returned an invalid issue: {e}") from None
        return out

    # -- reading -------------------------------------------------------------------------
    def all(self) -> dict[str, Task]:
        tasks = {t.id: t for t in self._tasks(
            self._json(["list", "--all", "--json", "--flat", "--limit", "0"]), "bd list")}
        wanted = [t.id for t in tasks.values()
                  if t.status != "closed" and _count(t, "comment_count") > 0 and not t.comments]
        for start in range(0, len(wanted), SHOW_BATCH):
            for shown in self.show(wanted[start:start + SHOW_BATCH]):
                if shown.id in tasks:
                    tasks[shown.id] = tasks[shown.id].evolve(comments=shown.comments)
        return tasks

    def list(self, *, statuses: Sequence[str] = (), assignee: str | None = None,
             labels: Sequence[str] = (), issue_type: str | None = None,
             parent: str | None = None) -> list[Task]:
        args = ["list", "--json", "--flat", "--limit", "0"]
        if "all" in statuses:
            args.append("--all")
        elif statuses:
            args += ["--status", ",".join(statuses)]
        if assignee is not None:
            args += ["--assignee", assignee]
        for label in labels:
            args += ["--label", label]
        if issue_type is not None:
            args += ["--type", issue_type]
        if parent is not None:
            args += ["--parent", parent]
        return self._tasks(self._json(args), "bd list")

    def ready(self, filter: ReadyFilter = ReadyFilter(), *, sort: str = "priority",
              limit: int = 0) -> builtins.list[Task]:
        args = ["ready", "--json", "--limit", str(limit), "--sort", sort]
        if filter.only_type is not None:
            args += ["--type", filter.only_type]
        if filter.exclude_types:
            args += ["--exclude-type", ",".join(sorted(filter.exclude_types))]
        if filter.assignee is not None:
            args += ["--assignee", filter.assignee]
        if filter.unassigned:
            args.append("--unassigned")
        for label in filter.labels:
            args += ["--label", label]
        if filter.labels_any:
            args += ["--label-any", ",".join(filter.labels_any)]
        if filter.priority is not None:
            args += ["--priority", str(filter.priority)]
        if filter.parent is not None:
            args += ["--parent", filter.parent]
        if filter.include_deferred:
            args.append("--include-deferred")
        if filter.include_ephemeral:
            args.append("--include-ephemeral")
        return self._tasks(self._json(args), "bd ready")

    def show(self, ids: Sequence[str]) -> builtins.list[Task]:
        if not ids:
            return []
        # bd <= 1.0.4 always included comments; 1.0.5 needs --include-comments
        found = self._tasks(self._json(["show", *ids, "--json", "--include-comments"]), "bd show")
        by_id = {t.id: t for t in found}
        missing = [i for i in ids if i not in by_id]
        if missing:  # bd reports unknown IDs on stderr and skips them
            raise UserError(f"no task {', '.join(missing)} in bd")
        return [by_id[i] for i in ids]

    # -- writing -------------------------------------------------------------------------
    def create(self, new: NewTask, *, actor: str) -> Task:
        args = ["create", "--title", new.title, "--json", "--type", new.issue_type,
                "--priority", str(new.priority)]
        for flag, value in (("--description", new.description), ("--design", new.design),
                            ("--acceptance", new.acceptance_criteria), ("--notes", new.notes),
                            ("--assignee", new.assignee), ("--parent", new.parent or ""),
                            ("--id", new.id or "")):
            if value:
                args += [flag, value]
        if new.labels:
            args += ["--labels", ",".join(new.labels)]
        if new.deps:
            args += ["--deps", ",".join(new.deps)]
        (task,) = self._tasks(self._json(args, actor=actor), "bd create")
        return task

    def update(self, ids: Sequence[str], changes: TaskChanges, *, actor: str) -> builtins.list[Task]:
        args = ["update", *ids, "--json"]
        for flag, value in (("--status", changes.status), ("--title", changes.title),
                            ("--description", changes.description), ("--design", changes.design),
                            ("--acceptance", changes.acceptance_criteria),
                            ("--notes", changes.notes), ("--append-notes", changes.append_notes),
                            ("--assignee", changes.assignee), ("--type", changes.issue_type)):
            if value is not None:
                args += [flag, value]
        if changes.priority is not None:
            args += ["--priority", str(changes.priority)]
        for label in changes.add_labels:
            args += ["--add-label", label]
        for label in changes.remove_labels:
            args += ["--remove-label", label]
        if changes.set_labels is not None:
            args += ["--set-labels", ",".join(changes.set_labels)]
        return self._tasks(self._json(args, actor=actor), "bd update")

    def claim(self, task_id: str, *, actor: str) -> Task:
        """`bd update ID --claim`: bd's atomic compare-and-swap. A refusal is exit 1 with the
        reason on stderr and nothing on stdout."""
        tasks = self._tasks(self._json(["update", task_id, "--claim", "--json"], actor=actor),
                            "bd update --claim")
        if not tasks:
            raise ClaimRefused(f"bd update --claim {task_id}: nothing claimed")
        return tasks[0]

    def close(self, ids: Sequence[str], *, reason: str = "Closed", force: bool = False,
              actor: str) -> CloseResult:
        args = ["close", *ids, "--json"]
        for _ in ids:  # bd 1.0.5 pairs one --reason with each ID
            args += ["--reason", reason or "Closed"]
        if force:
            args.append("--force")
        done = self._call(args, actor=actor)
        # bd prints one refusal per skipped ID on stderr; exit 1 only when nothing closed
        refused = tuple(line.strip() for line in done.stderr.splitlines()
                        if line.strip().lower().startswith(("cannot close", "error", "no issue")))
        payload = _parse_stdout(done.stdout, "bd close") if done.stdout.strip() else None
        error = _error_text(payload)
        if done.returncode != 0 or error:
            if _NOT_INITIALISED in (error or done.stderr).lower() or done.returncode != 1:
                raise _error("bd close", error or _tail(done.stderr), done.returncode)
            return CloseResult((), refused or ((error or _stderr_error(done.stderr)
                                                or _tail(done.stderr) or "bd close refused"),))
        return CloseResult(tuple(self._tasks(payload, "bd close")), refused)

    def dep_add(self, issue_id: str, depends_on_id: str, *, dep_type: str = BLOCKS,
                actor: str) -> None:
        self._json(["dep", "add", issue_id, depends_on_id, "--type", dep_type, "--json"],
                   actor=actor)

    def dep_remove(self, issue_id: str, depends_on_id: str, *, actor: str) -> None:
        self._json(["dep", "remove", issue_id, depends_on_id, "--json"], actor=actor)

    def comment(self, task_id: str, text: str, *, author: str) -> Comment:
        # `--` so a comment starting with "-" is never read as a flag
        payload = self._json(["comments", "add", "--json", "--author", author, "--",
                              task_id, text], actor=author)
        rec = _unwrap(payload)
        if isinstance(rec, list) and len(rec) == 1:
            rec = rec[0]
        if not isinstance(rec, Mapping) or "text" not in rec:
            raise UserError(f"bd comments add: unexpected output {str(payload)[:200]!r}")
        rec = {k: v for k, v in rec.items() if k != "schema_version"}
        return Comment(id=str(rec.get("id", "")), issue_id=rec.get("issue_id") or task_id,
                       author=rec.get("author") or author, text=rec.get("text") or "",
                       created_at=rec.get("created_at") or "", raw=rec)

    # -- CI sync hooks -------------------------------------------------------------------
    def sync_pull(self) -> None:
        """`bd bootstrap --yes` (clone refs/dolt/data or import the JSONL on a fresh
        checkout; non-destructive otherwise), when bd.bootstrap is on."""
        if self.cfg.bootstrap:
            self._checked(["bootstrap", "--yes"])

    def sync_push(self) -> None:
        """`bd dolt push` after writing, when bd.push is on."""
        if self.cfg.push:
            self._checked(["dolt", "push"])

    def _checked(self, args: Sequence[str]) -> None:
        done = self._call(args)
        if done.returncode != 0:
            raise _error(_what(args), _stderr_error(done.stderr) or _tail(done.stderr)
                         or _tail(done.stdout) or f"exited {done.returncode}", done.returncode)


# -- parsing helpers ---------------------------------------------------------------------
def _what(args: Sequence[str]) -> str:
    words = [a for a in args[:2] if not a.startswith("-")]
    if words and words[0] not in ("dep", "comments", "dolt"):
        words = words[:1]
    return "bd " + " ".join(words)


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(x.strip() for x in text.strip().splitlines()[-lines:] if x.strip())


def _parse_stdout(stdout: str, what: str) -> Any:
    try:
        return _unwrap(json.loads(stdout))
    except ValueError:
        raise UserError(f"{what}: bd printed something that is not JSON: "
                        f"{stdout.strip()[:120]!r}") from None


def _unwrap(payload: Any) -> Any:
    """Remove the BD_JSON_ENVELOPE wrapper {"data": ..., "schema_version": N}."""
    if isinstance(payload, dict) and "data" in payload and set(payload) <= {"data", "schema_version"}:
        return payload["data"]
    return payload


def _error_text(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        hint = payload.get("hint")
        return payload["error"] + (f" ({hint})" if isinstance(hint, str) and hint else "")
    return None


def _stderr_error(stderr: str) -> str | None:
    """bd's FatalError writes {"error": ...} to stderr; otherwise the last meaningful line."""
    text = stderr.strip()
    if not text:
        return None
    try:
        found = _error_text(_unwrap(json.loads(text)))
    except ValueError:
        found = None
    if found:
        return found
    for line in reversed(text.splitlines()):
        try:
            found = _error_text(_unwrap(json.loads(line)))
        except ValueError:
            continue
        if found:
            return found
    return None


def _error(what: str, message: str, returncode: int) -> UserError:
    lowered = message.lower()
    if _NOT_INITIALISED in lowered:
        return UserError(f"{what}: the bd database is not initialized in this clone; run "
                         "`bd bootstrap` (or set bd.bootstrap: true in .orchestrator.yml)")
    if any(r in lowered for r in _CLAIM_REFUSALS):
        return ClaimRefused(f"{what}: {message}")
    one_line = " ".join(message.split())
    return UserError(f"{what} failed (exit {returncode}): {one_line}")


def _items(payload: Any) -> list[Mapping[str, Any]]:
    """An array, a single object (docs/JSON_SCHEMA.md's show), or {"issues": [...]}."""
    if payload is None:
        return []
    if isinstance(payload, dict):
        if isinstance(payload.get("issues"), list):
            return payload["issues"]
        return [{k: v for k, v in payload.items() if k != "schema_version"}]
    if isinstance(payload, list):
        return payload
    raise UserError(f"bd returned {type(payload).__name__} where issues were expected")


def _flatten_show_record(rec: Any) -> Any:
    """`bd show` lists dependencies as full issues with `dependency_type`; turn them into
    Dependency records (issue_id depends on the listed issue)."""
    if not isinstance(rec, Mapping) or not isinstance(rec.get("dependencies"), list):
        return rec
    deps = []
    for d in rec["dependencies"]:
        if isinstance(d, Mapping) and "depends_on_id" not in d and "id" in d:
            deps.append({"issue_id": rec.get("id"), "depends_on_id": d["id"],
                         "type": d.get("dependency_type") or BLOCKS, "metadata": "{}"})
        else:
            deps.append(d)
    return {**rec, "dependencies": deps}


def _count(task: Task, key: str) -> int:
    value = task.raw.get(key, 0)
    return value if isinstance(value, int) else 0
