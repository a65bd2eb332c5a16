"""The GitHub Actions workflows `orchestrator init` writes into a repository's
.github/workflows/ (this project keeps the same files in its own .github/workflows/)."""
from __future__ import annotations

from importlib import resources

# This project's action, as the templates name it; `orchestrator init --action` replaces it.
ACTION = "beads-orchestrator/beads-orchestrator@v0"

# orchestrator.yml: dispatch and plan; orchestrator-task.yml: one matrix leg (agent + report);
# orchestrator-command.yml: `/orchestrator ...` comments
TEMPLATES = ("orchestrator.yml", "orchestrator-task.yml", "orchestrator-command.yml")


def workflow_text(name: str, action: str = ACTION) -> str:
    """A template with its `uses: <this project's action>` lines pointing at `action`."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return text.replace(f"uses: {ACTION}", f"uses: {action}")
