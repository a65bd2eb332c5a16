"""Generate a realistic `.beads/issues.jsonl` of N tasks for the readiness benchmark.

The shape is what a planned backlog looks like part-way through: phases (epics) in sequence,
features (epics, children `PHASE.N`) with their tasks (children `PHASE.N.M`), a `blocks` chain
inside each feature, a setup task that fans out and an end-to-end task that fans in, features
blocked by earlier features, some cross-feature `blocks` edges, bugs `discovered-from` a task,
`related` links, labels, comments, a few deferred tasks. Earlier phases are closed, the current
ones mixed (closed / in_progress / open), later ones open. Every edge points to an earlier task,
so the blocking graph has no cycle and the file loads as is. Deterministic for a given seed.

    python bench/generate.py 10000 bench/out/10k        # -> bench/out/10k/.beads/issues.jsonl
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PREFIX = "bench"
LABELS = ("api", "ui", "db", "infra", "auth", "docs", "perf", "checkout", "search", "billing")
AGENTS = ("agent-ada", "agent-lin", "agent-kay", "agent-bo")
START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
# One phase is ~ FEATURES_PER_PHASE * (TASKS_PER_FEATURE + 1) + 1 tasks.
FEATURES_PER_PHASE = (6, 14)
TASKS_PER_FEATURE = (5, 14)
CLOSED_SHARE = 0.55      # phases before this share of the queue are done
ACTIVE_SHARE = 0.15      # the next share is in flight


def _ts(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash_id(n: int) -> str:
    return f"{PREFIX}-{hashlib.sha256(str(n).encode()).hexdigest()[:6]}"


def _dep(tid: str, on: str, kind: str, at: str) -> dict[str, Any]:
    return {"issue_id": tid, "depends_on_id": on, "type": kind, "created_at": at,
            "created_by": "planner", "metadata": "{}"}


def generate(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """About n bd export records (exactly n: the last phase is cut to fit)."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    clock = 0
    top = 0

    def new(tid: str, title: str, itype: str, parent: str | None, state: str,
            priority: int | None = None) -> dict[str, Any]:
        nonlocal clock
        clock += rng.randint(1, 7)
        at = _ts(clock)
        rec: dict[str, Any] = {
            "_type": "issue", "id": tid, "title": title,
            "description": f"{title}. " + " ".join(rng.choices(WORDS, k=rng.randint(8, 60))),
            "status": "open", "priority": priority if priority is not None else rng.choice((1, 2, 2, 2, 3, 3, 4)),
            "issue_type": itype, "owner": "planner@example.com", "created_at": at,
            "created_by": "planner", "updated_at": at,
            "labels": sorted(rng.sample(LABELS, rng.randint(0, 3))),
            "dependencies": [_dep(tid, parent, "parent-child", at)] if parent else [],
        }
        if itype == "task" and rng.random() < 0.3:
            rec["acceptance_criteria"] = "- " + "\n- ".join(
                " ".join(rng.choices(WORDS, k=6)) for _ in range(rng.randint(1, 4)))
        status = state
        if state == "mixed":
            status = rng.choices(("closed", "in_progress", "open"), (0.5, 0.15, 0.35))[0]
        _set_status(rng, rec, status, clock)
        records.append(rec)
        return rec

    prev_features: list[str] = []
    prev_phase = ""
    while len(records) < n:
        top += 1
        phase = _hash_id(top)
        prec = new(phase, f"Phase {top}", "epic", None, "open", priority=1)
        if prev_phase and rng.random() < 0.5:  # some phases wait for the one before
            prec["dependencies"].append(_dep(phase, prev_phase, "blocks", prec["created_at"]))
        prev_phase = phase
        phase_features: list[str] = []
        for f in range(1, rng.randint(*FEATURES_PER_PHASE) + 1):
            if len(records) >= n:
                break
            share = len(records) / n
            state = ("closed" if share < CLOSED_SHARE else
                     "mixed" if share < CLOSED_SHARE + ACTIVE_SHARE else "open")
            feature = f"{phase}.{f}"
            frec = new(feature, f"Feature {top}.{f}", "epic", phase, "open",
                       priority=rng.choice((1, 2, 2)))
            # features wait on one or two earlier features (this phase or the last one)
            earlier = phase_features + prev_features[-3:]
            for other in rng.sample(earlier, min(len(earlier), rng.choice((0, 1, 1, 2)))):
                frec["dependencies"].append(_dep(feature, other, "blocks", frec["created_at"]))
            tasks: list[dict[str, Any]] = []
            for m in range(1, rng.randint(*TASKS_PER_FEATURE) + 1):
                if len(records) >= n:
                    break
                itype = rng.choices(("task", "bug", "chore", "feature"), (0.75, 0.1, 0.1, 0.05))[0]
                t = new(f"{feature}.{m}", f"Task {top}.{f}.{m}", itype, feature, state)
                if tasks:
                    if m == 2 or rng.random() < 0.1:   # setup task fans out
                        t["dependencies"].append(_dep(t["id"], tasks[0]["id"], "blocks", t["created_at"]))
                    else:                              # the sequential chain
                        t["dependencies"].append(_dep(t["id"], tasks[-1]["id"], "blocks", t["created_at"]))
                if rng.random() < 0.05 and len(records) > 50:  # cross-feature edge to an earlier task
                    other = records[rng.randrange(len(records) - 40, len(records) - 20)]
                    if other["issue_type"] not in ("epic",) and other["id"] != t["id"]:
                        t["dependencies"].append(_dep(t["id"], other["id"], "blocks", t["created_at"]))
                if rng.random() < 0.05:
                    other = records[rng.randrange(0, len(records) - 1)]
                    t["dependencies"].append(_dep(t["id"], other["id"], "related", t["created_at"]))
                tasks.append(t)
            if len(tasks) >= 4 and len(records) < n:  # the end-to-end check fans in
                t = new(f"{feature}.{len(tasks) + 1}", f"Verify feature {top}.{f} end to end", "task",
                        feature, state)
                t["labels"] = sorted({*t["labels"], "e2e"})
                for prev in tasks[-4:]:
                    t["dependencies"].append(_dep(t["id"], prev["id"], "blocks", t["created_at"]))
            if state == "mixed" and tasks and rng.random() < 0.3 and len(records) < n:
                top += 1  # a bug found while working on the feature
                found = rng.choice(tasks)
                b = new(_hash_id(top), f"Bug found in {found['id']}", "bug", None, "open", priority=rng.choice((0, 1)))
                b["dependencies"].append(_dep(b["id"], found["id"], "discovered-from", b["created_at"]))
            phase_features.append(feature)
        prev_features = phase_features
    records = records[:n]
    _finish(rng, records)
    return records


def _set_status(rng: random.Random, rec: dict[str, Any], status: str, clock: int) -> None:
    rec["status"] = status
    if status in ("in_progress", "closed"):
        rec["assignee"] = rng.choice(AGENTS)
        rec["started_at"] = _ts(clock + rng.randint(5, 600))
        rec["updated_at"] = rec["started_at"]
    if status == "closed":
        rec["closed_at"] = _ts(clock + rng.randint(600, 5000))
        rec["updated_at"] = rec["closed_at"]
        rec["close_reason"] = rng.choice(("Done", "Implemented", "Fixed in PR", "Closed"))
    elif status == "open" and rng.random() < 0.01:
        rec["defer_until"] = "2099-01-01T00:00:00Z"


def _finish(rng: random.Random, records: list[dict[str, Any]]) -> None:
    """Drop edges to tasks cut off by the size limit, close the epics whose children are all
    closed (features before phases), add comments and bd's count fields, and put the keys in
    bd's export order."""
    ids = {r["id"] for r in records}
    for r in records:
        r["dependencies"] = [d for d in r["dependencies"] if d["depends_on_id"] in ids]
    kids: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        for d in r["dependencies"]:
            if d["type"] == "parent-child":
                kids[d["depends_on_id"]].append(r)
    for r in sorted((r for r in records if r["issue_type"] == "epic"), key=lambda r: -r["id"].count(".")):
        if kids[r["id"]] and all(k["status"] == "closed" for k in kids[r["id"]]):
            _set_status(rng, r, "closed", 0)
            r["started_at"] = min(k["started_at"] for k in kids[r["id"]])
            r["closed_at"] = r["updated_at"] = max(k["closed_at"] for k in kids[r["id"]])
    dependents: dict[str, int] = defaultdict(int)
    for r in records:
        for d in r["dependencies"]:
            if d["type"] == "blocks":
                dependents[d["depends_on_id"]] += 1
        if r["status"] != "open" and rng.random() < 0.3:
            r["comments"] = [{
                "id": f"019e7388-{i:04x}-7b0d-9db0-{hashlib.sha256(r['id'].encode()).hexdigest()[:12]}",
                "issue_id": r["id"], "author": r.get("assignee", "planner"),
                "text": " ".join(rng.choices(WORDS, k=rng.randint(5, 40))),
                "created_at": r["updated_at"]} for i in range(rng.randint(1, 3))]
    order = ("_type", "id", "title", "description", "acceptance_criteria", "status", "priority",
             "issue_type", "assignee", "owner", "created_at", "created_by", "updated_at",
             "started_at", "closed_at", "close_reason", "defer_until", "labels", "dependencies",
             "comments")
    for i, r in enumerate(records):
        r["dependency_count"] = sum(1 for d in r["dependencies"] if d["type"] == "blocks")
        r["dependent_count"] = dependents[r["id"]]
        r["comment_count"] = len(r.get("comments", ()))
        out = {k: r[k] for k in order if k in r and r[k] not in ([], "")}
        out.update((k, r[k]) for k in ("dependency_count", "dependent_count", "comment_count"))
        records[i] = out


def write(repo: Path, n: int, seed: int = 1) -> Path:
    """Write the queue to REPO/.beads/issues.jsonl and return that path."""
    path = repo / ".beads" / "issues.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in generate(n, seed))
    path.write_text(text, encoding="utf-8")
    return path


WORDS = ("the", "cart", "totals", "endpoint", "returns", "cents", "rounding", "tax", "table",
         "service", "cache", "invalidate", "user", "session", "token", "refresh", "page", "render",
         "query", "index", "migration", "schema", "column", "retry", "timeout", "queue", "worker",
         "log", "metric", "alert", "test", "fixture", "flaky", "build", "deploy", "staging",
         "config", "flag", "rollout", "search", "filter", "sort", "paginate", "invoice", "refund",
         "webhook", "payload", "validate", "error", "message", "docs", "guide", "example")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tasks", type=int)
    p.add_argument("repo", type=Path, help="writes REPO/.beads/issues.jsonl")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    print(write(args.repo, args.tasks, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
