"""`orchestrator init`: set up a repository for the GitHub workflow. Writes the workflows into
.github/workflows/, a commented .orchestrator.yml when there is none, the .gitignore lines, and
with --prompts the prompt templates into prompt/. Running it again changes nothing; a file that
differs from what init would write (edited by its user, or from an older version) is kept and
its diff printed, unless --force (or, on a terminal, a yes to the question)."""
from __future__ import annotations

import difflib
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from orchestrator.config import CONFIG_NAME, Config
from orchestrator.fileio import write_atomic
from orchestrator.workflows import ACTION, TEMPLATES, workflow_text

WORKFLOW_DIR = Path(".github") / "workflows"
# agent run logs, the status view written beside them, and the JSONL store's lock file
GITIGNORE_LINES = ("logs/", "logs/status.md", ".beads/*.lock")

# The keys a new user is most likely to change, with why; docs/configuration.md has them all.
_CONFIG_KEYS: tuple[tuple[str, str, str], ...] = (
    ("", "store", "auto | bd | jsonl (auto: bd when set up here, else .beads/issues.jsonl)"),
    ("agent", "profile", "claude | codex | command (any CLI: set agent.command)"),
    ("agent", "model", "passed to the agent CLI"),
    ("agent", "timeout_minutes", "one agent run; the workflow's agent job gets 10 more"),
    ("dispatch", "max_parallel", "agents at once, across all workflow runs"),
    ("dispatch", "max_attempts", "tries before a task waits for a human"),
    ("dispatch", "on_escalation", "stop | continue: keep draining other tasks after an escalation"),
    ("github", "status_target", "auto | issue:N | pr:N: where the status comment lives"),
    ("github", "mention", "people alerted when a task needs a human, e.g. [octocat]"),
)


def config_template() -> str:
    """A commented .orchestrator.yml with the defaults of the keys above (valid as it is)."""
    defaults = Config()
    root = CommentedMap()
    for section, key, why in _CONFIG_KEYS:
        owner = defaults if not section else getattr(defaults, section)
        value = getattr(owner, key)
        if section:
            node = root.setdefault(section, CommentedMap())
        else:
            node = root
        node[key] = list(value) if isinstance(value, list) else value
        node.yaml_add_eol_comment(why, key, column=26)
    out = io.StringIO()
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(root, out)
    head = ("# beads-orchestrator configuration (written by `orchestrator init`). Every key is\n"
            "# optional; the values below are the defaults. All keys: docs/configuration.md\n")
    return head + out.getvalue()


@dataclass(frozen=True)
class Planned:
    path: Path          # relative to the repository
    text: str           # what init writes there


def planned_files(*, action: str, prompts: bool) -> list[Planned]:
    files = [Planned(WORKFLOW_DIR / name, workflow_text(name, action)) for name in TEMPLATES]
    if prompts:
        folder = resources.files("orchestrator").joinpath("prompt")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".txt"):
                files.append(Planned(Path("prompt") / entry.name, entry.read_text(encoding="utf-8")))
    return files


def _diff(path: Path, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"{path} (yours)", f"{path} (init)"))


def _gitignore_missing(text: str) -> list[str]:
    have = {line.strip() for line in text.splitlines()}
    return [line for line in GITIGNORE_LINES if line not in have]


def _gitignore_with(text: str, missing: list[str]) -> str:
    """The .gitignore with the missing lines appended."""
    sep = "" if not text or text.endswith("\n") else "\n"
    return text + sep + "# beads-orchestrator\n" + "".join(f"{line}\n" for line in missing)


def init(repo: Path, *, force: bool, prompts: bool, action: str = ACTION,
         out: TextIO | None = None, ask: Callable[[str], bool] | None = None) -> int:
    """Exit 0 when every file is as init would write it (or was written); 1 when a file that
    differs was kept (its diff is printed). `ask` is the terminal question; None when stdin is
    not a terminal."""
    out = out or sys.stdout
    kept = written = 0
    for item in planned_files(action=action, prompts=prompts):
        target = repo / item.path
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == item.text:
            print(f"unchanged {item.path}", file=out)
            continue
        if old is not None and not force:
            diff = _diff(item.path, old, item.text)
            if ask is None or not ask(f"{diff}replace {item.path} with init's version? [y/N] "):
                if ask is None:
                    out.write(diff)
                print(f"kept {item.path}: it differs from init's version (--force replaces it)",
                      file=out)
                kept += 1
                continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, item.text)
        written += 1
        print(f"{'replaced' if old is not None else 'wrote'} {item.path}", file=out)

    config = repo / CONFIG_NAME
    if config.exists():  # the user's own: never rewritten, not even with --force
        print(f"unchanged {CONFIG_NAME} (yours is kept as it is)", file=out)
    else:
        write_atomic(config, config_template())
        written += 1
        print(f"wrote {CONFIG_NAME}", file=out)

    ignore = repo / ".gitignore"
    text = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    missing = _gitignore_missing(text)
    if not missing:
        print("unchanged .gitignore", file=out)
    else:
        write_atomic(ignore, _gitignore_with(text, missing))
        print("updated .gitignore: " + ", ".join(missing), file=out)

    if kept:
        return 1
    if written:
        print("next: commit these files, add the ANTHROPIC_API_KEY secret, and start the chain "
              "from the Actions tab (docs/github.md)", file=out)
    return 0


def terminal_question(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False
