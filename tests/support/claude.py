"""Finding the real Claude Code CLI for the tests, and the environment that keeps it offline.

The binary is `$ORCHESTRATOR_TEST_CLAUDE` if set, else the one `.ci/install-claude` put in
`.ci/node/` (the version pinned in `.ci/claude-code-version`). Tests that need it skip only when
it is absent because npm is unavailable; if npm is there, a missing binary is a failure that says
how to install it.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.binaries import pinned_binary

ROOT = Path(__file__).resolve().parents[2]
PINNED_VERSION = (ROOT / ".ci" / "claude-code-version").read_text().strip()
CI_BINARY = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "claude"

# Background traffic off, auto-update off, retries few (backoff 0.5 s, 1 s, ...): the reference's set.
OFFLINE_ENV = {
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_MAX_RETRIES": "2",
}


def claude_binary() -> Path:
    """The CLI to test, or skip (npm unavailable) / fail (npm there but nothing installed)."""
    return pinned_binary(override_var="ORCHESTRATOR_TEST_CLAUDE", ci_binary=CI_BINARY,
                         toolchain="npm", install=".ci/install-claude",
                         what=f"@anthropic-ai/claude-code@{PINNED_VERSION}")


def dummy_api_key() -> str:
    """A key of the real shape, built at run time so nothing in the repo looks like a token."""
    return "sk-ant-api03-" + "x" * 40 + "-" + "y" * 8


def claude_env(*, base_url: str, home: Path, api_key: str, path_dirs: tuple[Path, ...] = (),
               extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for the CLI: our API on loopback, a throwaway HOME, no inherited
    Anthropic/Claude settings or credentials."""
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items()
            if k in ("LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")}
    env = {
        **keep,
        "PATH": os.pathsep.join([*(str(d) for d in path_dirs), str(Path(sys.executable).parent),
                                 "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_API_KEY": api_key,
        "ANTHROPIC_BASE_URL": base_url,
        "USER": "tester",
        **OFFLINE_ENV,
    }
    env.update(extra or {})
    return env


def claude_version(binary: Path, home: Path) -> str:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), **OFFLINE_ENV}
    out = subprocess.run([str(binary), "--version"], env=env, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=60, check=True)
    return out.stdout.split()[0]
