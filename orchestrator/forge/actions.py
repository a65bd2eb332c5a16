"""The GitHub Actions runner's side of the forge: the `GITHUB_*` environment, workflow commands
(`::error::`, `::warning::`) with their values escaped, and the job summary file.

Escaping follows the runner's own rules (actions/toolkit `packages/core/src/command.ts`,
`escapeData` / `escapeProperty`): a command is only recognised at the start of a line, so once
`%`, CR and LF are escaped no text can start a second command; property values also escape `:`
and `,`, which would otherwise end the property or the property list (`::` inside a value
cannot close the property block either)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from orchestrator.errors import UserError


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(command: str, message: str, **properties: str) -> str:
    """One `::command k=v,...::message` line (properties with empty values are left out)."""
    props = ",".join(f"{k}={escape_property(v)}" for k, v in properties.items() if v)
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def error(message: str, *, title: str = "", out: TextIO) -> None:
    print(workflow_command("error", message, title=title), file=out, flush=True)


def warning(message: str, *, title: str = "", out: TextIO) -> None:
    print(workflow_command("warning", message, title=title), file=out, flush=True)


@dataclass(frozen=True)
class ActionsEnv:
    """What a workflow run tells us about itself. Defaults are GitHub's public hosts only when
    the variables are unset (running by hand); a runner always sets them, GHES included."""

    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    repository: str = ""          # owner/name
    run_id: str = ""
    run_attempt: str = ""
    ref_name: str = ""            # the branch the run is on (the working branch)
    workflow_ref: str = ""        # owner/name/.github/workflows/file.yml@refs/heads/main
    event_name: str = ""
    event_path: str = ""
    step_summary: str = ""
    token: str = ""
    in_actions: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionsEnv:
        env = os.environ if environ is None else environ
        return cls(
            api_url=(env.get("GITHUB_API_URL") or cls.api_url).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or cls.server_url).rstrip("/"),
            repository=env.get("GITHUB_REPOSITORY", ""),
            run_id=env.get("GITHUB_RUN_ID", ""),
            run_attempt=env.get("GITHUB_RUN_ATTEMPT", ""),
            ref_name=env.get("GITHUB_REF_NAME", ""),
            workflow_ref=env.get("GITHUB_WORKFLOW_REF", ""),
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=env.get("GITHUB_EVENT_PATH", ""),
            step_summary=env.get("GITHUB_STEP_SUMMARY", ""),
            token=env.get("GITHUB_TOKEN", ""),
            in_actions=env.get("GITHUB_ACTIONS") == "true",
        )

    @property
    def run_url(self) -> str:
        if not (self.repository and self.run_id):
            return ""
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def workflow_file(self) -> str:
        """The running workflow's file name (what a dispatch of "the same workflow" names)."""
        path = self.workflow_ref.split("@", 1)[0]
        return path.rsplit("/", 1)[-1] if "/.github/workflows/" in path else ""

    def owner_and_name(self) -> tuple[str, str]:
        owner, _, name = self.repository.partition("/")
        if not owner or not name or "/" in name:
            raise UserError(f"GITHUB_REPOSITORY must be OWNER/NAME, got {self.repository!r}")
        return owner, name


def append_step_summary(env: ActionsEnv, markdown: str) -> None:
    """Add to the job summary (the runner shows up to 1 MiB per step); nothing outside Actions."""
    if not env.step_summary:
        return
    with Path(env.step_summary).open("a", encoding="utf-8") as f:
        f.write(markdown.rstrip("\n") + "\n")
