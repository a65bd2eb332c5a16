"""Queues of several shapes for the queue-read benchmark (bench/bench_queue.py).

Each shape stresses another part of a read: how many tasks are printed, how deep readiness
flows down parent chains, how many edges a task has. Records carry what bd exports (text,
labels, timestamps, comments on a share of the worked tasks, counts), so the bare parse they
are compared with is realistic. Deterministic for a given size and seed.

- chain:  few ready. Ten long `blocks` chains, the first fifth of each closed: 10 ready.
- phases: about half ready. Phases of epics -> features -> tasks, a third closed, blocking
          edges between some features and inside a few of them (the shape of issue 14).
- flat:   all ready. A flat backlog of open tasks with no edges.
- deep:   deep parent chains. Chains of 50 tasks, each the parent of the next; a third of
          the chain heads are blocked, which blocks every descendant.
- dense:  many edges per task. Each task waits on 12 earlier ones (`blocks` and `related`);
          the first half of the queue is closed.

    python bench/shapes.py phases 10000 bench/out/phases-10000
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402

START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
LABELS = generate.LABELS
WORDS = generate.WORDS


class _Maker:
    """Builds bd export records with realistic text, in creation order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = 0
        self.records: list[dict[str, Any]] = []

    def ts(self, minutes: int) -> str:
        return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(self, tid: str, title: str, *, itype: str = "task", status: str = "open",
            parent: str | None = None, blocks: list[str] = (), related: list[str] = (),
            priority: int | None = None) -> dict[str, Any]:
        rng = self.rng
        self.clock += rng.randint(1, 7)
        at = self.ts(self.clock)
        deps = []
        if parent:
            deps.append(generate._dep(tid, parent, "parent-child", at))
        deps += [generate._dep(tid, b, "blocks", at) for b in blocks]
        deps += [generate._dep(tid, r, "related", at) for r in related]
        rec: dict[str, Any] = {
            "_type": "issue", "id": tid, "title": title,
            "description": f"{title}. " + " ".join(rng.choices(WORDS, k=rng.randint(8, 60))),
            "status": status,
            "priority": priority if priority is not None else rng.choice((1, 2, 2, 2, 3, 3, 4)),
            "issue_type": itype, "owner": "planner@example.com", "created_at": at,
            "created_by": "planner", "updated_at": at,
            "labels": sorted(rng.sample(LABELS, rng.randint(0, 3))), "dependencies": deps,
        }
        if status != "open":
            generate._set_status(rng, rec, status, self.clock)
        self.records.append(rec)
        return rec

    def finish(self) -> list[dict[str, Any]]:
        """Comments on a share of the worked tasks, bd's counts, bd's key order."""
        rng = self.rng
        dependents: dict[str, int] = defaultdict(int)
        for r in self.records:
            for d in r["dependencies"]:
                if d["type"] == "blocks":
                    dependents[d["depends_on_id"]] += 1
        out = []
        for r in self.records:
            if r["status"] != "open" and rng.random() < 0.3:
                r["comments"] = [{
                    "id": f"019e7388-{i:04x}-7b0d-9db0-"
                          f"{hashlib.sha256(r['id'].encode()).hexdigest()[:12]}",
                    "issue_id": r["id"], "author": r.get("assignee", "planner"),
                    "text": " ".join(rng.choices(WORDS, k=rng.randint(5, 40))),
                    "created_at": r["updated_at"]} for i in range(rng.randint(1, 3))]
            r["dependency_count"] = sum(1 for d in r["dependencies"] if d["type"] == "blocks")
            r["dependent_count"] = dependents[r["id"]]
            r["comment_count"] = len(r.get("comments", ()))
            keep = {k: v for k, v in r.items() if v not in ([], "")}
            ordered = {k: keep[k] for k in _ORDER if k in keep}
            ordered.update((k, r[k]) for k in ("dependency_count", "dependent_count",
                                               "comment_count"))
            out.append(ordered)
        return out


_ORDER = ("_type", "id", "title", "description", "acceptance_criteria", "status", "priority",
          "issue_type", "assignee", "owner", "created_at", "created_by", "updated_at",
          "started_at", "closed_at", "close_reason", "defer_until", "labels", "dependencies",
          "comments")


def _hid(n: int) -> str:
    return f"bench-{hashlib.sha256(str(n).encode()).hexdigest()[:10]}"


def chain(n: int, seed: int) -> list[dict[str, Any]]:
    m = _Maker(seed)
    chains = 10
    for c in range(chains):
        prev = None
        length = n // chains + (1 if c < n % chains else 0)
        for i in range(length):
            tid = _hid(c * n + i)
            m.add(tid, f"Step {i} of chain {c}", status="closed" if i < length // 5 else "open",
                  blocks=[prev] if prev else [])
            prev = tid
    return m.finish()


def phases(n: int, seed: int) -> list[dict[str, Any]]:
    m = _Maker(seed)
    rng = m.rng
    top = 0
    prev_features: list[str] = []
    while len(m.records) < n:
        top += 1
        phase = _hid(top)
        share = len(m.records) / n
        closed = share < 0.33
        m.add(phase, f"Phase {top}", itype="epic", status="closed" if closed else "open",
              priority=1)
        features: list[str] = []
        for f in range(1, rng.randint(6, 14) + 1):
            if len(m.records) >= n:
                break
            feature = f"{phase}.{f}"
            earlier = features + prev_features[-3:]
            waits = [] if closed else rng.sample(earlier, min(len(earlier), rng.choice((0, 0, 0, 1))))
            m.add(feature, f"Feature {top}.{f}", itype="epic",
                  status="closed" if closed else "open", parent=phase, blocks=waits)
            tasks: list[str] = []
            for k in range(1, rng.randint(5, 14) + 1):
                if len(m.records) >= n:
                    break
                tid = f"{feature}.{k}"
                blocks = [tasks[-1]] if tasks and rng.random() < 0.25 else []
                m.add(tid, f"Task {top}.{f}.{k}",
                      itype=rng.choices(("task", "bug", "chore", "feature"), (75, 10, 10, 5))[0],
                      status="closed" if closed else rng.choice(("open",) * 9 + ("in_progress",)),
                      parent=feature, blocks=blocks)
                tasks.append(tid)
            features.append(feature)
        prev_features = features
    return m.finish()


def flat(n: int, seed: int) -> list[dict[str, Any]]:
    m = _Maker(seed)
    for i in range(n):
        m.add(_hid(i), f"Backlog item {i}", itype=m.rng.choice(("task", "bug", "chore")))
    return m.finish()


def deep(n: int, seed: int) -> list[dict[str, Any]]:
    m = _Maker(seed)
    depth = 50
    blocker = _hid(-1)
    m.add(blocker, "The blocker of a third of the chains")
    i = 0
    while len(m.records) < n:
        prev = None
        head = i
        for _ in range(min(depth, n - len(m.records))):
            tid = _hid(i)
            blocks = [blocker] if prev is None and (head // depth) % 3 == 0 else []
            m.add(tid, f"Level {i - head} of chain {head // depth}", parent=prev, blocks=blocks)
            prev = tid
            i += 1
    return m.finish()


def dense(n: int, seed: int) -> list[dict[str, Any]]:
    m = _Maker(seed)
    rng = m.rng
    half = n // 2
    for i in range(n):
        if i < half:  # closed work, each waiting on up to 8 recent earlier tasks
            blocks = [_hid(j) for j in rng.sample(range(max(0, i - 200), i), min(i, 8))]
        else:  # open work: 8 closed blockers, and a quarter also wait on recent open work
            blocks = [_hid(j) for j in rng.sample(range(half), 8)]
            if rng.random() < 0.25 and i > half:
                blocks.append(_hid(rng.randrange(max(half, i - 50), i)))
        related = [_hid(j) for j in rng.sample(range(i), min(i, 4))]
        m.add(_hid(i), f"Task {i}", status="closed" if i < half else "open", blocks=blocks,
              related=related)
    return m.finish()


SHAPES: dict[str, Callable[[int, int], list[dict[str, Any]]]] = {
    "chain": chain, "phases": phases, "flat": flat, "deep": deep, "dense": dense,
}


def write(shape: str, n: int, repo: Path, seed: int = 1) -> Path:
    path = repo / ".beads" / "issues.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in SHAPES[shape](n, seed))
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shape", choices=sorted(SHAPES))
    p.add_argument("tasks", type=int)
    p.add_argument("repo", type=Path, help="writes REPO/.beads/issues.jsonl")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    print(write(args.shape, args.tasks, args.repo, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
