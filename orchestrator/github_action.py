"""What the composite action (action.yml) needs from Python besides the commands: whether to
install bd, and writing step outputs. `python -m orchestrator.github_action needs-bd --config F`
exits 0 when the task store is bd, 1 when it is the JSONL file."""
from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.config import Config, config_for_repo
from orchestrator.errors import UserError
from orchestrator.tasks.factory import has_bd_database


def needs_bd(repo: Path, config: Config) -> bool:
    """bd is installed for `store: bd`, and for `auto` when the repository has a bd database
    (the rule open_store applies once bd is on PATH)."""
    return config.store == "bd" or (config.store == "auto" and has_bd_database(repo))


def write_outputs(values: Mapping[str, str], path: str | None = None) -> None:
    """Append step outputs to $GITHUB_OUTPUT (no-op outside Actions). Every value uses the
    multi-line form with a random delimiter, so no value can end the block early or inject
    another output (GitHub's documented way for untrusted text)."""
    path = path if path is not None else os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.github_action")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("needs-bd", help="exit 0 when the task store needs bd installed")
    p.add_argument("--repo", default=".")
    p.add_argument("--config", default=None)
    args = parser.parse_args(argv)
    repo = Path(args.repo)
    try:
        config = config_for_repo(repo, args.config)
    except UserError as e:
        print(f"orchestrator: {e}", file=sys.stderr)
        return e.exit_code
    return 0 if needs_bd(repo, config) else 1


if __name__ == "__main__":
    sys.exit(main())
