"""The workflow `orchestrator init` writes drains a queue under act, as issue 10's contract says:
each run is `act workflow_dispatch` on a fresh clone of the branch as the previous run pushed
it, with this project's action mapped to its checkout, GitHub's actions replaced by the
stand-ins in tests/actions/, and GITHUB_API_URL pointing at the loopback GitHub stand-in that
holds every request and response to GitHub's OpenAPI description. The first run takes the
input defaults, each later one exactly the inputs a dispatch sent.

The workflow is the barrier-free one (docs/github.md): each matrix leg reports its own result
and dispatches the next cycle, so a run with two legs may send two dispatches (issue 15
supersedes issue 10's one dispatch per run; docs/github.md says why). What holds instead, and
is checked: every dispatch carries `cycle` N+1 and the chain id of its run, a run sends no more
dispatches than it has legs, the last run sends none, and a run makes at most 8 requests.
The dispatches are run one after another here."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrator.forge.comments import ESCALATION, STATUS, parse_markers
from support.act import ActSandbox, act_skip_reason, event_inputs
from support.dispatch import history_of, tasks_of
from support.github import token
from support.github_api import GitHubStandIn
from support.repo import git, init_git_repo

pytestmark = pytest.mark.skipif(act_skip_reason() is not None, reason=act_skip_reason() or "")

SLUG = "acme/widgets"
MAX_RUNS = 12

# The scripted agent: by the task's title, it does the work and closes the task, fails its
# first try (a retry), or always fails (an escalation).
AGENT = '''\
import os, shlex, subprocess, sys, time
task_id, attempt = sys.argv[1], int(sys.argv[2])
task = shlex.split(os.environ["ORCHESTRATOR_TASK_CMD"])
title = subprocess.run([*task, "show", task_id, "--json"], check=True, capture_output=True,
                       text=True).stdout
if "slow" in title:   # holds its slot until the test releases it
    release = os.environ["ACT_TEST_RELEASE"]
    for _ in range(18000):   # at most 30 minutes: the test releases it much sooner
        if os.path.exists(release):
            break
        time.sleep(0.1)
if "doomed" in title or ("flaky" in title and attempt == 1):
    print(f"{task_id}: failing attempt {attempt}", file=sys.stderr)
    sys.exit(1)
os.makedirs("work", exist_ok=True)
with open(f"work/{task_id}.txt", "w") as f:
    f.write(f"{task_id} done on attempt {attempt}\\n")
subprocess.run(["git", "add", "-A"], check=True)
subprocess.run(["git", "commit", "-q", "-m", f"{task_id}: the work"], check=True)
subprocess.run([*task, "close", task_id, "--reason", "done"], check=True, capture_output=True)
'''

CONFIG = """\
store: jsonl
agent:
  profile: command
  command: ["python3", "scripts/agent.py", "{task_id}", "{attempt}", "{budget}"]
  timeout_minutes: 2
dispatch:
  max_parallel: 2
  max_attempts: 2
  on_escalation: continue
github:
  status_target: "issue:1"
"""


def orchestrator(repo: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(repo), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout


def user_repository(path: Path, names: tuple[str, ...] = ("base", "flaky", "doomed", "dependent"),
                    config: str = CONFIG) -> Path:
    repo = init_git_repo(path)
    (repo / "scripts").mkdir()
    (repo / "scripts" / "agent.py").write_text(AGENT)
    (repo / ".orchestrator.yml").write_text(config)
    (repo / ".beads").mkdir()
    (repo / ".beads" / "issues.jsonl").write_text("")
    ids = {}
    for name in names:
        priority = ["--priority", "0"] if name == "slow" else []
        ids[name] = orchestrator(repo, "task", "create", f"{name} task", *priority,
                                 "--silent").strip()
    if "dependent" in ids:
        orchestrator(repo, "task", "dep", "add", ids["dependent"], ids["base"])
    out = orchestrator(repo, "init")
    assert "wrote .github/workflows/orchestrator.yml" in out
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "orchestrator set up")
    return repo


def test_the_init_workflow_drains_a_queue_under_act(tmp_path: Path) -> None:
    box = ActSandbox(tmp_path / "box", slug=SLUG)
    user = user_repository(tmp_path / "user")
    ids = {t.title.split()[0]: t.id for t in tasks_of(user).values()}
    box.publish(user)

    with GitHubStandIn(SLUG) as gh:
        gh.repo.add_issue("Orchestrator status")   # issue 1: github.status_target

        # a dry run shows the plan and the comment it would post, and changes nothing
        tip = git(box.remote, "rev-parse", "main")
        dry = box.act(box.clone(tmp_path / "dry"), workflow=".github/workflows/orchestrator.yml",
                      inputs={"dry_run": "true"}, secrets={"GITHUB_TOKEN": token()},
                      env={"GITHUB_API_URL": gh.url})
        assert dry.returncode == 0, dry.output[-6000:]
        assert f"would claim and launch {ids['base']}" in dry.output
        assert "would post the status comment on #1" in dry.output
        assert "orchestrator task/agent" not in dry.output   # no leg ran
        assert git(box.remote, "rev-parse", "main") == tip
        assert [r for r in gh.requests if r["method"] != "GET"] == [] and not gh.repo.dispatches
        box.runs.clear()

        pending: list[dict[str, str]] = [{}]       # the first run: the input defaults
        dispatched_by: list[int] = []
        requests_by: list[int] = []
        legs_by: list[int] = []
        chains: set[str] = set()
        while pending:
            assert len(box.runs) < MAX_RUNS, "the chain did not end"
            inputs = pending.pop(0)
            before_requests, before_dispatches = len(gh.requests), len(gh.repo.dispatches)
            work = box.clone(tmp_path / f"run{len(box.runs) + 1}")
            run = box.act(work, workflow=".github/workflows/orchestrator.yml", inputs=inputs,
                          secrets={"GITHUB_TOKEN": token()},
                          env={"GITHUB_API_URL": gh.url})
            assert run.returncode == 0, run.output[-6000:]
            cycle = int(inputs.get("cycle", "1"))
            legs = int(re.findall(r"plan: cycle \d+: claimed (\d+) task", run.output)[-1])
            sent = gh.repo.dispatches[before_dispatches:]
            assert all(d["inputs"]["cycle"] == str(cycle + 1) for d in sent), sent
            chains.update(d["inputs"]["chain_id"] for d in sent)
            if inputs.get("chain_id"):
                assert {d["inputs"]["chain_id"] for d in sent} <= {inputs["chain_id"]}, sent
            assert len(sent) <= legs, (legs, sent)
            requests_by.append(len(gh.requests) - before_requests)
            assert requests_by[-1] <= 8, " ".join(r["op"] for r in gh.requests[before_requests:])
            dispatched_by.append(len(sent))
            legs_by.append(legs)
            pending += [event_inputs(d) for d in sent]
        assert gh.violations == []

    final = box.clone(tmp_path / "final")
    tasks = tasks_of(final)
    for name in ("base", "flaky", "dependent"):
        assert str(tasks[ids[name]].status) == "closed", (name, tasks[ids[name]])
        assert (final / "work" / f"{ids[name]}.txt").is_file()
    assert [r.decision for r in history_of(final, ids["flaky"])] == ["retry", "done"]
    doomed = tasks[ids["doomed"]]
    assert str(doomed.status) != "closed" and "needs-human" in doomed.labels
    # the dependent task ran after its blocker landed
    log = git(final, "log", "--format=%s", "--reverse").splitlines()
    assert log.index(f"{ids['base']}: the work") < log.index(f"{ids['dependent']}: the work")
    # one status comment on issue 1, edited by later runs; the escalation announced there
    status = [c for c in gh.repo.comments.values()
              if any(m.kind == STATUS for m in parse_markers(c["body"]))]
    assert len(status) == 1 and status[0]["issue"] == 1
    assert status[0]["updated"] != status[0]["created"]
    assert "drained" not in status[0]["body"] or ids["doomed"] in status[0]["body"]
    announced = [c for c in gh.repo.comments.values()
                 if any(m.kind == ESCALATION for m in parse_markers(c["body"]))]
    assert len(announced) == 1 and ids["doomed"] in announced[0]["body"]   # once, by one leg
    assert announced[0]["issue"] == 1
    assert dispatched_by[-1] == 0
    assert len(chains) == 1 and "" not in chains   # one chain, named by its first run
    # init again on the drained branch: nothing changes
    before = git(final, "status", "--porcelain")
    orchestrator(final, "init")
    assert git(final, "status", "--porcelain") == before
    print(textwrap.dedent(f"""
        act runs: {len(box.runs)}, seconds each: {[round(r.seconds, 1) for r in box.runs]},
        legs per run: {legs_by}, dispatches per run: {dispatched_by},
        API requests per run: {requests_by}"""))


def in_flight_per_commit(repo: Path) -> list[int]:
    """How many tasks were in progress after each commit of the queue file on the branch."""
    counts = []
    for sha in git(repo, "log", "--format=%H", "--", ".beads/issues.jsonl").split():
        text = git(repo, "show", f"{sha}:.beads/issues.jsonl")
        counts.append(sum('"status":"in_progress"' in line.replace(" ", "")
                          for line in text.splitlines()))
    return counts


def test_a_finished_task_frees_its_slot_while_a_slow_one_still_runs(tmp_path: Path) -> None:
    """Issue 15: no cycle barrier. The slow task holds its slot until every other task is
    closed on the branch, which can only happen if runs dispatched by finished legs claimed
    and landed them while the first run was still going."""
    release = tmp_path / "release-the-slow-agent"
    config = CONFIG.replace("timeout_minutes: 2", "timeout_minutes: 40")
    user = user_repository(tmp_path / "user", ("slow", "q1", "q2", "q3"), config)
    ids = {t.title.split()[0]: t.id for t in tasks_of(user).values()}
    box = ActSandbox(tmp_path / "box", slug=SLUG, env={"ACT_TEST_RELEASE": str(release)})
    box.publish(user)
    quick = [ids["q1"], ids["q2"], ids["q3"]]

    def started(inputs: dict[str, str]):  # noqa: ANN202
        work = box.clone(tmp_path / f"run{box._started + 1}")
        return box.start(work, workflow=".github/workflows/orchestrator.yml", inputs=inputs,
                         secrets={"GITHUB_TOKEN": token()}, env={"GITHUB_API_URL": gh.url})

    with GitHubStandIn(SLUG) as gh:
        gh.repo.add_issue("Orchestrator status")
        first = started({})
        running, seen, first_alive_at_release = [first], 0, None
        for _poll in range(12000):         # a bound, not a timing: each poll waits 0.25 s
            if not running:
                break
            for d in gh.repo.dispatches[seen:]:
                assert box._started < MAX_RUNS, "the chain did not end"
                running.append(started(event_inputs(d)))
            seen = len(gh.repo.dispatches)
            if first_alive_at_release is None:
                closed = {t.id for t in tasks_of_remote(box, tmp_path).values()
                          if str(t.status) == "closed"}
                if set(quick) <= closed:
                    first_alive_at_release = not first.done()
                    release.write_text("go")
            for r in [r for r in running if r.done()]:
                running.remove(r)
                run = r.wait()
                assert run.returncode == 0, run.output[-6000:]
            time.sleep(0.25)
        assert not running, "the runs did not end"
        assert gh.violations == []

    assert first_alive_at_release is True   # the quick tasks landed while run 1 still ran
    final = box.clone(tmp_path / "final")
    tasks = tasks_of(final)
    for tid in (*quick, ids["slow"]):
        assert str(tasks[tid].status) == "closed"
        assert [r.decision for r in history_of(final, tid)] == ["done"]   # claimed once
        assert (final / "work" / f"{tid}.txt").is_file()
    log = git(final, "log", "--format=%s", "--reverse").splitlines()
    assert all(log.index(f"{q}: the work") < log.index(f"{ids['slow']}: the work") for q in quick)
    assert max(in_flight_per_commit(final)) <= 2


def tasks_of_remote(box: ActSandbox, tmp_path: Path) -> dict:
    text = git(box.remote, "show", "main:.beads/issues.jsonl")
    path = tmp_path / "remote-view" / ".beads" / "issues.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return tasks_of(path.parent.parent)


def test_a_retry_comment_pushes_the_reopened_task_under_act(tmp_path: Path) -> None:
    """`/orchestrator retry ID` by a collaborator, as GitHub delivers it (an issue_comment
    event) to the comment workflow `init` writes: the job reopens the escalated task and pushes
    the queue to the branch, so the next plan launches it again."""
    user = user_repository(tmp_path / "user", ("stuck", "other"))
    ids = {t.title.split()[0]: t.id for t in tasks_of(user).values()}
    stuck = ids["stuck"]
    # escalated, as the report leaves a task whose attempts ran out
    orchestrator(user, "task", "update", stuck, "--status", "blocked", "--add-label",
                 "needs-human")
    git(user, "commit", "-qam", "stuck escalated")
    box = ActSandbox(tmp_path / "box", slug=SLUG)
    box.publish(user)
    tip = git(box.remote, "rev-parse", "main").strip()

    with GitHubStandIn(SLUG) as gh:
        gh.repo.collaborators["maintainer"] = "maintain"
        issue = gh.repo.add_issue("Orchestrator status")
        body = f"/orchestrator retry {stuck}"
        cid = gh.repo.add_comment(issue, body, user="maintainer")
        event = tmp_path / "event.json"
        event.write_text(json.dumps({
            "action": "created", "issue": {"number": issue},
            "comment": {"id": cid, "body": body, "author_association": "COLLABORATOR",
                        "user": {"login": "maintainer", "type": "User"}},
            "repository": {"full_name": SLUG}}))
        run = box.act(box.clone(tmp_path / "run"), workflow=".github/workflows/"
                      "orchestrator-command.yml", event="issue_comment", payload=event,
                      secrets={"GITHUB_TOKEN": token()}, env={"GITHUB_API_URL": gh.url})
        assert run.returncode == 0, run.output[-6000:]
        assert f"command: reopened {stuck}" in run.output
        assert [r["op"] for r in gh.requests] == ["repos/get-collaborator-permission-level",
                                                  "reactions/create-for-issue-comment"]
        assert gh.repo.reactions == [{"comment": cid, "content": "+1"}]
        assert gh.violations == []

    # one commit on top of what was there: the queue with the task reopened
    assert git(box.remote, "rev-parse", "main~1").strip() == tip
    final = box.clone(tmp_path / "final")
    task = tasks_of(final)[stuck]
    assert str(task.status) == "open"
    assert "needs-human" in task.labels   # dropped when the next plan claims it
    assert stuck in orchestrator(final, "ready")
