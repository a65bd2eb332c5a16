"""Task worktrees, landing (rebase + fast-forward, push with retries), bundles, crash cleanup and
the tamper check, on real repositories in temp dirs (a bare repo stands in for the remote)."""
from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from orchestrator import gitops
from orchestrator.errors import UserError
from support.repo import git


def commit_file(path: Path, name: str, text: str, message: str | None = None) -> str:
    f = path / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    git(path, "add", name)
    git(path, "commit", "-q", "-m", message or f"write {name}")
    return git(path, "rev-parse", "HEAD").strip()


def tree(repo: Path, rev: str = "HEAD") -> str:
    return git(repo, "rev-parse", f"{rev}^{{tree}}").strip()


def snapshot(repo: Path) -> dict[str, str]:
    """Every ref and the working tree state: 'the repo as it was'."""
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)").strip()
    return {"refs": refs, "status": git(repo, "status", "--porcelain"),
            "head": git(repo, "rev-parse", "HEAD").strip()}


def test_worktree_per_task_from_recorded_base(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    base = git(repo, "rev-parse", "HEAD").strip()
    commit_file(repo, "later.txt", "later\n")
    wt = gitops.create_task_worktree(repo, "shop-m2d.1", base=base)
    assert wt.branch == "orchestrator/shop-m2d.1" and wt.base == base and wt.task_id == "shop-m2d.1"
    assert wt.path.is_dir() and not (wt.path / "later.txt").exists()
    assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == wt.branch
    assert git(repo, "status", "--porcelain") == ""  # invisible to the main tree
    # asking again gives the same worktree; after removal with keep_branch, a retry continues
    assert gitops.create_task_worktree(repo, "shop-m2d.1") == wt
    commit_file(wt.path, "work.txt", "work\n")
    gitops.remove_task_worktree(repo, wt, keep_branch=True)
    assert not wt.path.exists()
    # ... rebased onto the current tip (later.txt), which becomes its base
    again = gitops.create_task_worktree(repo, "shop-m2d.1")
    assert again.base == git(repo, "rev-parse", "HEAD").strip() and (again.path / "later.txt").exists()
    assert (again.path / "work.txt").read_text() == "work\n"
    assert again.update.startswith("rebased 1 commit(s) of orchestrator/shop-m2d.1")
    gitops.remove_task_worktree(repo, again)
    assert git(repo, "branch", "--list", "orchestrator/*") == ""


def test_custom_root_and_bad_input(tmp_git_repo: Path, tmp_path: Path) -> None:
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1", root=tmp_path / "wts")
    assert wt.path == (tmp_path / "wts" / "t-1")
    with pytest.raises(UserError, match="not usable in a branch name"):
        gitops.create_task_worktree(tmp_git_repo, "bad..id")
    with pytest.raises(UserError, match="no commit"):
        gitops.create_task_worktree(tmp_git_repo, "t-2", base="nonexistent")
    (tmp_path / "wts" / "t-3").mkdir()
    (tmp_path / "wts" / "t-3" / "junk").write_text("x")
    with pytest.raises(UserError, match="exists and is not a worktree"):
        gitops.create_task_worktree(tmp_git_repo, "t-3", root=tmp_path / "wts")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(UserError, match="no commits yet"):
        gitops.create_task_worktree(empty, "t-1")
    with pytest.raises(UserError, match="not a git repository"):
        gitops.create_task_worktree(tmp_path / "wts", "t-1")


def test_commit_all(tmp_git_repo: Path) -> None:
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1")
    assert gitops.commit_all(wt.path, "nothing") is None
    (wt.path / "new.txt").write_text("new\n")
    (wt.path / "README.md").unlink()
    sha = gitops.commit_all(wt.path, "agent leftovers")
    assert sha == git(wt.path, "rev-parse", "HEAD").strip()
    assert git(wt.path, "show", "--name-status", "--format=%s", sha).split() == \
        ["agent", "leftovers", "D", "README.md", "A", "new.txt"]


def test_commit_all_without_identity(tmp_git_repo: Path, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    git(tmp_git_repo, "config", "--unset", "user.email")
    git(tmp_git_repo, "config", "--unset", "user.name")
    monkeypatch.setenv("HOME", str(tmp_path))  # no global identity either
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1")
    (wt.path / "x").write_text("x")
    assert gitops.commit_all(wt.path, "ci commit")
    assert git(wt.path, "log", "-1", "--format=%an").strip() == "orchestrator"


def test_land_rebases_onto_current_tip_and_fast_forwards(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "a.txt", "a\n")
    commit_file(wt.path, "b.txt", "b\n")
    commit_file(repo, "main.txt", "moved on\n")  # the working branch moved meanwhile
    result = gitops.land_task_branch(repo, wt)
    assert result.ok and len(result.commits) == 2 and result.conflict == ""
    assert git(repo, "rev-parse", "HEAD").strip() == result.commits[-1]
    assert {"a.txt", "b.txt", "main.txt"} <= {p.name for p in repo.iterdir()}  # tree updated
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "4"  # linear, no merge commit
    again = gitops.land_task_branch(repo, wt)  # already landed: nothing to do
    assert again.ok and again.commits == ()


def test_land_onto_branch_not_checked_out(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    git(repo, "branch", "work")
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "a.txt", "a\n")
    result = gitops.land_task_branch(repo, wt, onto="work")
    assert result.ok
    assert git(repo, "rev-parse", "work").strip() == result.commits[-1]
    assert git(repo, "rev-parse", "main").strip() != result.commits[-1]
    with pytest.raises(UserError, match="no branch 'nope'"):
        gitops.land_task_branch(repo, wt, onto="nope")


def test_land_detached_head_needs_onto(tmp_git_repo: Path) -> None:
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1")
    git(tmp_git_repo, "checkout", "-q", "--detach")
    with pytest.raises(UserError, match="HEAD is detached"):
        gitops.land_task_branch(tmp_git_repo, wt)


def test_rebase_conflict_leaves_everything_as_it_was(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "README.md", "agent version\n")
    commit_file(repo, "README.md", "human version\n")
    before, wt_before = snapshot(repo), snapshot(wt.path)
    result = gitops.land_task_branch(repo, wt)
    assert not result.ok and result.commits == ()
    assert "README.md" in result.conflict and "\n" not in result.conflict
    assert snapshot(repo) == before and snapshot(wt.path) == wt_before
    gitdir = Path(git(wt.path, "rev-parse", "--absolute-git-dir").strip())
    assert not (gitdir / "rebase-merge").exists() and not (gitdir / "rebase-apply").exists()
    assert (wt.path / "README.md").read_text() == "agent version\n"


def test_corrupt_queue_in_a_landing_says_why(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    commit_file(repo, ".beads/issues.jsonl", '{"id":"x-1","title":"one","status":"open"}\n')
    wt = gitops.create_task_worktree(repo, "t-1")
    (wt.path / ".beads" / "issues.jsonl").write_text("{bad json\n")
    gitops.commit_all(wt.path, "agent broke the queue", verify=False)
    commit_file(repo, ".beads/issues.jsonl", '{"id":"x-1","title":"uno","status":"open"}\n')
    before, wt_before = snapshot(repo), snapshot(wt.path)
    result = gitops.land_task_branch(repo, wt)
    assert not result.ok and ".beads/issues.jsonl" in result.conflict
    assert "malformed JSON" in result.conflict and "\n" not in result.conflict  # not just "conflict"
    assert snapshot(repo) == before and snapshot(wt.path) == wt_before


@pytest.mark.parametrize("where", ["xdg", "core.attributesFile"])
def test_landing_keeps_the_users_global_attributes(tmp_git_repo: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    repo = tmp_git_repo
    attributes = tmp_path / "home" / ".config" / "git" / "attributes"
    attributes.parent.mkdir(parents=True)
    attributes.write_text("notes.txt merge=union\n")  # both sides' added lines are kept
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    if where == "core.attributesFile":
        moved = attributes.rename(tmp_path / "my-attributes")
        git(repo, "config", "core.attributesFile", str(moved))
    commit_file(repo, "notes.txt", "start\n")
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "notes.txt", "start\nagent\n")
    commit_file(repo, "notes.txt", "start\nhuman\n")
    result = gitops.land_task_branch(repo, wt)
    assert result.ok, result.conflict
    assert set((repo / "notes.txt").read_text().splitlines()) == {"start", "agent", "human"}


def test_dirty_working_tree_refuses_fast_forward_without_loss(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "README.md", "agent\n")
    (repo / "README.md").write_text("uncommitted human edit\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    result = gitops.land_task_branch(repo, wt)
    assert not result.ok and "cannot fast-forward main" in result.conflict
    assert "README.md" in result.conflict and "\n" not in result.conflict  # which files are in the way
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert (repo / "README.md").read_text() == "uncommitted human edit\n"
    assert (wt.path / "README.md").read_text() == "agent\n"


def test_uncommitted_changes_in_task_worktree_are_refused(tmp_git_repo: Path) -> None:
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1")
    commit_file(wt.path, "a.txt", "a\n")
    (wt.path / "a.txt").write_text("changed\n")
    result = gitops.land_task_branch(tmp_git_repo, wt)
    assert not result.ok and "uncommitted changes" in result.conflict
    assert (wt.path / "a.txt").read_text() == "changed\n"


def _parallel_tasks(repo: Path, n: int) -> list[gitops.TaskWorktree]:
    base = git(repo, "rev-parse", "HEAD").strip()
    wts = []
    for i in range(n):
        wt = gitops.create_task_worktree(repo, f"t-{i}", base=base)
        commit_file(wt.path, f"src/mod{i}.py", f"x = {i}\n")
        commit_file(wt.path, f"docs/d{i}.md", f"doc {i}\n")
        wts.append(wt)
    return wts


def test_parallel_branches_land_in_any_order_to_the_same_tree(tmp_path: Path) -> None:
    trees = set()
    for k, order in enumerate([(0, 1, 2), (2, 1, 0), (1, 2, 0)]):
        repo = tmp_path / f"r{k}"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for key, value in (("user.email", "t@example.invalid"), ("user.name", "T")):
            git(repo, "config", key, value)
        commit_file(repo, "README.md", "same start\n")
        wts = _parallel_tasks(repo, 3)
        for i in order:
            assert gitops.land_task_branch(repo, wts[i]).ok
        trees.add(tree(repo))
        assert git(repo, "rev-list", "--count", "HEAD").strip() == "7"
    assert len(trees) == 1


def test_concurrent_landers_are_serialized(tmp_git_repo: Path) -> None:
    wts = _parallel_tasks(tmp_git_repo, 4)
    results: list[gitops.LandResult] = []
    threads = [threading.Thread(target=lambda w=w: results.append(gitops.land_task_branch(tmp_git_repo, w)))
               for w in wts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results) and len(results) == 4
    landed = git(tmp_git_repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert sorted(x for x in landed if x.startswith("src/")) == [f"src/mod{i}.py" for i in range(4)]


@pytest.fixture
def remote_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare 'origin' and two clones of it (ours, another runner's)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    clones = []
    for name in ("ours", "theirs"):
        c = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(origin), str(c)], check=True, capture_output=True)
        git(c, "config", "user.email", f"{name}@example.invalid")
        git(c, "config", "user.name", name)
        git(c, "checkout", "-q", "-B", "main")
        clones.append(c)
    commit_file(clones[0], "README.md", "start\n")
    git(clones[0], "push", "-q", "-u", "origin", "main")
    git(clones[1], "pull", "-q", "origin", "main")
    git(clones[1], "branch", "-q", "-u", "origin/main")
    return origin, clones[0], clones[1]


def test_push_fetches_rebases_and_pushes(remote_pair: tuple[Path, Path, Path]) -> None:
    origin, ours, theirs = remote_pair
    wt = gitops.create_task_worktree(ours, "t-1")
    commit_file(wt.path, "ours.txt", "ours\n")
    commit_file(theirs, "theirs.txt", "theirs\n")  # another runner landed first
    git(theirs, "push", "-q", "origin", "main")
    result = gitops.land_task_branch(ours, wt, push=True)
    assert result.ok and len(result.commits) == 2  # their commit and ours, both now on main
    assert git(origin, "rev-parse", "main").strip() == git(ours, "rev-parse", "main").strip()
    assert git(origin, "ls-tree", "--name-only", "main").split() == ["README.md", "ours.txt", "theirs.txt"]


def test_rejected_push_is_retried(remote_pair: tuple[Path, Path, Path], tmp_path: Path) -> None:
    origin, ours, theirs = remote_pair
    # a server-side hook that lets another runner slip in a commit before our first push lands
    hook = origin / "hooks" / "pre-receive"
    flag = tmp_path / "raced"
    hook.write_text(f"""#!/bin/sh
if [ ! -e {flag} ]; then
  touch {flag}
  echo "simulated race: someone else pushed" >&2
  exit 1
fi
exit 0
""")
    hook.chmod(0o755)
    wt = gitops.create_task_worktree(ours, "t-1")
    commit_file(wt.path, "ours.txt", "ours\n")
    result = gitops.land_task_branch(ours, wt, push=True, retries=2)
    assert result.ok, result.conflict
    assert git(origin, "rev-parse", "main").strip() == result.commits[-1]
    hook.write_text("#!/bin/sh\necho never >&2\nexit 1\n")
    wt2 = gitops.create_task_worktree(ours, "t-2")
    commit_file(wt2.path, "two.txt", "2\n")
    head = git(ours, "rev-parse", "main").strip()
    failed = gitops.land_task_branch(ours, wt2, push=True, retries=1)
    assert not failed.ok and "gave up after 2 attempts" in failed.conflict
    assert git(ours, "rev-parse", "main").strip() == head  # local branch only moves after a push
    assert (wt2.path / "two.txt").exists()


def test_push_conflict_with_remote_is_clean(remote_pair: tuple[Path, Path, Path]) -> None:
    origin, ours, theirs = remote_pair
    wt = gitops.create_task_worktree(ours, "t-1")
    commit_file(wt.path, "README.md", "ours\n")
    commit_file(theirs, "README.md", "theirs\n")
    git(theirs, "push", "-q", "origin", "main")
    before = git(origin, "rev-parse", "main").strip()
    result = gitops.land_task_branch(ours, wt, push=True)
    assert not result.ok and "README.md" in result.conflict
    assert git(origin, "rev-parse", "main").strip() == before
    assert (wt.path / "README.md").read_text() == "ours\n"


def test_bundle_and_patches_carry_a_tasks_commits(tmp_git_repo: Path, tmp_path: Path) -> None:
    runner = tmp_path / "runner"
    subprocess.run(["git", "clone", "-q", str(tmp_git_repo), str(runner)], check=True)
    git(runner, "config", "user.email", "r@example.invalid")
    git(runner, "config", "user.name", "runner")
    wt = gitops.create_task_worktree(runner, "t-1")
    assert gitops.write_task_bundle(runner, wt, tmp_path / "none.bundle") is None
    commit_file(wt.path, "a.txt", "a\n")
    commit_file(wt.path, "b.txt", "b\n")
    bundle = gitops.write_task_bundle(runner, wt, tmp_path / "out" / "t-1.bundle")
    patches = gitops.write_task_patches(runner, wt, tmp_path / "task patches")
    assert bundle is not None and bundle.is_file() and len(patches) == 2
    assert all(p.is_file() for p in patches)  # real paths, also under a directory with a space
    # the single writer: fetch the bundle and land it (no worktree there)
    commit_file(tmp_git_repo, "main.txt", "main moved\n")
    fetched = gitops.fetch_task_bundle(tmp_git_repo, bundle, "t-1")
    result = gitops.land_task_branch(tmp_git_repo, fetched)
    assert result.ok and len(result.commits) == 2
    assert (tmp_git_repo / "a.txt").exists() and (tmp_git_repo / "b.txt").exists()
    assert git(tmp_git_repo, "worktree", "list").count("\n") == 1  # the temporary one is gone
    (tmp_path / "junk.bundle").write_text("not a bundle")
    with pytest.raises(UserError, match="not a usable bundle"):
        gitops.fetch_task_bundle(tmp_git_repo, tmp_path / "junk.bundle", "t-2")


def test_prune_after_crash_keeps_work(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    wt = gitops.create_task_worktree(repo, "t-1")
    commit_file(wt.path, "done.txt", "committed\n")
    (wt.path / "wip.txt").write_text("not committed yet\n")
    gone = gitops.create_task_worktree(repo, "t-2")
    import shutil
    shutil.rmtree(gone.path)  # the runner's temp dir vanished
    removed = gitops.prune_task_worktrees(repo)
    assert removed == [str(wt.path)]
    assert not wt.path.exists()
    assert "wip.txt" in git(repo, "ls-tree", "--name-only", "orchestrator/t-1").split()
    assert git(repo, "worktree", "list").count("\n") == 1
    assert gitops.prune_task_worktrees(repo) == []
    again = gitops.create_task_worktree(repo, "t-1")  # the retry continues from the branch
    assert (again.path / "wip.txt").read_text() == "not committed yet\n"


def test_prune_spares_the_worktrees_it_is_told_to_keep(tmp_git_repo: Path) -> None:
    left = gitops.create_task_worktree(tmp_git_repo, "t-1")
    running = gitops.create_task_worktree(tmp_git_repo, "t-2")
    asked: list[str] = []
    removed = gitops.prune_task_worktrees(tmp_git_repo,
                                          keep=lambda tid: asked.append(tid) or tid == "t-2")
    assert removed == [str(left.path)] and sorted(asked) == ["t-1", "t-2"]
    assert running.path.is_dir() and not left.path.exists()


def test_prune_aborts_a_rebase_a_crash_left_half_applied(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    wt = gitops.create_task_worktree(repo, "t-1")
    first = commit_file(wt.path, "a.txt", "agent a\n")
    tip = commit_file(wt.path, "README.md", "agent version\n")
    commit_file(repo, "README.md", "human version\n")
    # what a lander killed mid-rebase leaves behind: the task worktree detached, mid-rebase
    stopped = subprocess.run(["git", "rebase", "-q", "main"], cwd=wt.path, capture_output=True)
    assert stopped.returncode != 0 and git(wt.path, "branch", "--show-current").strip() == ""
    assert gitops.prune_task_worktrees(repo) == [str(wt.path)]
    assert git(repo, "rev-parse", "orchestrator/t-1").strip() == tip  # nothing lost or rewritten
    assert git(repo, "rev-parse", "orchestrator/t-1~1").strip() == first
    assert git(repo, "worktree", "list").count("\n") == 1
    again = gitops.create_task_worktree(repo, "t-1")
    assert (again.path / "README.md").read_text() == "agent version\n"
    assert gitops.land_task_branch(repo, again).conflict.startswith("conflict rebasing")


def test_tampered_paths(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    commit_file(repo, ".github/workflows/ci.yml", "on: push\n")
    hooks = Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "hooks"
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    wt = gitops.create_task_worktree(repo, "t-1")
    assert gitops.tampered_paths(wt.path, wt.base) == []
    commit_file(wt.path, "src/ok.py", "fine\n")
    assert gitops.tampered_paths(wt.path, wt.base) == []
    commit_file(wt.path, ".github/workflows/ci.yml", "on: [push, pull_request]\n")
    (wt.path / ".orchestrator.yml").write_text("agent: {profile: command}\n")  # untracked
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0 # agent was here\n")
    (hooks / "pre-push").write_text("#!/bin/sh\nexit 0\n")
    found = gitops.tampered_paths(wt.path, wt.base)
    assert found == [".github/workflows/ci.yml", ".orchestrator.yml", ".git/hooks/pre-commit",
                     ".git/hooks/pre-push"]
    git(wt.path, "config", "core.hooksPath", "/tmp/elsewhere")
    assert "core.hooksPath" in gitops.tampered_paths(wt.path, wt.base)
    assert gitops.tampered_paths(wt.path, wt.base, extra=("src/",))[0] == ".github/workflows/ci.yml"
    assert "src/ok.py" in gitops.tampered_paths(wt.path, wt.base, extra=("src/",))


def test_parallel_creation_and_configured_root(tmp_git_repo: Path, tmp_path: Path) -> None:
    made: list[gitops.TaskWorktree] = []
    threads = [threading.Thread(target=lambda i=i: made.append(gitops.create_task_worktree(tmp_git_repo, f"p-{i}")))
               for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(w.task_id for w in made) == [f"p-{i}" for i in range(6)]
    assert all(w.path.is_dir() for w in made)
    assert gitops.configured_root(tmp_git_repo, None) is None
    assert gitops.configured_root(tmp_git_repo, "../wts") == tmp_git_repo.resolve() / "../wts"
    assert gitops.configured_root(tmp_git_repo, str(tmp_path)) == tmp_path


def test_parallel_agents_closing_their_tasks_in_the_queue_land_in_any_order(tmp_path: Path) -> None:
    """Every agent edits .beads/issues.jsonl; neighbouring lines must not conflict on landing
    (the merge driver applies during the rebase even without `hooks install`)."""
    import json

    from support.repo import task_record

    ids = ["x-1", "x-2", "x-3"]
    queues = set()
    for k, order in enumerate([(0, 1, 2), (2, 0, 1)]):
        repo = tmp_path / f"q{k}"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for key, value in (("user.email", "t@example.invalid"), ("user.name", "T")):
            git(repo, "config", key, value)
        queue = "".join(json.dumps(task_record(t)) + "\n" for t in ids)
        commit_file(repo, ".beads/issues.jsonl", queue)
        wts = []
        for i, tid in enumerate(ids):
            wt = gitops.create_task_worktree(repo, tid)
            recs = [task_record(t, status="closed", updated_at=f"2026-05-29T1{i}:00:00Z",
                                closed_at=f"2026-05-29T1{i}:00:00Z") if t == tid else task_record(t)
                    for t in ids]
            commit_file(wt.path, ".beads/issues.jsonl", "".join(json.dumps(r) + "\n" for r in recs))
            commit_file(wt.path, f"src/{tid}.py", "done\n")
            wts.append(wt)
        for i in order:
            result = gitops.land_task_branch(repo, wts[i])
            assert result.ok, result.conflict
        final = [json.loads(x) for x in (repo / ".beads/issues.jsonl").read_text().splitlines()]
        assert [r["status"] for r in final] == ["closed"] * 3
        queues.add(tree(repo))
    assert len(queues) == 1


def test_git_in_a_vanished_worktree_fails_instead_of_running_in_the_current_directory(
        tmp_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_git_repo)
    (tmp_git_repo / "mine.txt").write_text("the user's uncommitted work\n")
    head = git(tmp_git_repo, "rev-parse", "HEAD")
    with pytest.raises(UserError, match="no such directory"):
        gitops.commit_all(tmp_path / "gone-worktree", "t-1: work left uncommitted")
    assert git(tmp_git_repo, "rev-parse", "HEAD") == head
    assert "mine.txt" in git(tmp_git_repo, "status", "--porcelain")


def test_repository_lookups_from_a_worktree_and_outside_git(tmp_git_repo: Path, tmp_path: Path) -> None:
    """The common-dir and toplevel lookups the leases, the landing lock and the hook commands
    share: a task worktree shares its repository's git directory but has its own top."""
    wt = gitops.create_task_worktree(tmp_git_repo, "t-1")
    common = (tmp_git_repo / ".git").resolve()
    assert gitops.git_common_dir(tmp_git_repo) == common == gitops.git_common_dir(wt.path)
    assert gitops.toplevel(wt.path / ".") == wt.path.resolve()
    outside = tmp_path / "plain"
    outside.mkdir()
    assert gitops.git_common_dir(outside) is None and not gitops.is_git_repo(outside)
    assert gitops.git_common_dir(tmp_path / "missing") is None
    with pytest.raises(UserError, match="not inside a git working tree \\(hooks need it\\)"):
        gitops.toplevel(outside, why="hooks need it")
