"""Finding the real bd for the tests, and scratch bd databases to run it on.

The binary is `$ORCHESTRATOR_TEST_BD` if set, else the one `.ci/install-bd` built into `.ci/bin/`
(the version pinned in `.ci/bd-version`). Tests that need it skip only when Go is unavailable,
so it could not be built; with Go there, a missing binary is a failure that says how to build it.

Every bd the tests run gets `BD_ENV`: no anonymous usage metrics (bd 1.1 sends them by default
from a background process), no prompts, and a fixed actor unless `--actor` says otherwise.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from support.binaries import pinned_binary

ROOT = Path(__file__).resolve().parents[2]
PINNED_VERSION = (ROOT / ".ci" / "bd-version").read_text().strip()
CI_BINARY = ROOT / ".ci" / "bin" / "bd"

BD_ENV = {
    "BD_DISABLE_METRICS": "1",
    "BD_NON_INTERACTIVE": "1",
    "BEADS_ACTOR": "tester",
    "BD_JSON_ENVELOPE": "",
}
_STRIP = ("BD_JSON_ENVELOPE", "BEADS_DIR", "BEADS_DB", "BD_DB", "BD_ACTOR", "CLAUDE_CODE",
          "BD_AGENT_MODE")


def bd_binary() -> Path:
    """The bd to test, or skip (Go unavailable) / fail (Go there but nothing built)."""
    return pinned_binary(override_var="ORCHESTRATOR_TEST_BD", ci_binary=CI_BINARY, toolchain="go",
                         install=".ci/install-bd",
                         what=f"github.com/steveyegge/beads/cmd/bd@{PINNED_VERSION}")


def bd_env(bin_dir: Path | None = None) -> dict[str, str]:
    """The environment for a real bd: ours minus bd settings that would change its answers,
    plus BD_ENV; `bin_dir` (where `bd` is) goes first on PATH."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env.update({k: v for k, v in BD_ENV.items() if v})
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


class RealBd:
    """One bd database in `root` (a directory, usually a git repository), driven by the real bd."""

    def __init__(self, binary: Path, root: Path) -> None:
        self.binary = binary
        self.root = root

    def run(self, *args: str, actor: str | None = None, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), *(("--actor", actor) if actor else ()), *args]
        # BEADS_DIR: never let bd's discovery walk up into an enclosing git repository (from
        # a git worktree it would even init the main repository's .beads)
        env = {**bd_env(), "BEADS_DIR": str(self.root / ".beads")}
        done = subprocess.run(argv, cwd=self.root, env=env, capture_output=True,
                              text=True, input=stdin, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv[1:])} exited {done.returncode}:\n"
                                 f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def json(self, *args: str, actor: str | None = None) -> Any:
        out = self.run(*args, "--json", actor=actor).stdout
        return json.loads(out) if out.strip() else None

    def init(self, prefix: str) -> RealBd:
        """`bd init --stealth`: no git hooks, no AGENTS.md, no Dolt remote from origin."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.run("init", "--quiet", "--stealth", "--skip-agents", "--prefix", prefix)
        return self

    def copy_to(self, root: Path) -> RealBd:
        """A new database in `root` with this one's `.beads` (bd init costs seconds; a copy of
        a freshly initialised database costs milliseconds and is just as empty)."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / ".beads", root / ".beads")
        return RealBd(self.binary, root)

    def import_records(self, records: Iterable[Mapping[str, Any]]) -> Any:
        lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        path = self.root / "import.jsonl"
        path.write_text(lines)
        try:
            return self.json("import", str(path))
        finally:
            path.unlink()

    def export(self) -> list[dict[str, Any]]:
        out = self.run("export").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def ids(self, *args: str) -> list[str]:
        return [item["id"] for item in self.json(*args) or []]


def bd_database(binary: Path, root: Path, prefix: str = "t") -> RealBd:
    return RealBd(binary, root).init(prefix)


def install_on_path(binary: Path, where: Path) -> Path:
    """A directory holding `bd` (a symlink to `binary`) for PATH, as a user's install would."""
    where.mkdir(parents=True, exist_ok=True)
    link = where / "bd"
    if not link.exists():
        link.symlink_to(binary)
    return where


def volatile_free(records: Sequence[Mapping[str, Any]], volatile: Iterable[str]) -> list[dict[str, Any]]:
    drop = set(volatile)
    return [{k: v for k, v in r.items() if k not in drop} for r in records]
