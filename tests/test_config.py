"""`.orchestrator.yml`: defaults, validation errors naming key and line, and the docs."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import (
    BdConfig,
    Config,
    config_for_repo,
    iter_keys,
    load_config,
)
from orchestrator.errors import UserError

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / ".orchestrator.yml"
    path.write_text(text)
    return load_config(path)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert config_for_repo(tmp_path, None) == Config()
    with pytest.raises(UserError, match="config file not found"):
        config_for_repo(tmp_path, str(tmp_path / "nope.yml"))
    assert load(tmp_path, "") == Config()
    assert load(tmp_path, "# only a comment\n") == Config()


def test_values_are_read(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
store: bd
bd:
  actor: ci-bot
  push: false
jsonl:
  prefix: web
agent:
  profile: command
  command: [python, agent.py, "{task_id}"]
dispatch:
  max_parallel: 4
  max_cost_usd: 12
  exclude_types: [epic, chore]
""")
    assert cfg.store == "bd"
    assert cfg.bd == BdConfig(actor="ci-bot", push=False)
    assert cfg.jsonl.prefix == "web"
    assert cfg.agent.command == ["python", "agent.py", "{task_id}"]
    assert (cfg.dispatch.max_parallel, cfg.dispatch.max_cost_usd) == (4, 12)
    assert cfg.dispatch.exclude_types == ["epic", "chore"]
    assert cfg.agent.timeout_minutes == 60  # untouched keys keep their defaults


def test_timeouts_take_fractions_of_a_minute(tmp_path: Path) -> None:
    cfg = load(tmp_path, "agent:\n  timeout_minutes: 0.5\n  idle_timeout_minutes: 2\n")
    assert (cfg.agent.timeout_minutes, cfg.agent.idle_timeout_minutes) == (0.5, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("store: jsonl\nagent:\n  modle: x\n",
     ":3: unknown key 'agent.modle' (known: profile, command, model, "),
    ("storage: bd\n", ":1: unknown key 'storage' (known: store, bd, jsonl, agent, dispatch, github"),
    ("dispatch:\n  max_parallel: two\n", ':2: dispatch.max_parallel must be an integer, got "two"'),
    ("dispatch:\n  max_parallel: true\n", ":2: dispatch.max_parallel must be an integer, got true"),
    ("bd:\n  push: 1\n", ":2: bd.push must be true/false, got 1"),
    ("store: sqlite\n", ':1: store must be one of auto, bd, jsonl, got "sqlite"'),
    ("agent:\n  command: [a, 1]\n", ":2: agent.command must be a list of strings or null, got [\"a\", 1]"),
    ("agent:\n  budgets: high\n", ':2: agent.budgets must be a list of strings, got "high"'),
    ("dispatch:\n  max_parallel: 0\n", ":2: dispatch.max_parallel must be at least 1, got 0"),
    ("agent:\n  timeout_minutes: 0\n", ":2: agent.timeout_minutes must be at least 0.05, got 0"),
    ("agent:\n  idle_timeout_minutes: soon\n", ':2: agent.idle_timeout_minutes must be a number, got "soon"'),
    ("dispatch:\n  max_cost_usd: lots\n", ':2: dispatch.max_cost_usd must be a number or null, got "lots"'),
    ("\n\nagent: 3\n", ":3: agent must be a mapping of keys, got 3"),
    ("store: [a\n", ":2: invalid YAML: expected ',' or ']'"),
    ("- a\n", ": the file must be a mapping of keys"),
])
def test_errors_name_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as e:
        load(tmp_path, text)
    assert str(e.value).startswith(str(tmp_path / ".orchestrator.yml") + message)
    assert "\n" not in str(e.value)


def test_cli_reports_config_errors_on_one_line(tmp_path: Path) -> None:
    (tmp_path / ".orchestrator.yml").write_text("github:\n  mentions: [a]\n")
    out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path), "ready"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.startswith(f"orchestrator: {tmp_path / '.orchestrator.yml'}:2: unknown key 'github.mentions'")
    assert out.stderr.count("\n") == 1


def _doc_default(value: object) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(map(str, value)) + "]`"
    return f"`{value}`"


def test_every_key_is_documented_with_its_default() -> None:
    doc = DOC.read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"`[a-z_.]+`", cells[0]):
            rows[cells[0].strip("`")] = cells[2]  # key | type | default | meaning
    keys = dict(iter_keys())
    assert sorted(rows) == sorted(keys), "docs/configuration.md tables and config.py disagree"
    for key, default in keys.items():
        assert rows[key] == _doc_default(default), key


def test_documented_example_file_is_the_defaults(tmp_path: Path) -> None:
    example = DOC.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    assert load(tmp_path, example) == Config()
