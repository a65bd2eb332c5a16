"""write_atomic: the one way files are replaced (queue, logs, status, hooks); read_capped_text:
the one way a config, template or outcome file a user or an agent controls is read."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from orchestrator.errors import UserError
from orchestrator.fileio import read_capped_text, write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_umask_mode_and_existing_files_keep_theirs(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    new = tmp_path / "new.txt"
    write_atomic(new, "a\n")
    assert new.read_text() == "a\n" and mode(new) == 0o666 & ~umask
    hook = tmp_path / "hook"
    hook.write_text("old")
    hook.chmod(0o750)
    write_atomic(hook, b"#!/bin/sh\n")
    assert hook.read_bytes() == b"#!/bin/sh\n" and mode(hook) == 0o750
    write_atomic(hook, "x", mode=0o700)
    assert mode(hook) == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hook", "new.txt"]  # no temp files left


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "queue.jsonl"
    path.write_text("old\n")
    with pytest.raises(TypeError):
        write_atomic(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]


def test_threads_writing_never_change_the_process_umask(tmp_path: Path) -> None:
    before = os.umask(0o022)
    os.umask(before)
    threads = [threading.Thread(target=write_atomic, args=(tmp_path / f"f{i}", "x")) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = os.umask(before)
    assert after == before
    assert {mode(p) for p in tmp_path.iterdir()} == {0o666 & ~before}


def test_locked_excludes_other_processes_and_threads(tmp_path: Path) -> None:
    """One lock helper serves the queue file, the landing lock and the leases: while one holder
    has it, another process (and another thread of this one) waits."""
    import subprocess
    import sys

    from orchestrator.fileio import locked

    lock = tmp_path / "sub" / "x.lock"
    probe = ("import fcntl, sys; f = open(sys.argv[1], 'a')\n"
             "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError:\n    print('held')\n")
    seen: list[str] = []
    with locked(lock):
        out = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True,
                             text=True, check=True).stdout.strip()
        def take() -> None:
            with locked(lock):
                seen.append("in")

        worker = threading.Thread(target=take)
        worker.start()
        worker.join(timeout=0.5)
        assert seen == []   # the thread waits while the lock is held
        seen.append("released")
    worker.join()
    assert out == "held" and seen == ["released", "in"]


def test_read_capped_text_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    assert read_capped_text(path, 16, "config file", missing_ok=True) is None
    with pytest.raises(UserError, match=r"^.*/c\.yml: config file not found$"):
        read_capped_text(path, 16, "config file")
    path.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(UserError, match=r"/c\.yml:2: not UTF-8 \(invalid start byte\)$"):
        read_capped_text(path, 16, "config file")
    path.write_bytes(b"x" * 2049)
    with pytest.raises(UserError, match=r"/c\.yml: larger than 2 KB \(the limit for the config file\)$"):
        read_capped_text(path, 2048, "config file")
    path.write_bytes(b"x" * 2048)
    assert read_capped_text(path, 2048, "config file") == "x" * 2048
    with pytest.raises(UserError, match=r"/c\.yml/x: config file not found$"):
        read_capped_text(path / "x", 16, "config file")  # a file where a folder should be
    with pytest.raises(UserError, match=r": cannot read the config file \(Is a directory\)$"):
        read_capped_text(tmp_path, 16, "config file")
