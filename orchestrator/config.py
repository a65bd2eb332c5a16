"""`.orchestrator.yml`: every key optional, unknown keys and wrong types are errors that name
the key and its line. The sections are frozen dataclasses; a field's metadata carries its
allowed values and bounds, so validation is driven by the declarations below and
docs/configuration.md documents the same keys.

The file is untrusted input (a pull request can change it): it is read within a size limit,
composed by ruamel.yaml into nodes, and only plain YAML values (strings, numbers, booleans,
null, lists, mappings) are built from those nodes here, each with its line, within a depth and
count limit. No tag builds an object, a number too long or not finite is an error naming its
line, and an alias cannot multiply the document.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestrator.errors import UserError
from orchestrator.fileio import read_capped_text

CONFIG_NAME = ".orchestrator.yml"
MAX_CONFIG_BYTES = 256 * 1024   # a complete file with every key is under 2 KB
MAX_DEPTH = 16                  # the schema is two levels deep
MAX_VALUES = 20_000             # values built, aliases counted each time they are used
DEFAULT_MAXIMUM = 1_000_000     # the upper bound of a number without its own
STOP_FILE = ".beads/STOP"  # the kill switch, in the repository root: nothing new starts


def _opt(default: Any, *, choices: tuple[str, ...] | None = None, minimum: float | None = None,
         maximum: float = DEFAULT_MAXIMUM, regex: bool = False) -> Any:
    meta = {"choices": choices, "minimum": minimum, "maximum": maximum, "regex": regex}
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
    timeout_minutes: float = _opt(60, minimum=0.05, maximum=525_600)   # a year
    idle_timeout_minutes: float = _opt(15, minimum=0.05, maximum=525_600)
    budgets: list[str] = _opt(["high", "xhigh", "max"])
    max_turns: int | None = _opt(None, minimum=1)
    permission_mode: str = _opt("bypassPermissions")
    allowed_tools: list[str] = _opt([])
    context_patterns: list[str] = _opt([], regex=True)   # extra regexes: "ran out of context"
    log_max_mb: int = _opt(50, minimum=1, maximum=1 << 20)
    codex_sandbox: str = _opt("workspace-write", choices=("read-only", "workspace-write",
                                                          "danger-full-access"))
    heartbeat_seconds: int = _opt(60, minimum=1, maximum=86_400)   # monitor.log heartbeat interval
    kill_grace_seconds: int = _opt(10, minimum=0, maximum=3_600)   # TERM -> KILL wait when ending a run
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
    max_parallel: int = _opt(1, minimum=1, maximum=1_000)
    max_attempts: int = _opt(3, minimum=1)
    max_handoffs: int = _opt(3, minimum=0)
    on_escalation: str = _opt("stop", choices=("stop", "continue"))
    max_cycles: int = _opt(100, minimum=1)
    stall_cycles: int = _opt(3, minimum=1)
    max_cost_usd: float | None = _opt(None, minimum=0)
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
    push_retries: int = _opt(3, minimum=0, maximum=100)   # fetch-rebase-push retries on a rejected push
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


# -- reading the YAML: nodes to plain values, each mapping knowing its keys' lines -------------

class _Mapping(dict):
    """A YAML mapping as a dict, with the 1-based line of each key."""

    line_of: dict[Any, int]


@dataclass(frozen=True)
class _Tagged:
    """A value of a type no key takes (a timestamp, binary data, a custom `!tag`): kept only to
    be named in the error."""

    tag: str
    text: str


@dataclass(frozen=True)
class _Hashable:
    """A list or mapping used as a key (`? [a, b]`): never a known key."""

    shown: str


_YAML_TAG = "tag:yaml.org,2002:"
_KEEP = object()


class _Builder:
    def __init__(self, yaml: YAML, where: str) -> None:
        self.yaml = yaml
        self.where = where
        self.count = 0
        self.key_line = 1  # the key being built: an alias's node has the line of its anchor

    def fail(self, node: Node, message: str) -> UserError:
        return UserError(f"{self.where}:{node.start_mark.line + 1}: {message}")

    def build(self, node: Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise UserError(f"{self.where}:{self.key_line}: more than {MAX_VALUES} values "
                            "(an alias used too often?)")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
        tag = str(getattr(node.tag, "value", node.tag))
        if isinstance(node, ScalarNode):
            return self.scalar(node, tag)
        if isinstance(node, SequenceNode):
            items = [self.build(item, depth + 1) for item in node.value]
            return items if tag == _YAML_TAG + "seq" else _Tagged(tag, _show(items))
        if isinstance(node, MappingNode):
            return self.mapping(node, tag, depth)
        raise self.fail(node, f"unsupported YAML node {type(node).__name__}")

    def scalar(self, node: ScalarNode, tag: str) -> Any:
        kind = tag.removeprefix(_YAML_TAG)
        text = str(node.value)
        if kind == "str":
            return text
        if kind == "null":
            return None
        if kind not in ("bool", "int", "float"):
            return _Tagged(tag, text)
        if kind == "int" and len(text) > 30:
            raise self.fail(node, f"number {_clip(text, 20)} has {len(text)} characters: too long")
        value = _number(kind, text.strip())
        if value is None:
            raise self.fail(node, f"invalid {kind} {_show(text, 40)}")
        return value

    def mapping(self, node: MappingNode, tag: str, depth: int) -> Any:
        out = _Mapping()
        out.line_of = {}
        merged: list[Any] = []
        for key_node, value_node in node.value:
            key_tag = str(getattr(key_node.tag, "value", key_node.tag))
            if key_tag == _YAML_TAG + "merge":
                merged.append(self.build(value_node, depth + 1))
                continue
            key = self.build(key_node, depth + 1)
            if isinstance(key, (list, dict)):
                key = _Hashable(_show(key))
            elif isinstance(key, float) and math.isnan(key):
                key = _Hashable(".nan")
            if key in out:
                raise self.fail(key_node, f"duplicate key {_show(key)}")
            self.key_line = key_node.start_mark.line + 1
            out[key] = self.build(value_node, depth + 1)
            out.line_of[key] = key_node.start_mark.line + 1
        for source in merged:  # `<<: *defaults`: keys not set here come from the merged mapping(s)
            for part in source if isinstance(source, list) else [source]:
                if not isinstance(part, _Mapping):
                    raise self.fail(node, f"a merge key (<<) needs a mapping, got {_show(part)}")
                for key, value in part.items():
                    if key not in out:
                        out[key] = value
                        out.line_of[key] = part.line_of.get(key, node.start_mark.line + 1)
        return out if tag == _YAML_TAG + "map" else _Tagged(tag, _show(dict(out)))


def _number(kind: str, text: str) -> bool | int | float | None:
    """A YAML 1.2 bool, int or float from its text, or None. Done here rather than by
    ruamel.yaml's constructors, which raise IndexError and the like on an explicit `!!int`
    with no digits."""
    if kind == "bool":
        return {"true": True, "false": False}.get(text.lower())
    sign = -1 if text.startswith("-") else 1
    digits = (text[1:] if text[:1] in "+-" else text).replace("_", "")
    if kind == "int":
        base = {"0x": 16, "0o": 8, "0b": 2}.get(digits[:2].lower(), 10)
        body = digits[2:] if base != 10 else digits
        if not body or not all(ch in "0123456789abcdefABCDEF"[:base + 6 * (base == 16)] for ch in body):
            return None
        return sign * int(body, base)
    special = {".inf": math.inf, ".nan": math.nan}.get(digits.lower())
    if special is not None:
        return sign * special
    try:
        return sign * float(digits) if digits and digits[0] not in "+-" else None
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, on one line: control characters are shown escaped."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text if text.isprintable() else "".join(
        ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _show(value: Any, limit: int = 80) -> str:
    """A value as the user wrote it in YAML (`true`, `null`, `[a, 1]`), not as Python prints it."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, float) and not math.isfinite(value):
        text = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        text = json.dumps(value[: limit + 1], ensure_ascii=False)  # quoted, escaped; _clip shortens
    elif isinstance(value, _Tagged):
        text = f"{value.tag.replace(_YAML_TAG, '!!')} {value.text}"
    elif isinstance(value, _Hashable):
        text = value.shown
    elif isinstance(value, list):
        text = "[" + ", ".join(_show(v, limit) for v in value[:10]) + (", …" if len(value) > 10 else "") + "]"
    elif isinstance(value, dict):
        items = list(value.items())
        text = "{" + ", ".join(f"{_show(k, limit)}: {_show(v, limit)}" for k, v in items[:10]) \
            + (", …" if len(items) > 10 else "") + "}"
    else:
        text = repr(value)
    return _clip(text, limit)


_SIGNIFICANT = re.compile(r"[\[\]{}'\"#\n\\]")


def _too_deep_line(text: str) -> int | None:
    """The first line where flow brackets (`[`, `{`) nest past MAX_DEPTH, outside quotes and
    comments. ruamel.yaml's scanner slows down with every open bracket (20,000 of them took
    seconds before it ran out of stack), so this is checked before it reads anything."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth, quote, line, skip_to = 0, "", 1, -1
    for m in _SIGNIFICANT.finditer(text):
        ch, at = m.group(), m.start()
        if ch == "\n":
            line += 1
            if quote == "#":
                quote = ""
            continue
        if at <= skip_to or quote == "#":
            continue
        if quote:
            if ch == "\\" and quote == '"':
                skip_to = at + 1  # the escaped character
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            if at == 0 or text[at - 1] in " \t":
                quote = "#"  # a comment runs to the end of the line
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return None


def parse_yaml(text: str, where: str) -> Any:
    """A YAML document as plain values (mappings are `_Mapping`s with lines); None if empty."""
    deep = _too_deep_line(text)
    if deep is not None:
        raise UserError(f"{where}:{deep}: nested more than {MAX_DEPTH} levels deep")
    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():  # a reused anchor is valid YAML (the last one counts)
            warnings.simplefilter("ignore")
            node = yaml.compose(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{where}{line}: invalid YAML: {_clip(str(problem), 200)}") from None
    except RecursionError:  # block nesting (by indentation) deep enough to exhaust the stack
        raise UserError(f"{where}: nested too deeply for the YAML reader") from None
    if node is None:
        return None
    return _Builder(yaml, where).build(node)


# -- checking the values against the declarations ---------------------------------------------

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


def _check_value(name: str, value: Any, hint: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """What is wrong with one value, or None."""
    if not _type_ok(value, hint):
        return f"{name} must be {_describe(hint)}, got {_show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} must be a finite number, got {_show(value)}"
    if meta.get("choices") and value not in meta["choices"]:
        return f"{name} must be one of {', '.join(meta['choices'])}, got {_show(value)}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if meta.get("minimum") is not None and value < meta["minimum"]:
            return f"{name} must be at least {meta['minimum']}, got {_show(value)}"
        if value > meta["maximum"]:
            return f"{name} must be at most {meta['maximum']}, got {_show(value)}"
    if meta.get("regex"):
        for i, pattern in enumerate(value or ()):
            try:
                re.compile(pattern)
            except (re.error, RecursionError, OverflowError) as e:
                return f"{name}[{i}] is not a valid regular expression ({e}): {_show(pattern)}"
    return None


def _build(cls: type, node: Any, where: str, prefix: str, line: int = 1) -> Any:
    if node is None:
        return cls()
    if not isinstance(node, _Mapping):
        what = prefix.rstrip(".") or "the file"
        raise UserError(f"{where}:{line}: {what} must be a mapping of keys, got {_show(node)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in node.items():
        at = f"{where}:{node.line_of.get(key, line)}"
        if not isinstance(key, str) or key not in fields:
            shown = f"{prefix}{key}" if isinstance(key, str) else f"{prefix}{_show(key)}"
            raise UserError(f"{at}: unknown key {shown!r} (known: {', '.join(fields)})")
        name = f"{prefix}{key}"
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if value is not None and not isinstance(value, _Mapping):
                raise UserError(f"{at}: {name} must be a mapping of keys, got {_show(value)}")
            kwargs[key] = _build(hint, value, where, f"{name}.", node.line_of.get(key, line))
            continue
        problem = _check_value(name, value, hint, fields[key].metadata)
        if problem:
            raise UserError(f"{at}: {problem}")
        kwargs[key] = list(value) if isinstance(value, list) else value
    return cls(**kwargs)


def parse_config(text: str, where: str) -> Config:
    """Validate a config file's text; `where` names it in errors."""
    return _build(Config, parse_yaml(text, where), where, "")


def load_config(path: str | Path | None, *, required: bool = False) -> Config:
    """Read and validate a config file; a missing optional file gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not required:
        text = read_capped_text(path, MAX_CONFIG_BYTES, "config file", missing_ok=True)
        if text is None:
            return Config()
    else:
        text = read_capped_text(path, MAX_CONFIG_BYTES, "config file")
    return parse_config(text, str(path))


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
