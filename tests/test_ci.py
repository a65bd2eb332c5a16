"""CI runs exactly the README's test command, lint and types included."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"^python3 -m venv \.venv && \. \.venv/bin/activate && (pip install -e '\.\[test\]' .*)$",
                            readme, re.M)
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install")]
    assert ci == [command]
    assert "ruff check ." in command and "mypy" in command and command.endswith("python -m pytest -q")
