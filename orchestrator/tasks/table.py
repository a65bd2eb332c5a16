"""Plain-text tables for humans (JSON output goes through shapes.py)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from orchestrator.tasks.model import Task


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, max_width: int = 72) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=False)]
    widths[-1] = min(widths[-1], max_width)

    def fmt(row: Sequence[str]) -> str:
        last = row[-1] if len(row[-1]) <= widths[-1] else row[-1][: widths[-1] - 1] + "…"
        return "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)), last]).rstrip()

    return "\n".join([fmt(headers), *(fmt(r) for r in cells)])


def task_table(tasks: Iterable[Task]) -> str:
    return table(("ID", "P", "TYPE", "STATUS", "TITLE"),
                 [(t.id, f"P{t.priority}", t.issue_type, t.status, t.title) for t in tasks])
