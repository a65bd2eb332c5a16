"""Plain-text tables for humans (JSON output goes through shapes.py)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from orchestrator.tasks.model import Task


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, max_width: int = 72) -> str:
    rows = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    widths[-1] = min(widths[-1], max_width)

    def fmt(cells: Sequence[str]) -> str:
        last = cells[-1] if len(cells[-1]) <= widths[-1] else cells[-1][: widths[-1] - 1] + "…"
        return "  ".join([*(c.ljust(w) for c, w in zip(cells[:-1], widths)), last]).rstrip()

    return "\n".join([fmt(headers), *(fmt(r) for r in rows)])


def task_table(tasks: Iterable[Task]) -> str:
    return table(("ID", "P", "TYPE", "STATUS", "TITLE"),
                 [(t.id, f"P{t.priority}", t.issue_type, t.status, t.title) for t in tasks])
