from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from support.repo import FIXTURES, BdStub, git, init_git_repo, write_queue


@pytest.fixture
def tmp_git_repo(tmp_path: Path) -> Path:
    """A real git repository with one commit on `main`."""
    repo = init_git_repo(tmp_path / "repo")
    (repo / "README.md").write_text("test repo\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.fixture
def make_queue(tmp_path: Path) -> Callable[..., Path]:
    """make_queue([task_record(...), ...], repo=None) -> path of .beads/issues.jsonl"""
    def make(records: Iterable[Mapping[str, Any]], repo: Path | None = None) -> Path:
        return write_queue(repo or tmp_path, records)
    return make


@pytest.fixture
def bd_stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BdStub:
    import shutil
    import sys

    stub = BdStub(tmp_path / "bd-stub")
    stub.bin.mkdir(parents=True)
    shutil.copytree(FIXTURES / "bd", stub.answers)
    source = (Path(__file__).parent / "bd_stub" / "bd").read_text()
    exe = stub.bin / "bd"
    exe.write_text(f"#!{sys.executable}\n" + source.split("\n", 1)[1])
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("BD_STUB_LOG", str(stub.log))
    monkeypatch.setenv("BD_STUB_DIR", str(stub.answers))
    monkeypatch.delenv("BD_JSON_ENVELOPE", raising=False)
    return stub
