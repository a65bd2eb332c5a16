"""The pure text of the GitHub forge: comment commands, markers, workflow-command escaping,
the status comment's size at any queue size."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.forge.actions import ActionsEnv, escape_data, escape_property, workflow_command
from orchestrator.forge.comments import (
    ESCALATION,
    STATUS,
    VERBS,
    Command,
    has_marker,
    marker,
    parse_command,
    parse_markers,
    queue_identity,
)
from orchestrator.forge.status import COMMENT_LIMIT, render_fitting, render_status
from orchestrator.tasks.model import task_from_record
from support.github import many_tasks

# text that looks like commands, markers and the characters that matter, mixed with noise
PIECES = st.sampled_from([
    "/orchestrator", "/orchestrator ", " run", " stop", " status", " retry", " bd-7", " --reset-branch", " x",
    "\n", "\r\n", "```", "> ", "<!-- orchestrator:status v1 queue=", "<!-- ", " -->",
    " task=", " attempt=", "1", "$(rm -rf /)", "`id`", "${{ github.token }}", "::", "%",
])
TEXT = st.one_of(st.text(), st.lists(st.one_of(PIECES, st.text(max_size=5))).map("".join))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_command_parser_never_raises_and_never_invents_a_command(body: str) -> None:
    cmd = parse_command(body)
    if cmd is None or cmd.verb == "unknown":
        return
    assert cmd.verb in VERBS
    written = f"/orchestrator {cmd.verb}" + (f" {cmd.task_id}" if cmd.task_id else "") \
        + (" --reset-branch" if cmd.reset_branch else "")
    lines = [" ".join(line.split()) for line in body.splitlines()]
    assert written in lines


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_marker_parser_never_raises_and_finds_only_whole_marker_lines(text: str) -> None:
    for m in parse_markers(text):
        line = marker(m.kind, m.queue, task=m.task, attempt=m.attempt)
        assert line in [x.strip() for x in text.splitlines()]


@given(st.text(), st.text(), st.text())
def test_a_marker_round_trips_for_any_queue_identity(repo: str, branch: str, path: str) -> None:
    q = queue_identity(repo, branch, path)
    assert parse_markers(marker(STATUS, q)) == [parse_markers(marker(STATUS, q))[0]]
    assert has_marker("text\n" + marker(STATUS, q) + "\nmore", STATUS, q)
    assert not has_marker(marker(STATUS, q), ESCALATION, q)


@pytest.mark.parametrize("body,expected", [
    ("/orchestrator run", Command("run")),
    ("  /orchestrator   stop  ", Command("stop")),
    ("please\n/orchestrator retry bd-a1b2.3\nthanks", Command("retry", "bd-a1b2.3")),
    ("/orchestrator status", Command("status")),
    ("/orchestrator retry", Command("unknown")),
    ("/orchestrator retry bd-7 --reset-branch", Command("retry", "bd-7", reset_branch=True)),
    ("/orchestrator retry bd-7 --reset", Command("unknown")),
    ("/orchestrator retry --reset-branch bd-7", Command("unknown")),
    ("/orchestrator retry $(id)", Command("unknown")),
    ("/orchestrator run now", Command("unknown")),
    ("/orchestrator RUN", Command("unknown")),
    ("/orchestratorrun", None),
    ("run /orchestrator run", None),
    ("```\n/orchestrator run\n```\n/orchestrator stop", Command("stop")),
    ("", None),
])
def test_commands(body: str, expected: Command | None) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize("text,data,prop", [
    ("plain", "plain", "plain"),
    ("100%", "100%25", "100%25"),
    ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
    ("x::y,z", "x::y,z", "x%3A%3Ay%2Cz"),
    ("%0A", "%250A", "%250A"),
])
def test_workflow_command_escaping_follows_the_runner(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


@given(st.text(), st.text())
def test_a_workflow_command_is_one_line_whose_header_no_value_can_change(title: str,
                                                                        message: str) -> None:
    line = workflow_command("error", message, title=title)
    assert "\n" not in line and "\r" not in line
    header, _, rest = line[2:].partition("::")
    assert header == ("error" if not title else f"error title={escape_property(title)}")
    assert rest == escape_data(message)


def test_environment_is_read_from_the_runner_variables() -> None:
    env = ActionsEnv.from_environ({
        "GITHUB_API_URL": "http://127.0.0.1:9/", "GITHUB_SERVER_URL": "https://ghe.example",
        "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "5", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKFLOW_REF": "o/r/.github/workflows/loop.yml@refs/heads/dev"})
    assert env.api_url == "http://127.0.0.1:9" and env.in_actions
    assert env.run_url == "https://ghe.example/o/r/actions/runs/5"
    assert env.workflow_file == "loop.yml"


@pytest.mark.parametrize("size", [10, 10_000])
def test_the_status_comment_fits_githubs_limit_at_any_size(size: int) -> None:
    tasks = {r["id"]: task_from_record(r) for r in many_tasks(size)}
    text = render_fitting(tasks, header=["Cycle **1**"])
    assert len(text) < COMMENT_LIMIT - 1_000
    assert f"| {size} |" in text  # the counts always stay
    if size == 10:
        assert text == render_status(tasks, header=["Cycle **1**"])  # nothing cut when it fits
    else:
        assert re.search(r"_… and \d+ more tasks not shown\._", text)
