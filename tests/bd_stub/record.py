#!/usr/bin/env python3
"""Re-record tests/fixtures/bd/*.json (what tests/bd_stub/bd answers) from the real bd.

It imports tests/fixtures/bd/issues.jsonl into a scratch bd database and saves the --json
stdout of each command tests/test_bd_store.py sends; `recordings()` is also used by
tests/test_bd_real.py to check that the files still have the shapes the real bd prints.

    python tests/bd_stub/record.py [--bd .ci/bin/bd]     # rewrites the fixture files
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bd"
ENV = {**{k: v for k, v in os.environ.items()
          if k not in ("BEADS_DIR", "BD_JSON_ENVELOPE", "BD_ACTOR", "CLAUDE_CODE")},
       "BD_DISABLE_METRICS": "1", "BD_NON_INTERACTIVE": "1"}

# (fixture file, actor, bd arguments), run in this order on one database
COMMANDS: list[tuple[str, str, list[str]]] = [
    ("ready.json", "orchestrator", ["ready", "--json", "--limit", "0", "--sort", "priority"]),
    ("list.json", "orchestrator", ["list", "--json", "--flat", "--limit", "0", "--status",
                                   "in_progress"]),
    ("show.json", "orchestrator", ["show", "shop-m2d.2", "--json", "--include-comments"]),
    ("stats.json", "orchestrator", ["stats", "--json"]),
    ("create.json", "orchestrator", [
        "create", "--title", "Fix flaky checkout e2e test", "--json", "--type", "bug",
        "--priority", "1", "--parent", "shop-m2d", "--labels", "ci,flaky", "--description",
        "checkout.spec.ts fails ~1 in 5 runs on CI; suspect race on totals fetch."]),
    ("update.json", "agent-ada", ["update", "shop-m2d.2", "--claim", "--json"]),
    ("dep_remove.json", "a", ["dep", "remove", "shop-t7w", "shop-4kx", "--json"]),
    ("dep_add.json", "a", ["dep", "add", "shop-t7w", "shop-4kx", "--type", "blocks", "--json"]),
    ("comments_add.json", "orchestrator", ["comments", "add", "--json", "--author", "orchestrator",
                                           "--", "shop-m2d.2",
                                           "orchestrator: attempt 1 ended: success."]),
    ("close.json", "agent-ada", ["close", "shop-m2d.2", "--json", "--reason", "Done in PR #415"]),
]


def recordings(bd: Path) -> dict[str, object]:
    """{fixture file: parsed stdout} from a fresh database holding issues.jsonl."""
    with tempfile.TemporaryDirectory(prefix="bd-record-") as tmp:
        # `owner` is git's user.email: the fixtures' own, not this machine's
        gitconfig = Path(tmp) / "gitconfig"
        gitconfig.write_text("[user]\n\temail = ci-bot@example.com\n\tname = ci-bot\n")
        work = Path(tmp) / "db"
        env = {**ENV, "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
               "BEADS_DIR": str(work / ".beads")}
        work.mkdir()
        run = lambda actor, args: subprocess.run(  # noqa: E731
            [str(bd), "--actor", actor, *args], cwd=work, env=env, capture_output=True,
            text=True, check=True).stdout
        run("orchestrator", ["init", "--quiet", "--stealth", "--skip-agents", "--prefix", "shop"])
        run("orchestrator", ["import", str(FIXTURES / "issues.jsonl"), "--json"])
        return {name: json.loads(run(actor, args)) for name, actor, args in COMMANDS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bd", type=Path, default=ROOT / ".ci" / "bin" / "bd")
    args = p.parse_args(argv)
    for name, payload in recordings(args.bd).items():
        (FIXTURES / name).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        print(f"recorded {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
