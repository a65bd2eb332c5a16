"""Agent profiles: the exact argv and environment each CLI gets, and the budget ladder."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from orchestrator.agents.profiles import (
    CLAUDE_QUIET_ENV,
    build_launch,
    claude_budget,
    fill_template,
    is_budget_model,
    profile_for_task,
)
from orchestrator.config import AgentConfig, Config
from orchestrator.errors import UserError
from orchestrator.tasks.model import task_from_record
from support.repo import task_record


def cfg(**agent: object) -> Config:
    return Config(agent=dataclasses.replace(AgentConfig(), **agent))


def launch(config: Config, profile: str, budget: str = "high", prompt: str = "Do it."):
    return build_launch(profile, config, prompt_text=prompt, prompt_file=Path("/l/prompt.md"),
                        task_id="t-1", log_dir=Path("/l"), attempt=2, budget=budget, workdir=Path("/w"))


def test_claude_default_invocation() -> None:
    got = launch(cfg(max_turns=40, allowed_tools=["Edit", "Bash(git *)"]), "claude")
    assert got.argv == ("claude", "-p", "Do it.", "--output-format", "stream-json", "--verbose",
                        "--model", "opus", "--max-turns", "40", "--permission-mode", "bypassPermissions",
                        "--effort", "high", "--allowedTools", "Edit", "Bash(git *)")
    assert got.stream == "claude" and got.budget == "high"
    for key, value in CLAUDE_QUIET_ENV.items():
        assert got.env[key] == value
    assert ("IS_SANDBOX" in got.env) == (os.geteuid() == 0)


def test_claude_executable_override_and_long_prompt() -> None:
    got = launch(cfg(command=["npx", "-y", "@anthropic-ai/claude-code@2.1.331"]), "claude",
                 prompt="x" * 200_000)
    assert got.argv[:4] == ("npx", "-y", "@anthropic-ai/claude-code@2.1.331", "-p")
    assert "/l/prompt.md" in got.argv[4]


@pytest.mark.parametrize("model,budget,argv,env", [
    ("opus", "xhigh", ["--effort", "xhigh"], {}),
    ("claude-opus-4-6", "max", ["--effort", "max"], {}),
    ("claude-sonnet-4-5", "high", [], {}),
    ("claude-sonnet-4-5-20250929", "max", [], {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "64000"}),
    ("claude-sonnet-4-5", "low", [], {"MAX_THINKING_TOKENS": "4000"}),
    ("claude-sonnet-4-5", "48k", [], {"MAX_THINKING_TOKENS": "48000", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "48001"}),
    ("claude-opus-4-6", "8000", [], {"MAX_THINKING_TOKENS": "8000", "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000",
                                     "CLAUDE_CODE_DISABLE_ADAPTIVE_THINKING": "1"}),
    ("opus", "", [], {}),
])
def test_claude_budget_ladder(model: str, budget: str, argv: list[str], env: dict[str, str]) -> None:
    assert claude_budget(budget, model) == (argv, env)


def test_budget_models() -> None:
    assert is_budget_model("claude-opus-4-1-20250805") and is_budget_model("haiku")
    assert not is_budget_model("claude-opus-4-7") and not is_budget_model("sonnet")


def test_bad_budget_names_the_key() -> None:
    with pytest.raises(UserError, match="agent.budgets"):
        launch(cfg(), "claude", budget="ultra")
    for alias in ("opus", "sonnet"):  # adaptive aliases ignore a token count (test_claude_e2e)
        with pytest.raises(UserError, match="agent.budgets.*no effect on model"):
            launch(cfg(model=alias), "claude", budget="16000")
    with pytest.raises(UserError, match="agent.budgets"):
        launch(cfg(), "codex", budget="16000")


def test_codex_invocation() -> None:
    got = launch(cfg(), "codex", budget="max")
    assert got.argv == ("codex", "exec", "--json", "--skip-git-repo-check", "-s", "workspace-write",
                        "-c", "model_reasoning_effort=xhigh", "Do it.")
    got = launch(cfg(model="gpt-5-codex", codex_sandbox="read-only"), "codex", budget="medium")
    assert got.argv[5:] == ("read-only", "-c", "model_reasoning_effort=medium", "-m", "gpt-5-codex", "Do it.")
    assert got.stream == "codex"


def test_command_profile_fills_placeholders() -> None:
    got = launch(cfg(command=["my-agent", "--file={prompt_file}", "{task_id}", "{attempt}", "{budget}",
                              '{"json": 1}']), "command")
    assert got.argv == ("my-agent", "--file=/l/prompt.md", "t-1", "2", "high", '{"json": 1}')
    assert got.stream == "auto" and got.env["ORCHESTRATOR_BUDGET"] == "high"
    with pytest.raises(UserError, match=r"agent.command: unknown placeholder \{promptfile\}"):
        fill_template(["x", "{promptfile}"], {"prompt_file": "p"})
    with pytest.raises(UserError, match="agent.command: required"):
        launch(cfg(), "command")


def test_profile_from_label_flag_and_config() -> None:
    task = task_from_record(task_record("t-1", labels=["agent:codex", "backend"]))
    plain = task_from_record(task_record("t-2"))
    assert profile_for_task(task, cfg()) == "codex"
    assert profile_for_task(task, cfg(), "command") == "command"
    assert profile_for_task(plain, cfg(profile="command")) == "command"
    with pytest.raises(UserError, match="label agent:gpt"):
        profile_for_task(task_from_record(task_record("t-3", labels=["agent:gpt"])), cfg())


def test_agent_command_belongs_to_the_configured_profile_only() -> None:
    """A task's agent:<profile> label picks another CLI: it must not inherit the configured
    profile's agent.command (aider's argv with claude's flags appended)."""
    aider = cfg(profile="command", command=["aider", "--message-file", "{prompt_file}"])
    assert launch(aider, "command").argv == ("aider", "--message-file", "/l/prompt.md")
    assert launch(aider, "claude").argv[:2] == ("claude", "-p")
    assert launch(aider, "codex").argv[:2] == ("codex", "exec")
    npx_claude = cfg(command=["npx", "-y", "@anthropic-ai/claude-code@2.1.331"])
    assert launch(npx_claude, "claude").argv[:4] == ("npx", "-y", "@anthropic-ai/claude-code@2.1.331", "-p")
    assert launch(npx_claude, "codex").argv[:2] == ("codex", "exec")


def test_command_prompt_placeholder_is_capped_like_claudes() -> None:
    """One argv word is capped at 128 KiB on Linux: a longer {prompt} would make the launch
    fail with E2BIG; it becomes the instruction to read the prompt file instead."""
    got = launch(cfg(command=["my-agent", "--message", "{prompt}"]), "command", prompt="x" * 200_000)
    assert got.argv[:2] == ("my-agent", "--message") and "/l/prompt.md" in got.argv[2]
    assert launch(cfg(command=["my-agent", "{prompt}"]), "command").argv == ("my-agent", "Do it.")
