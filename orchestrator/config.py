"""`.orchestrator.yml`: every key optional, unknown keys and wrong types are errors that name
the key and its line. The sections are frozen dataclasses; a field's metadata carries its
allowed values and lower bound, so validation is driven by the declarations below and
docs/configuration.md documents the same keys.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from orchestrator.errors import UserError

CONFIG_NAME = ".orchestrator.yml"
STOP_FILE = ".beads/STOP"  # the kill switch, in the repository root: nothing new starts


def _opt(default: Any, *, choices: tuple[str, ...] | None = None, minimum: float | None = None) -> Any:
    meta = {"choices": choices, "minimum": minimum}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class BdConfig:
    path: str = _opt("bd")                # the bd executable
    actor: str = _opt("orchestrator")     # --actor for the coordinator's own writes
    bootstrap: bool = _opt(True)          # `bd bootstrap --yes` before reading, in CI
    push: bool = _opt(True)               # `bd dolt push` after writing, in CI


@dataclass(frozen=True)
class JsonlConfig:
    path: str = _opt(".beads/issues.jsonl")
    prefix: str | None = _opt(None)       # ID prefix for new tasks; default: the file's own


@dataclass(frozen=True)
class AgentConfig:
    profile: str = _opt("claude", choices=("claude", "codex", "command"))
    command: list[str] | None = _opt(None)
    model: str = _opt("opus")
    # minutes, fractions allowed (0.5 = 30 s); the floor keeps a typo from killing every run at once
    timeout_minutes: float = _opt(60, minimum=0.05)
    idle_timeout_minutes: float = _opt(15, minimum=0.05)
    budgets: list[str] = _opt(["high", "xhigh", "max"])
    max_turns: int | None = _opt(None, minimum=1)
    permission_mode: str = _opt("bypassPermissions")
    allowed_tools: list[str] = _opt([])
    context_patterns: list[str] = _opt([])   # extra regexes that mean "ran out of context"
    log_max_mb: int = _opt(50, minimum=1)
    codex_sandbox: str = _opt("workspace-write", choices=("read-only", "workspace-write",
                                                          "danger-full-access"))
    heartbeat_seconds: int = _opt(60, minimum=1)   # monitor.log heartbeat interval
    kill_grace_seconds: int = _opt(10, minimum=0)  # TERM -> KILL wait when ending a run
    # Prompts: the repo's template overrides, and how a task's kind is recognised (a
    # `kind:<kind>` label wins; else the first list, in this order, with an entry matching:
    # a case-insensitive title regex, `label:NAME` or `type:NAME`; else implementation).
    prompt_dir: str = _opt("prompt")
    kind_plan_features: list[str] = _opt(["^plan features", "^bootstrap", "label:bootstrap"])
    kind_plan_tasks: list[str] = _opt(["^plan tasks", "label:plan-tasks"])
    kind_regression: list[str] = _opt(["regression"])
    kind_verify: list[str] = _opt(["e2e", "end-to-end", "^verify", "verification"])


@dataclass(frozen=True)
class DispatchConfig:
    max_parallel: int = _opt(1, minimum=1)
    max_attempts: int = _opt(3, minimum=1)
    max_handoffs: int = _opt(3, minimum=0)
    on_escalation: str = _opt("stop", choices=("stop", "continue"))
    max_cycles: int = _opt(100, minimum=1)
    stall_cycles: int = _opt(3, minimum=1)
    max_cost_usd: float | None = _opt(None)
    exclude_types: list[str] = _opt(["epic"])


@dataclass(frozen=True)
class GithubConfig:
    status_target: str = _opt("auto")          # auto | issue:N | pr:N
    mention: list[str] = _opt([])
    escalation_label: str = _opt("needs-human")
    tracking_label: str = _opt("orchestrator")  # finds (and marks) the auto tracking issue
    pause_label: str = _opt("orchestrator-paused")  # on the tracking issue/PR: no re-dispatch
    workflow: str | None = _opt(None)          # file dispatched; default: the running workflow
    state_file: str = _opt(".beads/orchestrator-github.json")
    allowed_bots: list[str] = _opt([])         # bot accounts whose /orchestrator comments count


@dataclass(frozen=True)
class GitConfig:
    worktree_root: str | None = _opt(None)     # task worktrees; default: inside the git directory
    protected_branches: list[str] = _opt(["main", "master"])  # agents may not push to these
    push_retries: int = _opt(3, minimum=0)     # fetch-rebase-push retries on a rejected push
    tamper_paths: list[str] = _opt([])         # extra paths an agent must not change


@dataclass(frozen=True)
class Config:
    store: str = _opt("auto", choices=("auto", "bd", "jsonl"))
    bd: BdConfig = field(default_factory=BdConfig)
    jsonl: JsonlConfig = field(default_factory=JsonlConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    github: GithubConfig = field(default_factory=GithubConfig)
    git: GitConfig = field(default_factory=GitConfig)


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if origin is list:
        item = typing.get_args(hint)[0]
        plural = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
        return f"a list of {plural.get(item, _describe(item))}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            type(None): "null"}.get(hint, getattr(hint, "__name__", str(hint)))


def _line(node: Any, key: str) -> int | None:
    try:
        return node.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return None


def _as_yaml(value: Any) -> str:
    """A value as the YAML that gave it: `true`, not Python's `True`."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _build(cls: type, node: Any, where: str, prefix: str) -> Any:
    if node is None:
        return cls()
    if not isinstance(node, dict):
        raise UserError(f"{where}: {prefix.rstrip('.') or 'the file'} must be a mapping of keys")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in node.items():
        line = _line(node, key)
        at = f"{where}:{line}" if line else where
        name = f"{prefix}{key}"
        if key not in fields:
            raise UserError(f"{at}: unknown key {name!r} (known: {', '.join(fields)})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if value is not None and not isinstance(value, dict):
                raise UserError(f"{at}: {name} must be a mapping of keys, got {_as_yaml(value)}")
            kwargs[key] = _build(typing.cast(type, hint), value, where, f"{name}.")
            continue
        if not _type_ok(value, hint):
            raise UserError(f"{at}: {name} must be {_describe(hint)}, got {_as_yaml(value)}")
        meta = fields[key].metadata
        if meta.get("choices") and value not in meta["choices"]:
            raise UserError(f"{at}: {name} must be one of {', '.join(meta['choices'])}, got {_as_yaml(value)}")
        if meta.get("minimum") is not None and value is not None and value < meta["minimum"]:
            raise UserError(f"{at}: {name} must be at least {meta['minimum']}, got {_as_yaml(value)}")
        kwargs[key] = list(value) if isinstance(value, list) else value
    return cls(**kwargs)


def load_config(path: str | Path | None, *, required: bool = False) -> Config:
    """Read and validate a config file; a missing optional file gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise UserError(f"{path}: config file not found") from None
        return Config()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 ({e.reason})") from None
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}{line}: invalid YAML: {problem}") from None
    return _build(Config, data, str(path), "")


def find_root(start: Path) -> Path:
    """The repository root seen from `start`, found the way git finds it: the nearest of `start`
    and its parents holding a `.git` (a directory, or a file in a worktree); `start` itself when
    none does (a queue outside git). Plain file checks, no git process: every command runs this first."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def config_for_repo(repo: Path, explicit: str | None) -> Config:
    if explicit:
        return load_config(explicit, required=True)
    return load_config(repo / CONFIG_NAME)


def iter_keys(cls: type = Config, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, default) for every config key: the docs test checks each is documented."""
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out += iter_keys(hints[f.name], f"{prefix}{f.name}.")
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out.append((f"{prefix}{f.name}", default))
    return out
