"""The shipped hook shims, `orchestrator hooks install|uninstall|status`, and every hook run by
real git commands (commit, push, merge, checkout) in temp repositories."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import githooks
from orchestrator.commands.run_hook import find_tokens
from orchestrator.githooks import HOOK_NAMES
from support.repo import git, init_git_repo, task_record

TEMPLATE = Path(__file__).parent.parent / "hooks" / "hook-tmpl"
FAKE_TOKEN = "ghp_" + "x" * 36  # built at run time: nothing token-like is committed here


@pytest.fixture(autouse=True)
def _no_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ORCHESTRATOR_TASK_ID", "ORCHESTRATOR_ATTEMPT", "ORCHESTRATOR_LOG_DIR"):
        monkeypatch.delenv(var, raising=False)


def orch(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(repo), *args],
                          capture_output=True, text=True)


def run_git(repo: Path, *args: str, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, input=input,
                          env={**os.environ, **(env or {})})


def jsonl(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)


def hooks_of(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def snapshot(repo: Path) -> dict[str, Any]:
    """Hooks (content and mode), .gitattributes and the git config file."""
    hdir = hooks_of(repo)
    files = {p.name: (p.read_bytes() if p.is_file() else None, p.stat().st_mode)
             for p in sorted(hdir.iterdir())} if hdir.exists() else {}
    attrs = (repo / ".gitattributes").read_bytes() if (repo / ".gitattributes").exists() else None
    return {"hooks": files, "attributes": attrs, "config": (repo / ".git" / "config").read_bytes()}


@pytest.fixture
def hooked(tmp_git_repo: Path) -> Path:
    done = orch(tmp_git_repo, "hooks", "install")
    assert done.returncode == 0, done.stderr
    return tmp_git_repo


def commit(repo: Path, name: str, text: str, *, env: dict[str, str] | None = None,
           message: str = "change") -> subprocess.CompletedProcess[str]:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "-f", name)
    return run_git(repo, "commit", "-q", "-m", message, env=env)


# -- the shims ------------------------------------------------------------------------------------

def test_one_template_makes_every_shim_differing_only_in_the_name() -> None:
    template = githooks.template()
    assert template == (TEMPLATE).read_text()  # the shipped file is the one in hooks/
    texts = {}
    for name in HOOK_NAMES:
        text = githooks.shim(name)
        assert text.startswith("#!/bin/sh\n") and f"ORCHESTRATOR_HOOK={name}\n" in text
        assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0
        assert 'hook "$ORCHESTRATOR_HOOK" "$@"' in text
        texts[name] = text.replace(f"ORCHESTRATOR_HOOK={name}\n", "ORCHESTRATOR_HOOK=''\n")
    assert set(texts.values()) == {template.replace("INSTALL_PYTHON=''", f"INSTALL_PYTHON={sys.executable}")}


# -- install / uninstall / status -----------------------------------------------------------------

def test_install_is_idempotent_and_uninstall_restores_exactly(tmp_git_repo: Path) -> None:
    repo = tmp_git_repo
    (repo / ".gitattributes").write_text("*.png binary")  # no trailing newline: restored as is
    hooks_of(repo).mkdir(exist_ok=True)
    mine = hooks_of(repo) / "pre-commit"
    mine.write_text("#!/bin/sh\necho mine\n")
    mine.chmod(0o750)
    before = snapshot(repo)
    assert orch(repo, "hooks", "status").returncode == 1
    first = orch(repo, "hooks", "install")
    assert first.returncode == 0 and "pre-commit: installed; an existing hook kept as" in first.stdout
    once = snapshot(repo)
    second = orch(repo, "hooks", "install")
    assert second.returncode == 0 and snapshot(repo) == once
    status = orch(repo, "hooks", "status")
    assert status.returncode == 0, status.stdout
    assert "pre-commit: installed, chains an existing hook (pre-commit.orchestrator-prev)" in status.stdout
    assert "merge driver: registered in git config, listed in .gitattributes" in status.stdout
    assert (repo / ".gitattributes").read_text() == "*.png binary\n.beads/issues.jsonl merge=orchestrator-jsonl\n"
    assert orch(repo, "hooks", "uninstall").returncode == 0
    assert snapshot(repo) == before
    assert not (repo / ".git" / "orchestrator").exists()  # no install state left behind either
    assert orch(repo, "hooks", "uninstall").returncode == 0  # twice is fine too
    assert snapshot(repo) == before


@pytest.mark.parametrize("obstacle", ["prev", "directory"])
def test_install_refused_midway_changes_nothing(tmp_git_repo: Path, obstacle: str) -> None:
    hdir = hooks_of(tmp_git_repo)
    hdir.mkdir(exist_ok=True)
    if obstacle == "prev":  # the last hook cannot be chained: both names are taken
        for name in ("post-checkout", "post-checkout.orchestrator-prev"):
            (hdir / name).write_text("#!/bin/sh\n")
    else:
        (hdir / "post-checkout").mkdir()
    before = snapshot(tmp_git_repo)
    done = orch(tmp_git_repo, "hooks", "install")
    assert done.returncode == 2 and "post-checkout" in done.stderr
    assert snapshot(tmp_git_repo) == before  # not four hooks of five and no driver


def test_status_notices_a_stale_merge_driver(hooked: Path) -> None:
    # the Python that installed it is gone (a removed venv): git would fail every queue merge
    git(hooked, "config", "merge.orchestrator-jsonl.driver", "/gone/python -m orchestrator.cli merge-driver %O %A %B %P")
    status = orch(hooked, "hooks", "status")
    assert status.returncode == 1 and "merge driver: registered (outdated: run hooks install)" in status.stdout
    assert orch(hooked, "hooks", "install").returncode == 0
    assert orch(hooked, "hooks", "status").returncode == 0


def test_uninstall_leaves_a_driver_line_it_did_not_add(tmp_git_repo: Path) -> None:
    # a clone of a repository where someone committed the line, as install advises
    attrs = tmp_git_repo / ".gitattributes"
    attrs.write_text("*.png binary\n.beads/issues.jsonl merge=orchestrator-jsonl\n")
    git(tmp_git_repo, "add", ".gitattributes")
    git(tmp_git_repo, "commit", "-q", "-m", "use the driver")
    before = snapshot(tmp_git_repo)
    assert orch(tmp_git_repo, "hooks", "install").returncode == 0
    assert orch(tmp_git_repo, "hooks", "uninstall").returncode == 0
    assert snapshot(tmp_git_repo) == before and git(tmp_git_repo, "status", "--porcelain") == ""


def test_uninstall_keeps_later_gitattributes_edits(hooked: Path) -> None:
    attrs = hooked / ".gitattributes"
    attrs.write_text(attrs.read_text() + "*.jpg binary\n")
    orch(hooked, "hooks", "uninstall")
    assert attrs.read_text() == "*.jpg binary\n"


def test_core_hooks_path_is_used(tmp_git_repo: Path) -> None:
    git(tmp_git_repo, "config", "core.hooksPath", ".githooks")
    assert orch(tmp_git_repo, "hooks", "install").returncode == 0
    assert (tmp_git_repo / ".githooks" / "pre-commit").is_file()
    assert not (hooks_of(tmp_git_repo) / "pre-commit").exists()
    assert commit(tmp_git_repo, ".beads/issues.jsonl", "{bad\n").returncode == 1


def test_hook_path_that_is_a_file(tmp_git_repo: Path) -> None:
    (tmp_git_repo / "hooksfile").write_text("x")
    git(tmp_git_repo, "config", "core.hooksPath", "hooksfile")
    done = orch(tmp_git_repo, "hooks", "install")
    assert done.returncode == 2
    assert "core.hooksPath (hooksfile) is a file, not a directory" in done.stderr
    assert done.stderr.count("\n") == 1


def test_not_a_repository(tmp_path: Path) -> None:
    done = orch(tmp_path, "hooks", "install")
    assert done.returncode == 2 and "not inside a git working tree" in done.stderr


def test_repo_without_commits(tmp_path: Path) -> None:
    repo = init_git_repo(tmp_path / "fresh")
    done = orch(repo, "hooks", "install")
    assert done.returncode == 0 and "no commits yet" in done.stdout
    assert commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1"), task_record("x-1"))).returncode == 1
    assert commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1"))).returncode == 0


# -- pre-commit ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("records", "message"), [
    ([task_record("x-1"), task_record("x-1")], ".beads/issues.jsonl:2: duplicate task ID x-1 (first on line 1)"),
    ([task_record("x-1", blocks_on=["x-9"])], ".beads/issues.jsonl:1: task x-1 depends on missing task x-9"),
    ([task_record("x-1", blocks_on=["x-2"]), task_record("x-2", blocks_on=["x-1"])],
     ".beads/issues.jsonl:1: dependency cycle through blocking edges"),
])
def test_pre_commit_refuses_an_invalid_queue(hooked: Path, records: list[dict[str, Any]], message: str) -> None:
    done = commit(hooked, ".beads/issues.jsonl", jsonl(*records))
    assert done.returncode == 1
    assert f"orchestrator pre-commit: {message}" in done.stderr
    assert git(hooked, "log", "--format=%s").splitlines() == ["initial"]


def test_pre_commit_checks_the_staged_version(hooked: Path) -> None:
    queue = hooked / ".beads" / "issues.jsonl"
    queue.parent.mkdir()
    queue.write_text(jsonl(task_record("x-1")))
    git(hooked, "add", ".beads/issues.jsonl")
    queue.write_text("{broken in the work tree only\n")
    assert run_git(hooked, "commit", "-q", "-m", "ok").returncode == 0


def test_pre_commit_refuses_tokens_and_run_logs(hooked: Path) -> None:
    done = commit(hooked, "src/settings.py", f"A = 1\nTOKEN = '{FAKE_TOKEN}'\n")
    assert done.returncode == 1
    assert "src/settings.py:2: looks like a GitHub token" in done.stderr
    assert FAKE_TOKEN not in done.stderr
    git(hooked, "reset", "-q", "--hard")
    done = commit(hooked, "logs/run/20260529T100000Z_x-1/output.log", "agent output\n")
    assert done.returncode == 1
    assert "logs/run/20260529T100000Z_x-1/output.log: run logs are uploaded as artifacts" in done.stderr
    git(hooked, "reset", "-q", "--hard")
    # a whole logs/ directory staged is one line, not one per file
    for i in range(40):
        run = hooked / "logs" / "run" / f"20260529T1000{i:02d}Z_x-1"
        run.mkdir(parents=True)
        for name in ("output.log", "verbose.jsonl", "monitor.log"):
            (run / name).write_text("x\n")
    git(hooked, "add", "-f", "logs")
    done = run_git(hooked, "commit", "-q", "-m", "logs")
    assert done.returncode == 1 and "(and 119 more run log file(s))" in done.stderr
    assert len(done.stderr.splitlines()) == 2  # the problem and "commit refused"
    git(hooked, "reset", "-q", "--hard")
    assert commit(hooked, "src/ok.py", "x = 1\n").returncode == 0


@pytest.mark.parametrize("line", [
    "sk-ant-" + "a1" * 20, "AKIA" + "ABCDEFGHIJKLMNOP", "-----BEGIN OPENSSH " + "PRIVATE KEY-----",
    "xoxb-" + "1234567890-abc", "github_pat_" + "A1" * 30,
])
def test_find_tokens_kinds(line: str) -> None:
    diff = f"+++ b/f.txt\n@@ -0,0 +7,1 @@\n+{line}\n".encode()
    (hit,) = find_tokens(diff)
    assert hit.startswith("f.txt:7: looks like a")
    assert find_tokens(b"+++ b/f.txt\n@@ -0,0 +1 @@\n+sk-short ghp_short AKIAlower\n") == []


# -- commit-msg ------------------------------------------------------------------------------------

def test_commit_msg_adds_task_trailer_once(hooked: Path) -> None:
    env = {"ORCHESTRATOR_TASK_ID": "shop-m2d.1", "ORCHESTRATOR_ATTEMPT": "2"}
    assert commit(hooked, "a.txt", "a\n", env=env, message="Add totals").returncode == 0
    msg = git(hooked, "log", "-1", "--format=%B")
    assert msg.strip().splitlines() == ["Add totals", "", "Task: shop-m2d.1", "Attempt: 2"]
    env["ORCHESTRATOR_ATTEMPT"] = "3"
    assert run_git(hooked, "commit", "-q", "--amend", "--no-edit", env=env).returncode == 0
    msg = git(hooked, "log", "-1", "--format=%B")
    assert msg.count("Task: shop-m2d.1") == 1 and msg.count("Attempt:") == 1 and "Attempt: 3" in msg
    assert commit(hooked, "b.txt", "b\n", message="human work").returncode == 0
    assert "Task:" not in git(hooked, "log", "-1", "--format=%B")


def test_commit_msg_does_not_rescue_an_empty_message(hooked: Path) -> None:
    (hooked / "c.txt").write_text("c")
    git(hooked, "add", "c.txt")
    done = run_git(hooked, "commit", "-q", "-m", "", env={"ORCHESTRATOR_TASK_ID": "x-1"})
    assert done.returncode != 0


# -- pre-push --------------------------------------------------------------------------------------

@pytest.fixture
def pushable(hooked: Path, tmp_path: Path) -> Path:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(hooked, "remote", "add", "origin", str(origin))
    git(hooked, "push", "-q", "origin", "main")
    return hooked


def test_pre_push_refuses_agent_push_to_protected_branch(pushable: Path) -> None:
    agent = {"ORCHESTRATOR_TASK_ID": "x-1"}
    commit(pushable, "a.txt", "a\n")
    done = run_git(pushable, "push", "origin", "main", env=agent)
    assert done.returncode != 0
    assert "task x-1: an agent may not push to protected branch main of origin" in done.stderr
    assert run_git(pushable, "push", "origin", "main:orchestrator/x-1", env=agent).returncode == 0
    assert run_git(pushable, "push", "origin", "--delete", "orchestrator/x-1", env=agent).returncode == 0
    assert run_git(pushable, "push", "origin", "main").returncode == 0  # a human may


def test_pre_push_protected_branches_are_configurable(pushable: Path) -> None:
    (pushable / ".orchestrator.yml").write_text("git:\n  protected_branches: ['release/*']\n")
    agent = {"ORCHESTRATOR_TASK_ID": "x-1"}
    assert run_git(pushable, "push", "-q", "origin", "main", env=agent).returncode == 0
    done = run_git(pushable, "push", "origin", "main:release/1.0", env=agent)
    assert done.returncode != 0 and "protected branch release/1.0" in done.stderr


def test_chained_hooks_run_first_see_stdin_and_their_exit_code_counts(tmp_git_repo: Path,
                                                                      tmp_path: Path) -> None:
    repo = tmp_git_repo
    log = tmp_path / "theirs.log"
    hdir = hooks_of(repo)
    hdir.mkdir(exist_ok=True)
    (hdir / "pre-push").write_text(f"#!/bin/sh\necho \"theirs $1\" >> {log}\ncat >> {log}\nexit 0\n")
    (hdir / "pre-push").chmod(0o755)
    (hdir / "pre-commit").write_text(f"#!/bin/sh\necho pre-commit-theirs >> {log}\nexit 3\n")
    (hdir / "pre-commit").chmod(0o755)
    assert orch(repo, "hooks", "install").returncode == 0
    done = commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1")))
    assert done.returncode == 1  # git reports the hook failed; theirs said no
    assert log.read_text() == "pre-commit-theirs\n"
    (hdir / "pre-commit.orchestrator-prev").write_text("#!/bin/sh\nexit 0\n")
    assert commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1"), task_record("x-1"))).returncode == 1
    assert commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1"))).returncode == 0
    origin = tmp_path / "o.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    done = run_git(repo, "push", "origin", "main", env={"ORCHESTRATOR_TASK_ID": "x-1"})
    assert done.returncode != 0 and "protected branch main" in done.stderr  # ours saw stdin too
    assert "refs/heads/main" in log.read_text() and "theirs origin" in log.read_text()


def test_coexists_with_bd_managed_hooks(tmp_git_repo: Path, tmp_path: Path) -> None:
    repo = tmp_git_repo
    marker = tmp_path / "bd-ran"
    hdir = hooks_of(repo)
    hdir.mkdir(exist_ok=True)
    bd_hook = (f"#!/bin/sh\n# --- BEGIN BEADS INTEGRATION v1.0.5 ---\nexport BD_GIT_HOOK=1\n"
               f"echo \"$@\" >> {marker}\n# --- END BEADS INTEGRATION v1.0.5 ---\n")
    for name in ("pre-commit", "post-merge", "post-checkout"):
        (hdir / name).write_text(bd_hook)
        (hdir / name).chmod(0o755)
    before = snapshot(repo)
    assert orch(repo, "hooks", "install").returncode == 0
    status = orch(repo, "hooks", "status").stdout
    assert "post-merge: installed, chains bd's managed hook (post-merge.orchestrator-prev)" in status
    assert commit(repo, "x.txt", "x\n").returncode == 0
    assert marker.read_text().count("\n") == 1  # bd's pre-commit ran
    # bd appending its section to our shim later (bd hooks install edits only its own section)
    with (hdir / "pre-push").open("a") as f:
        f.write(bd_hook.split("\n", 1)[1].replace("echo", "echo pre-push"))
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "o.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "o.git"))
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    assert "pre-push origin" in marker.read_text()
    # reinstalling (an upgrade) and status leave bd's section alone
    appended = (hdir / "pre-push").read_text()
    assert orch(repo, "hooks", "install").returncode == 0
    assert (hdir / "pre-push").read_text() == appended
    assert orch(repo, "hooks", "status").returncode == 0
    orch(repo, "hooks", "uninstall")
    after = snapshot(repo)
    assert after["hooks"]["pre-commit"] == before["hooks"]["pre-commit"]
    assert after["hooks"]["post-merge"] == before["hooks"]["post-merge"]
    # uninstall takes out only our section: bd's pre-push section stays and still runs
    left = (hdir / "pre-push").read_text()
    assert "ORCHESTRATOR HOOK" not in left and "BEGIN BEADS INTEGRATION" in left
    assert run_git(repo, "commit", "-q", "--allow-empty", "-m", "again").returncode == 0
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    assert marker.read_text().count("pre-push origin") == 2


def test_upgrade_replaces_only_our_section(hooked: Path) -> None:
    hook = hooks_of(hooked) / "pre-commit"
    bd_section = ("# --- BEGIN BEADS INTEGRATION v1.0.5 ---\necho bd\n"
                  "# --- END BEADS INTEGRATION v1.0.5 ---\n")
    hook.write_text(hook.read_text().replace("exit 1\nfi\n", "exit 2\nfi\n") + bd_section)
    assert orch(hooked, "hooks", "status").returncode == 1  # our section is outdated
    done = orch(hooked, "hooks", "install")
    assert "pre-commit: updated" in done.stdout
    assert hook.read_text() == githooks.shim("pre-commit") + bd_section
    assert os.access(hook, os.X_OK)


# -- post-merge / post-checkout --------------------------------------------------------------------

def test_post_merge_and_checkout_print_what_is_ready(hooked: Path) -> None:
    repo = hooked
    assert commit(repo, ".beads/issues.jsonl", jsonl(task_record("x-1"), task_record("x-2", blocks_on=["x-1"]))
                  ).returncode == 0
    git(repo, "checkout", "-q", "-b", "work")
    closed = task_record("x-1", status="closed", updated_at="2026-05-29T11:00:00Z")
    assert commit(repo, ".beads/issues.jsonl", jsonl(closed, task_record("x-2", blocks_on=["x-1"]))
                  ).returncode == 0
    git(repo, "checkout", "-q", "main")
    done = run_git(repo, "merge", "--ff-only", "work")
    assert done.returncode == 0
    # git sends a hook's stdout to its stderr
    assert "orchestrator: 1 task(s) ready\n  x-2  P2  Task x-2" in done.stderr
    done = run_git(repo, "checkout", "HEAD~1")
    assert done.returncode == 0 and "x-1  P2  Task x-1" in done.stderr  # detached HEAD is fine
    done = run_git(repo, "checkout", "main")
    assert "x-2" in done.stderr
    quiet = run_git(repo, "checkout", "-b", "same")  # queue unchanged: nothing printed
    assert quiet.returncode == 0 and "ready" not in quiet.stderr


def test_post_checkout_warns_but_does_not_fail_on_an_invalid_queue(hooked: Path) -> None:
    repo = hooked
    queue = repo / ".beads" / "issues.jsonl"
    queue.parent.mkdir()
    queue.write_text(jsonl(task_record("x-1"), task_record("x-1")))
    git(repo, "add", ".beads/issues.jsonl")
    git(repo, "commit", "-q", "--no-verify", "-m", "bad queue")
    done = run_git(repo, "checkout", "HEAD~1")
    assert done.returncode == 0
    done = run_git(repo, "checkout", "main")
    assert done.returncode == 0
    assert "the task queue is invalid now: .beads/issues.jsonl:2: duplicate task ID x-1" in done.stderr


def test_commit_msg_with_an_unreadable_message_file(tmp_git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_TASK_ID", "x-1")
    done = orch(tmp_git_repo, "hook", "commit-msg", "no-such-file")
    assert done.returncode == 2 and "no-such-file" in done.stderr and done.stderr.count("\n") == 1


def test_unknown_hook_name(tmp_git_repo: Path) -> None:
    done = orch(tmp_git_repo, "hook", "pre-rebase")
    assert done.returncode == 2 and "unknown" in done.stderr


def test_hooks_apply_in_task_worktrees(hooked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator import gitops
    from orchestrator.errors import UserError

    wt = gitops.create_task_worktree(hooked, "x-1")
    (wt.path / "leak.txt").write_text(f"token={FAKE_TOKEN}\n")
    with pytest.raises(UserError, match="looks like a GitHub token"):
        gitops.commit_all(wt.path, "agent leftovers")
    (wt.path / "leak.txt").write_text("clean\n")
    monkeypatch.setenv("ORCHESTRATOR_TASK_ID", "x-1")
    sha = gitops.commit_all(wt.path, "agent leftovers")
    assert sha and "Task: x-1" in git(wt.path, "log", "-1", "--format=%B")
    monkeypatch.delenv("ORCHESTRATOR_TASK_ID")
    assert gitops.land_task_branch(hooked, wt).ok
    assert gitops.tampered_paths(wt.path, wt.base) == []
