"""`orchestrator merge-driver %O %A %B [%P]`: git's custom merge driver for issues.jsonl.

Git calls it with the ancestor, ours (the result goes here) and theirs; exit 0 means merged
cleanly, 1 means conflicts remain (git then stops the merge for a human). A corrupt input is a
one-line error naming the file and line, and %A is left untouched."""
from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.errors import UserError
from orchestrator.tasks.jsonl import write_atomic
from orchestrator.tasks.merge import merge_records


def _read(label: str, path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"merge-driver: cannot read {label} {path}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UserError(f"merge-driver: {label} {path}:{line}: not UTF-8") from None


def merge_driver(base: Path, ours: Path, theirs: Path, *, name: str = "") -> int:
    texts = [_read(label, p) for label, p in (("base", base), ("ours", ours), ("theirs", theirs))]
    shown = name or ours.name
    labels = (f"{shown} (base)", f"{shown} (ours)", f"{shown} (theirs)")
    try:
        result = merge_records(*texts, names=labels)
    except UserError as e:
        raise UserError(f"merge-driver: {e}") from None
    write_atomic(ours, result.text)
    for res in result.resolutions:
        print(f"orchestrator merge-driver: {shown}: {res.describe()}", file=sys.stderr)
    for conflict in result.conflicts:
        print(f"orchestrator merge-driver: {shown}: CONFLICT {conflict.describe()}", file=sys.stderr)
    return 0 if result.clean else 1
