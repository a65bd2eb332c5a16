"""Files that a crash or a concurrent process never sees half-way: atomic replacement, and one
lock helper for read-modify-write across threads and processes."""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, overload

from orchestrator.errors import UserError


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, before any thread
    # runs: flipping it later would briefly give other threads' new files mode 0666.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` via a synced temp file in the same directory; the file keeps
    its mode (or gets `mode`; new files otherwise get the umask's)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        if mode is None and path.exists():
            mode = path.stat().st_mode & 0o777
        os.chmod(tmp, 0o666 & ~_UMASK if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the block. flock belongs to
    the open file, not the process, so two threads of one process exclude each other too;
    the lock goes with the file descriptor if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB"


@overload
def read_capped_text(path: Path, limit: int, what: str, *, missing_ok: Literal[False] = ...) -> str: ...
@overload
def read_capped_text(path: Path, limit: int, what: str, *, missing_ok: Literal[True]) -> str | None: ...


def read_capped_text(path: Path, limit: int, what: str, *, missing_ok: bool = False) -> str | None:
    """The UTF-8 text of a file a user or an agent controls, never reading past `limit` bytes.
    A problem is a one-line UserError naming the file (and the line of a byte that is not
    UTF-8); `what` names what the file should be ("config file"). With missing_ok, a file that
    is not there is None."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (FileNotFoundError, NotADirectoryError):
        if missing_ok:
            return None
        raise UserError(f"{path}: {what} not found") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if len(data) > limit:
        raise UserError(f"{path}: larger than {_size(limit)} (the limit for the {what})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 ({e.reason})") from None
