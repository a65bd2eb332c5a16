"""Agent profiles: how to call each coding-agent CLI, and how its thinking budget rises per attempt.

- `claude` (default): `claude -p PROMPT --output-format stream-json --verbose` (stream-json needs
  --verbose in print mode), model, max turns, permission mode, allowed
  tools; stdin is closed by the runner; the non-essential-traffic variables are set.
- `codex`: `codex exec --json --skip-git-repo-check -s SANDBOX -c model_reasoning_effort=E PROMPT`
  (`--full-auto` is gone in 0.169).
- `command`: any argv template (`agent.command`) with placeholders, for aider, gemini, opencode,
  goose or a team's own script; its stream format is sniffed (claude/codex/gemini JSON or text).

A task can pick its profile with a label `agent:<profile>` (e.g. `agent:codex`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.tasks.model import Task

PROFILES = ("claude", "codex", "command")
LABEL_PREFIX = "agent:"
PLACEHOLDERS = ("prompt_file", "prompt", "task_id", "log_dir", "attempt", "budget", "model", "workdir")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
CODEX_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")
# Longest prompt passed as one argv word (Linux caps a single argument at 128 KiB); a longer
# prompt is replaced by an instruction to read the prompt file.
MAX_PROMPT_ARG = 100_000

# Claude models that take a thinking *budget* (budget_tokens) rather than adaptive effort:
# Sonnet/Haiku 4.5, Opus <= 4.5, Claude 3.x. The aliases `opus` and
# `sonnet` resolve to adaptive models on current CLIs; `haiku` to Haiku 4.5.
_BUDGET_MODEL = re.compile(r"^(haiku|claude-3[-.].*|claude-(sonnet|opus|haiku)-4(-[0-5])?(-\d{8})?)$")
# Effort words on a budget model: thinking is on at max_tokens-1 by default (31999 at 32000),
# so "high" is the default, lower words cap MAX_THINKING_TOKENS, higher ones raise max_tokens.
_BUDGET_MODEL_EFFORT = {
    "low": {"MAX_THINKING_TOKENS": "4000"},
    "medium": {"MAX_THINKING_TOKENS": "16000"},
    "high": {},
    "xhigh": {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "48000"},
    "max": {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "64000"},
}
CLAUDE_QUIET_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


@dataclass(frozen=True)
class Launch:
    """How to start one agent run."""

    profile: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # added to the agent's environment
    stream: str = "auto"        # claude | codex | auto (sniffed): how outcome/transcript read stdout
    budget: str = ""


def profile_for_task(task: Task, config: Config, override: str | None = None) -> str:
    """An explicit override (`--profile`), else the task's `agent:<profile>` label, else config."""
    name = override
    if not name:
        name = next((label[len(LABEL_PREFIX):] for label in task.labels
                     if label.startswith(LABEL_PREFIX)), None)
    name = name or config.agent.profile
    if name not in PROFILES:
        where = "--profile" if override else f"task {task.id} label {LABEL_PREFIX}{name}"
        raise UserError(f"{where}: unknown agent profile {name!r} (expected {', '.join(PROFILES)})")
    return name


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(words: Sequence[str], values: Mapping[str, str], *, key: str = "agent.command") -> list[str]:
    """Replace `{name}` placeholders in each word; an unknown name is an error naming the key
    (other braces, such as JSON in an argument, are left alone)."""
    out = []
    for word in words:
        def sub(m: re.Match[str], word: str = word) -> str:
            name = m.group(1)
            if name not in values:
                raise UserError(f"{key}: unknown placeholder {{{name}}} in {word!r} "
                                f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
            return values[name]
        out.append(_PLACEHOLDER.sub(sub, word))
    return out


_ADAPTIVE_ALIASES = frozenset({"opus", "sonnet"})


def is_budget_model(model: str) -> bool:
    return bool(_BUDGET_MODEL.match(model.strip().lower()))


def _tokens(budget: str) -> int | None:
    m = re.fullmatch(r"(\d+)(k?)", budget.strip().lower())
    if not m:
        return None
    return int(m.group(1)) * (1000 if m.group(2) else 1)


def claude_budget(budget: str, model: str) -> tuple[list[str], dict[str, str]]:
    """(extra argv, extra env) for a thinking budget:
    effort words -> `--effort` on adaptive models, token settings on budget models;
    a number (`16000`, `32k`) -> MAX_THINKING_TOKENS with room in CLAUDE_CODE_MAX_OUTPUT_TOKENS
    (thinking is capped at max_tokens-1) and adaptive thinking off, which dated adaptive models
    (claude-opus-4-6) honour; the `opus`/`sonnet` aliases do not, so a number is refused there."""
    if not budget:
        return [], {}
    tokens = _tokens(budget)
    if tokens is not None and model.strip().lower() in _ADAPTIVE_ALIASES:
        # claude-code 2.1.331 resolves these aliases to models that ignore MAX_THINKING_TOKENS
        # even with adaptive thinking disabled (tests/test_claude_e2e.py shows the request)
        raise UserError(f"budget {budget!r} (agent.budgets or --budget): a token count has no effect on "
                        f"model {model!r}, which stays adaptive; use low, medium, high, xhigh or max, "
                        f"or name a full model (e.g. claude-opus-4-6) in agent.model")
    if tokens is not None:
        env = {"MAX_THINKING_TOKENS": str(tokens),
               "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(max(32000, tokens + 1))}
        if not is_budget_model(model):
            env["CLAUDE_CODE_DISABLE_ADAPTIVE_THINKING"] = "1"
        return [], env
    if budget not in EFFORT_LEVELS:
        raise UserError(f"budget {budget!r} (agent.budgets or --budget) is not a claude budget "
                        f"(one of {', '.join(EFFORT_LEVELS)} or a token count like 32000)")
    if is_budget_model(model):
        return [], dict(_BUDGET_MODEL_EFFORT[budget])
    return ["--effort", budget], {}


def codex_effort(budget: str) -> str:
    if not budget:
        return ""
    effort = "xhigh" if budget == "max" else budget
    if effort not in CODEX_EFFORTS:
        raise UserError(f"budget {budget!r} (agent.budgets or --budget) is not a codex reasoning effort "
                        f"(one of {', '.join(CODEX_EFFORTS)}, or max)")
    return effort


def _prompt_arg(prompt_text: str, prompt_file: Path) -> str:
    if len(prompt_text.encode()) <= MAX_PROMPT_ARG:
        return prompt_text
    return f"Read the file {prompt_file} and follow the instructions in it exactly."


def _is_claude_alias(model: str) -> bool:
    return model in ("opus", "sonnet", "haiku") or model.startswith("claude")


def build_launch(profile: str, config: Config, *, prompt_text: str, prompt_file: Path,
                 task_id: str, log_dir: Path, attempt: int, budget: str, workdir: Path) -> Launch:
    """The argv and environment for one run of `profile`."""
    agent = config.agent
    values = {"prompt_file": str(prompt_file), "prompt": _prompt_arg(prompt_text, prompt_file),
              "task_id": task_id,
              "log_dir": str(log_dir), "attempt": str(attempt), "budget": budget,
              "model": agent.model, "workdir": str(workdir)}
    # agent.command: the whole argv of the command profile; for claude/codex, what replaces
    # the bare executable (e.g. [npx, -y, "@anthropic-ai/claude-code@2.1.331"]), but only for
    # the configured profile: a task's agent:<profile> label must not run aider with claude's flags
    own = profile == "command" or profile == agent.profile
    prefix = fill_template(agent.command, values) if agent.command and own else []
    if profile == "command":
        if not prefix:
            raise UserError("agent.command: required for the command profile "
                            "(an argv list such as [my-agent, --prompt-file, \"{prompt_file}\"])")
        return Launch(profile, tuple(prefix), {"ORCHESTRATOR_BUDGET": budget}, "auto", budget)
    if profile == "claude":
        argv = prefix or ["claude"]
        argv += ["-p", _prompt_arg(prompt_text, prompt_file),
                 "--output-format", "stream-json", "--verbose", "--model", agent.model]
        if agent.max_turns:
            argv += ["--max-turns", str(agent.max_turns)]
        if agent.permission_mode:
            argv += ["--permission-mode", agent.permission_mode]
        extra, env = claude_budget(budget, agent.model)
        argv += extra
        if agent.allowed_tools:  # variadic: keep it last
            argv += ["--allowedTools", *agent.allowed_tools]
        env.update(CLAUDE_QUIET_ENV)
        # bypassPermissions as root exits 1 unless IS_SANDBOX=1; CI containers
        # often run as root. Only then: IS_SANDBOX also changes the 529 give-up path.
        if agent.permission_mode == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
            env["IS_SANDBOX"] = "1"
        return Launch(profile, tuple(argv), env, "claude", budget)
    if profile == "codex":
        argv = prefix or ["codex"]
        argv += ["exec", "--json", "--skip-git-repo-check", "-s", agent.codex_sandbox]
        effort = codex_effort(budget)
        if effort:
            argv += ["-c", f"model_reasoning_effort={effort}"]
        if agent.model and not _is_claude_alias(agent.model):
            argv += ["-m", agent.model]
        argv.append(_prompt_arg(prompt_text, prompt_file))
        return Launch(profile, tuple(argv), {}, "codex", budget)
    raise UserError(f"unknown agent profile {profile!r} (expected {', '.join(PROFILES)})")
