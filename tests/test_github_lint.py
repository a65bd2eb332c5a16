"""The workflows and the action pass the linters CI relies on (.ci/lint-github): actionlint,
check-jsonschema's vendored GitHub schemas, and zizmor with no finding at medium or above."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_workflows_and_actions_pass_the_linters() -> None:
    done = subprocess.run(["bash", str(ROOT / ".ci" / "lint-github")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
