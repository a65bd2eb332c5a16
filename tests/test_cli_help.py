"""The help a newcomer reads: every option says what it is, valid values are listed, internal
commands stay out of the top-level list, and `run --help` gives the exit codes."""
from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from orchestrator.cli import build_parser
from orchestrator.coordinator import loop
from orchestrator.githooks import HOOK_NAMES
from orchestrator.tasks.model import IssueType, Status

NOT_BD = {"plan", "cycle", "agent", "phase start", "logs list"}  # commands bd does not have


def parsers(parser: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}".strip())


def test_every_option_and_argument_has_a_one_line_help() -> None:
    missing = [f"{path or 'orchestrator'}: {action.option_strings or action.dest}"
               for path, parser in parsers(build_parser()) for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
               and not (action.help or "").strip()]
    assert missing == []


def test_json_says_bds_shapes_only_where_bd_has_the_command() -> None:
    for path, parser in parsers(build_parser()):
        (json_help,) = [a.help for a in parser._actions if "--json" in a.option_strings] or [None]
        if json_help is not None:
            assert ("bd's shapes" in json_help) == (path not in NOT_BD), path


@pytest.mark.parametrize(("command", "values"), [
    (["task", "update"], list(Status)), (["task", "create"], list(IssueType)), (["ready"], list(IssueType))])
def test_valid_statuses_and_types_are_listed(command: list[str], values: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # the whole list in one place, and where bd's custom values come from
    assert f"one of {', '.join(values)}" in text and "custom in .beads/config.yaml" in text


def test_internal_commands_are_hidden_and_hooks_has_sub_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    listed = capsys.readouterr().out
    assert "\n    hooks " in listed and "\n    hook " not in listed and "merge-driver" not in listed
    names = dict(parsers(build_parser()))
    assert {"hook", "merge-driver", "hooks install", "hooks uninstall", "hooks status"} <= set(names)


def test_hook_help_names_every_hook_installed() -> None:
    (name,) = [a for a in dict(parsers(build_parser()))["hook"]._actions if a.dest == "hook_name"]
    assert (name.help or "").split(" | ") == list(HOOK_NAMES)


def test_run_help_gives_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    text = capsys.readouterr().out
    codes = {loop.EXIT_DRAINED, loop.EXIT_ERROR, loop.EXIT_USER, loop.EXIT_HUMAN,
             loop.EXIT_INTERRUPTED, loop.EXIT_TERMINATED}
    assert {int(c) for c in re.findall(r"^  (\d+) ", text, re.M)} == codes


def test_status_help_names_phases_escalations_and_the_kill_switch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "phases" in text and "escalated" in text and "kill switch" in text
