"""`orchestrator report` against the loopback GitHub stand-in: every request and response
is checked against GitHub's OpenAPI description (gh.violations must stay empty)."""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.config import Config, DispatchConfig, GithubConfig
from orchestrator.forge.comments import STATUS, has_marker
from orchestrator.forge.github import Tuning
from orchestrator.forge.report import CycleInfo, report_to_github
from orchestrator.forge.state import load_state
from support.github import FAST, actions_env, api_for, escalated_record, many_tasks, queue
from support.github_api import Fault, GitHubStandIn
from support.repo import task_record

CONFIG = Config()


@pytest.fixture
def gh() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as server:
        yield server
        assert server.violations == []


def report(gh: GitHubStandIn, repo: Path, *, cycle: int = 1, chain: str = "c1",
           config: Config = CONFIG, dispatch: bool = True, environ: dict[str, str] | None = None,
           tuning: Tuning = FAST, **env: str):
    out = io.StringIO()
    e = actions_env(gh, repo, **env)
    store = queue_store(repo)
    result = report_to_github(repo, store, config, e, api_for(e, tuning), CycleInfo(cycle, chain),
                              dispatch=dispatch, environ=environ or {}, out=out)
    return result, out.getvalue()


def queue_store(repo: Path):
    from orchestrator.tasks.jsonl import JsonlStore
    return JsonlStore(repo / ".beads" / "issues.jsonl")


def status_comments(gh: GitHubStandIn) -> list[dict]:
    return [c for c in gh.repo.comments.values() if "orchestrator:status" in c["body"]]


def test_first_cycle_creates_the_tracking_issue_and_one_comment_then_later_cycles_edit_it(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1"), task_record("t-2", status="closed")])
    result, out = report(gh, tmp_path)
    assert result.exit_code == 0, out
    assert [i["labels"] for i in gh.repo.issues.values()] == [["orchestrator"]]
    assert len(status_comments(gh)) == 1
    assert gh.repo.dispatches == [{"workflow": "orchestrator.yml", "ref": "main",
                                   "inputs": {"cycle": "2", "chain_id": "c1"}}]
    body = status_comments(gh)[0]["body"]
    assert "Cycle **1** of chain `c1`" in body
    assert "http://github.invalid/octo/queue/actions/runs/77" in body
    assert (tmp_path / "summary.md").read_text().strip() == body.strip()
    first_id = next(iter(gh.repo.comments))

    gh.reset_traffic()
    result, _ = report(gh, tmp_path, cycle=2)
    assert result.exit_code == 0
    assert [c for c in gh.repo.comments] == [first_id]
    assert "Cycle **2** of chain `c1`" in gh.repo.comments[first_id]["body"]
    ops = [r["op"] for r in gh.calls()]
    assert "issues/create-comment" not in ops and "issues/update-comment" in ops
    assert "issues/create" not in ops
    assert gh.repo.dispatches[-1]["inputs"] == {"cycle": "3", "chain_id": "c1"}


def test_a_duplicate_left_by_a_cancelled_run_converges_to_one_comment(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    report(gh, tmp_path)
    (number,) = gh.repo.issues
    (kept,) = [cid for cid, c in gh.repo.comments.items()]
    # a run that was cancelled after posting its own comment, before saving its state: the
    # next report without the state file (lost with that run) finds both by their markers
    stray = gh.repo.add_comment(number, gh.repo.comments[kept]["body"])
    (tmp_path / ".beads" / "orchestrator-github.json").unlink()
    result, _ = report(gh, tmp_path, cycle=2)
    assert result.exit_code == 0
    assert [c["issue"] for c in status_comments(gh)] == [number]
    assert stray not in gh.repo.comments and kept in gh.repo.comments
    assert len(gh.repo.issues) == 1  # the tracking issue was found by label and marker

    # the cached comment deleted by hand, a stray of ours still there: the edit answers 404,
    # and the report falls back to the markers rather than posting a third comment
    stray = gh.repo.add_comment(number, gh.repo.comments[kept]["body"])
    del gh.repo.comments[kept]
    gh.reset_traffic()
    result, _ = report(gh, tmp_path, cycle=3)
    assert result.exit_code == 0
    assert list(gh.repo.comments) == [stray]
    assert "Cycle **3**" in gh.repo.comments[stray]["body"]
    ops = [r["op"] for r in gh.calls()]
    assert ops[-3:] == ["issues/update-comment", "issues/list-comments", "issues/update-comment"]


def test_another_queues_comment_on_the_same_issue_is_left_alone(gh: GitHubStandIn,
                                                                tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    report(gh, tmp_path)
    (number,) = gh.repo.issues
    (mine,) = gh.repo.comments
    other = gh.repo.add_comment(number, "<!-- orchestrator:status v1 queue=octo/queue@dev:x -->\nx")
    report(gh, tmp_path, cycle=2)
    assert gh.repo.comments[other]["body"].endswith("\nx")
    # the queue of another branch gets its own tracking issue and comment
    report(gh, tmp_path, cycle=3, ref_name="dev")
    assert other in gh.repo.comments and mine in gh.repo.comments
    assert sorted(c["issue"] for c in status_comments(gh)) == [1, 1, 2]


def test_a_report_makes_the_same_few_calls_at_any_queue_size(tmp_path: Path) -> None:
    """A run has one report per matrix leg and issue 10 allows 8 requests per run: a report
    with its cache makes at most 3 (4 is the budget), whatever the queue's size. The first
    report (no cache: the tracking issue found or made) and one announcing escalations cost
    more, once. The workflow maps ORCHESTRATOR_PAUSED into the environment, so the pause
    variable costs no request."""
    config = replace(CONFIG, github=replace(CONFIG.github, mention=["octocat"]),
                     dispatch=DispatchConfig(on_escalation="continue"))
    mapped = {"ORCHESTRATOR_PAUSED": ""}
    calls: dict[int, list[list[str]]] = {}
    for size in (10, 10_000):
        repo = tmp_path / str(size)
        repo.mkdir()
        with GitHubStandIn() as gh:
            calls[size] = []
            for cycle, extra in ((1, []), (2, []), (3, [escalated_record("esc-1"),
                                                        escalated_record("esc-2")]), (4, [])):
                queue(repo, [*many_tasks(size), *extra])
                gh.reset_traffic()
                result, out = report(gh, repo, cycle=cycle, config=config, environ=mapped)
                assert result.exit_code == 0, out
                calls[size].append([r["op"] for r in gh.calls()])
            assert all(len(c["body"]) < 65_536 for c in gh.repo.comments.values())
            assert gh.repo.dispatches[-1]["inputs"]["cycle"] == "5"
            assert gh.violations == []
    assert calls[10] == calls[10_000]
    first, steady, escalating, after = calls[10]
    assert first == ["pulls/list", "issues/list-for-repo", "issues/create",
                     "actions/create-workflow-dispatch", "issues/create-comment"]
    # the tracking issue read (still open? paused?), the dispatch, the cached comment edited
    assert steady == after == ["issues/get", "actions/create-workflow-dispatch",
                               "issues/update-comment"]
    assert escalating == steady + ["issues/create-comment",  # one for both escalations
                                   "issues/add-labels"]


def test_a_fixed_target_is_read_only_when_a_dispatch_is_due(gh: GitHubStandIn,
                                                              tmp_path: Path) -> None:
    issue = gh.repo.add_issue("status here")
    config = replace(CONFIG, github=replace(CONFIG.github, status_target=f"issue:{issue}"))
    mapped = {"ORCHESTRATOR_PAUSED": ""}
    queue(tmp_path, [task_record("t-1")])
    report(gh, tmp_path, config=config, environ=mapped)
    gh.reset_traffic()
    report(gh, tmp_path, cycle=2, config=config, environ=mapped)
    assert [r["op"] for r in gh.calls()] == ["issues/get", "actions/create-workflow-dispatch",
                                             "issues/update-comment"]
    # nothing ready (the task runs in another leg): no dispatch is due, so no label is read
    queue(tmp_path, [task_record("t-1", status="in_progress")])
    gh.reset_traffic()
    result, _ = report(gh, tmp_path, cycle=2, config=config, environ=mapped)
    assert not result.step.dispatch
    assert [r["op"] for r in gh.calls()] == ["issues/update-comment"]


def test_escalation_posts_one_comment_with_mentions_and_the_label_never_repeated(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1"), escalated_record("bd-7", title="Fix the parser")])
    (tmp_path / ".orchestrator.yml").write_text("")
    issue = gh.repo.add_issue("tracking")
    config = replace(CONFIG, github=replace(CONFIG.github, status_target=f"issue:{issue}",
                                            mention=["alice", "@bob"]))
    result, out = report(gh, tmp_path, config=config)
    escalations = [c for c in gh.repo.comments.values() if "orchestrator:escalation" in c["body"]]
    assert len(escalations) == 1
    body = escalations[0]["body"]
    assert "@alice @bob" in body and "bd-7" in body and "Fix the parser" in body
    assert "/orchestrator retry bd-7" in body and "orchestrator task update bd-7 --status open" in body
    assert "try 1 failed" in body and "logs/run/3_bd-7" in body and "actions/runs/77" in body
    assert gh.repo.issues[issue]["labels"] == ["needs-human"]
    assert "::warning title=escalated::bd-7 needs a human: Fix the parser" in out
    # the default on_escalation: stop ends the chain, and says so
    assert gh.repo.dispatches == []
    assert "dispatch.on_escalation" in status_comments(gh)[0]["body"]
    for cycle in (2, 3):
        report(gh, tmp_path, cycle=cycle, config=config)
    assert len([c for c in gh.repo.comments.values()
                if "orchestrator:escalation" in c["body"]]) == 1
    # even with the state file lost: the comment's marker says it was announced
    (tmp_path / ".beads" / "orchestrator-github.json").unlink()
    report(gh, tmp_path, cycle=4, config=config)
    assert len([c for c in gh.repo.comments.values()
                if "orchestrator:escalation" in c["body"]]) == 1


def test_a_drained_queue_says_so_and_sends_no_dispatch(gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1", status="closed")])
    result, out = report(gh, tmp_path)
    assert result.exit_code == 0 and result.step.drained
    assert gh.repo.dispatches == []
    assert "Drained" in status_comments(gh)[0]["body"]
    assert "drained" in out


@pytest.mark.parametrize("guard", ["stop_file", "pause_label", "variable", "variable_env",
                                   "max_cycles", "stall", "cost"])
def test_each_guard_stops_the_chain_and_is_named(gh: GitHubStandIn, tmp_path: Path,
                                                 guard: str) -> None:
    records = [task_record("t-1"), task_record("t-2")]
    config = CONFIG
    environ: dict[str, str] = {}
    issue = gh.repo.add_issue("tracking")
    config = replace(config, github=GithubConfig(status_target=f"issue:{issue}"))
    expected = {"stop_file": ".beads/STOP", "pause_label": "orchestrator-paused",
                "variable": "ORCHESTRATOR_PAUSED", "variable_env": "ORCHESTRATOR_PAUSED",
                "max_cycles": "dispatch.max_cycles", "stall": "dispatch.stall_cycles",
                "cost": "dispatch.max_cost_usd"}[guard]
    cycles = 1
    if guard == "stop_file":
        (tmp_path / ".beads").mkdir()
        (tmp_path / ".beads" / "STOP").write_text("")
    elif guard == "pause_label":
        gh.repo.issues[issue]["labels"].append("orchestrator-paused")
        gh.repo.ensure_label("orchestrator-paused")
    elif guard == "variable":
        gh.repo.variables["ORCHESTRATOR_PAUSED"] = "true"
    elif guard == "variable_env":
        environ = {"ORCHESTRATOR_PAUSED": "yes"}
    elif guard == "max_cycles":
        config = replace(config, dispatch=DispatchConfig(max_cycles=2, stall_cycles=50))
        cycles = 3
    elif guard == "stall":
        config = replace(config, dispatch=DispatchConfig(stall_cycles=2))
        cycles = 3
    elif guard == "cost":
        config = replace(config, dispatch=DispatchConfig(max_cost_usd=1.0))
        cycles = 2
    for n in range(1, cycles + 1):
        if guard == "cost" and n == 2:  # cycle 1's agents spent $1.50 in all
            records.append(escalated_record("spent", attempts=3) | {"status": "closed"})
        queue(tmp_path, records)
        result, out = report(gh, tmp_path, cycle=n, config=config, environ=environ)
    assert result.exit_code == 0 and result.step.guard, out
    assert expected in status_comments(gh)[0]["body"]
    assert "Chain stopped" in status_comments(gh)[0]["body"]
    assert "::warning title=chain stopped::" in out
    assert len(gh.repo.dispatches) == cycles - 1


FIRST_REPORT_CALLS = ["pulls/list", "issues/list-for-repo", "issues/create",
                      "actions/get-repo-variable", "actions/create-workflow-dispatch",
                      "issues/create-comment"]
LATER_REPORT_CALLS = ["issues/get", "issues/list-comments", "issues/update-comment"]


@pytest.mark.parametrize("operation", FIRST_REPORT_CALLS + LATER_REPORT_CALLS)
@pytest.mark.parametrize("fault", ["bad_gateway", "secondary_rate_limit", "too_many_requests",
                                   "timeout"])
def test_faults_on_each_call_kind_are_retried_then_the_report_succeeds(
        gh: GitHubStandIn, tmp_path: Path, operation: str, fault: str) -> None:
    queue(tmp_path, [task_record("t-1")])
    if operation in LATER_REPORT_CALLS:
        report(gh, tmp_path)
    if operation == "issues/list-comments":   # listed only without the cached comment id
        (tmp_path / ".beads" / "orchestrator-github.json").unlink()
    gh.reset_traffic()
    make = {"timeout": lambda: Fault.timeout(1.2)}.get(fault, getattr(Fault, fault))
    gh.inject(operation, make())
    result, out = report(gh, tmp_path, cycle=2)
    assert result.exit_code == 0, out
    tries = gh.calls(operation)
    assert tries[0]["fault"] and len(tries) == 2
    assert tries[-1]["status"] in (200, 201, 204, 404)  # 404: the variable is not set
    assert len(status_comments(gh)) == 1 and len(gh.repo.issues) == 1
    assert gh.repo.dispatches[-1]["inputs"]["cycle"] == "3"


@pytest.mark.parametrize("fault,wait", [
    (lambda: Fault.secondary_rate_limit(retry_after=7), 7),
    (lambda: Fault.too_many_requests(retry_after=3), 3),
    (lambda: Fault.primary_rate_limit(reset_in=30), 31),  # until x-ratelimit-reset, plus 1 s
])
def test_rate_limits_wait_as_long_as_github_says(gh: GitHubStandIn, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 fault: Callable[[], Fault], wait: int) -> None:
    import time as time_module
    slept: list[float] = []
    # urllib3 sleeps through time.sleep: record what it asks for instead of waiting
    monkeypatch.setattr(time_module, "sleep", slept.append)
    queue(tmp_path, [task_record("t-1")])
    gh.inject("pulls/list", fault())
    result, out = report(gh, tmp_path, tuning=replace(FAST, max_rate_limit_wait=60))
    assert result.exit_code == 0, out
    assert [round(x) for x in slept if x >= 1] in ([wait], [wait - 1])


def test_a_primary_rate_limit_waits_for_its_reset_or_gives_up_when_it_is_too_far(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    gh.inject("issues/create", Fault.primary_rate_limit(reset_in=0))
    result, out = report(gh, tmp_path)
    assert result.exit_code == 0, out
    assert [r.get("fault") for r in gh.calls("issues/create")] == [403, None]
    # an hour away is longer than max_rate_limit_wait: reported, not waited out
    gh.inject("issues/update-comment", Fault.primary_rate_limit(reset_in=3600))
    result, out = report(gh, tmp_path, cycle=2)
    assert result.exit_code == 1
    assert "::error title=orchestrator report::GitHub: edit comment" in out
    assert "rate limit" in out


@pytest.mark.parametrize("operation", ["issues/update-comment", "issues/list-comments"])
def test_a_fault_that_outlasts_the_retries_is_reported_never_silent(
        gh: GitHubStandIn, tmp_path: Path, operation: str) -> None:
    queue(tmp_path, [task_record("t-1")])
    report(gh, tmp_path)
    if operation == "issues/list-comments":   # listed only without the cached comment id
        (tmp_path / ".beads" / "orchestrator-github.json").unlink()
    gh.inject(operation, *[Fault.bad_gateway()] * 10)
    result, out = report(gh, tmp_path, cycle=2)
    assert result.exit_code == 1
    assert "::error title=orchestrator report::GitHub" in out
    assert len(gh.repo.dispatches) == 2  # the chain itself goes on


def test_a_refused_dispatch_exits_non_zero_and_says_so_in_the_comment(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    gh.inject("actions/create-workflow-dispatch", Fault.forbidden())
    result, out = report(gh, tmp_path)
    assert result.exit_code == 1
    assert "::error title=dispatch failed::the next cycle was not dispatched: GitHub: dispatch " \
           "workflow orchestrator.yml on main failed: HTTP 403: Resource not accessible by " \
           "integration" in out
    body = status_comments(gh)[0]["body"]
    assert "could not be dispatched" in body and "403" in body
    assert gh.repo.dispatches == []


def test_the_status_target_is_the_open_pull_request_of_the_working_branch(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    pr = gh.repo.add_pull("feature-x")
    queue(tmp_path, [task_record("t-1")])
    result, _ = report(gh, tmp_path, ref_name="feature-x")
    assert result.target == pr
    assert [c["issue"] for c in status_comments(gh)] == [pr]
    assert gh.repo.dispatches[0]["ref"] == "feature-x"
    state = load_state(tmp_path / ".beads" / "orchestrator-github.json")
    assert state.target == pr and state.comment_id in gh.repo.comments


def test_report_without_dispatch_only_reports(gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    result, _ = report(gh, tmp_path, dispatch=False)
    assert result.exit_code == 0 and gh.repo.dispatches == []
    assert "dispatch is off" in status_comments(gh)[0]["body"]


def test_titles_cannot_inject_workflow_commands(gh: GitHubStandIn, tmp_path: Path) -> None:
    evil = "evil%0A\r\n::error::pwned ::set-env name=X::1"
    queue(tmp_path, [task_record("t-1"), escalated_record("bd-9", title=evil)])
    _, out = report(gh, tmp_path)
    # the runner reads a command only at the start of a line, up to the first "::" after its
    # properties: once CR/LF are escaped, the title stays inside the one warning's message
    commands = [line for line in out.splitlines() if line.startswith("::")]
    assert [c.split("::")[1] for c in commands] == ["warning title=escalated",
                                                     "warning title=chain stopped"]
    assert commands[0] == ("::warning title=escalated::bd-9 needs a human: "
                           "evil%250A%0D%0A::error::pwned ::set-env name=X::1")


def test_apply_results_runs_first_so_the_report_sees_its_changes(
        gh: GitHubStandIn, tmp_path: Path) -> None:
    store = queue(tmp_path, [task_record("t-1")])
    from orchestrator.tasks.store import TaskChanges
    e = actions_env(gh, tmp_path)
    result = report_to_github(
        tmp_path, store, CONFIG, e, api_for(e), CycleInfo(1, "c"), dispatch=True,
        apply_results=lambda: store.update(["t-1"], TaskChanges(status="closed"), actor="x"),
        out=io.StringIO())
    assert result.step.drained and gh.repo.dispatches == []


def test_state_file_is_json_and_records_the_cache(gh: GitHubStandIn, tmp_path: Path) -> None:
    queue(tmp_path, [task_record("t-1")])
    report(gh, tmp_path)
    data = json.loads((tmp_path / ".beads" / "orchestrator-github.json").read_text())
    assert data["target"] == 1 and data["comment_id"] in gh.repo.comments
    assert data["chain_id"] == "c1" and data["cycle"] == 1
    assert has_marker(gh.repo.comments[data["comment_id"]]["body"], STATUS, data["queue"])


def test_the_plan_makes_the_comment_once_so_the_legs_only_edit_it(gh: GitHubStandIn,
                                                                  tmp_path: Path) -> None:
    """Overlapping legs never race to create the comment: the plan job makes it when the cache
    has none (2 requests, once per queue), and its URL is the plan's `comment-url` output."""
    from orchestrator.forge.report import comment_url, ensure_status

    issue = gh.repo.add_issue("status here")
    config = replace(CONFIG, github=replace(CONFIG.github, status_target=f"issue:{issue}"))
    queue(tmp_path, [task_record("t-1"), task_record("t-2")])
    e = actions_env(gh, tmp_path)
    state, changed = ensure_status(tmp_path, queue_store(tmp_path), config, e, api_for(e, FAST),
                                   CycleInfo(1, "c1"))
    assert changed and [r["op"] for r in gh.calls()] == ["issues/list-comments",
                                                         "issues/create-comment"]
    assert comment_url(e, state) == (f"http://github.invalid/octo/queue/issues/{issue}"
                                     f"#issuecomment-{state.comment_id}")
    gh.reset_traffic()
    again, changed = ensure_status(tmp_path, queue_store(tmp_path), config, e, api_for(e, FAST),
                                   CycleInfo(2, "c1"))
    assert not changed and again == state and gh.calls() == []
    for _leg in range(2):
        report(gh, tmp_path, config=config, environ={"ORCHESTRATOR_PAUSED": ""})
    assert list(gh.repo.comments) == [state.comment_id]
    assert "issues/create-comment" not in [r["op"] for r in gh.calls()]
