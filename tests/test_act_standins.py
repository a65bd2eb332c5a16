"""The act harness and the stand-ins for GitHub's actions (tests/actions/) behave as the
workflows need: checkout of a commit from `origin`, artifacts with and without hidden files,
the dependency cache, and a push from a job landing in the test's bare repository."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.act import ActSandbox, act_skip_reason
from support.repo import FIXTURES, git, init_git_repo

pytestmark = pytest.mark.skipif(act_skip_reason() is not None, reason=act_skip_reason() or "")


def test_standins_checkout_artifacts_cache_and_push(tmp_path: Path) -> None:
    box = ActSandbox(tmp_path / "box")
    work = init_git_repo(tmp_path / "work")
    (work / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(FIXTURES / "act" / "standins.yml", work / ".github" / "workflows" / "s.yml")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "first")
    (work / "second.txt").write_text("2\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "second")
    box.publish(work)

    run = box.act(box.clone(tmp_path / "run1"), workflow=".github/workflows/s.yml")

    assert run.returncode == 0, run.output[-4000:]
    assert "standins-ok" in run.output
    pushed = git(box.remote, "log", "--format=%s", "from-act")
    assert pushed.splitlines() == ["from act", "first"]
