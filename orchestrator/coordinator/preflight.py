"""Bad input is refused before anything is claimed: the queue, the budgets, the agent command
and the working tree are checked up front, each problem as one line."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator import gitops
from orchestrator.agents import profiles
from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.tasks import graph
from orchestrator.tasks.model import Status, Task


def agent_argv0(config: Config) -> str:
    if config.agent.profile == "command":
        if not config.agent.command:
            raise UserError("agent.profile is command but agent.command is not set")
        return config.agent.command[0]
    return config.agent.profile  # claude, codex


def check_budgets(config: Config) -> None:
    """Every budget on the ladder must mean something to the profile, before any claim."""
    for budget in config.agent.budgets:
        if config.agent.profile == "claude":
            profiles.claude_budget(budget, config.agent.model)
        elif config.agent.profile == "codex":
            profiles.codex_effort(budget)


def check_queue(tasks: Mapping[str, Task], only: str | None) -> None:
    """`--task ID` must name a launchable task; the queue must have no dependency cycle."""
    if only is not None:
        task = tasks.get(only)
        if task is None:
            raise UserError(f"no task {only} in the queue")
        blockers = graph.blocked_by(tasks).get(only)
        if blockers:
            raise UserError(f"task {only} is blocked by {', '.join(blockers)}")
        if task.status != Status.OPEN:
            raise UserError(f"task {only} is {task.status}, not open")
    cycles = graph.find_cycles(tasks)
    if cycles:
        raise UserError(f"dependency cycle in the queue: {' -> '.join(cycles[0])} "
                        "(remove one edge with `orchestrator task dep remove`)")


def dirty_paths(repo: Path) -> list[str]:
    """Tracked files changed in the main tree, except the task store and logs."""
    out = gitops.run_git(repo, "status", "--porcelain", "--untracked-files=no")
    paths = [line[3:] for line in out.stdout.splitlines() if line.strip()]
    return [p for p in paths if not p.startswith((".beads/", "logs/"))]


def uncommitted_files(repo: Path, command: Sequence[str]) -> list[str]:
    """The files agent.command names by a relative path (`sh scripts/agent.sh`) that are here
    but not in the last commit: agents run in a checkout of it, where they are missing."""
    names = [arg for arg in command if arg and "{" not in arg and not arg.startswith("-")
             and not os.path.isabs(arg) and not os.path.normpath(arg).startswith("..")
             and Path(repo, arg).is_file()]
    return [arg for arg in names
            if gitops.run_git(repo, "cat-file", "-e", f"HEAD:{os.path.normpath(arg)}",
                              check=False).status]


def launch_problems(repo: Path, config: Config, *, git: bool) -> list[str]:
    """Why a launch would fail now, one line each (nothing here changes anything)."""
    problems = []
    if config.agent.command:
        try:
            profiles.fill_template(config.agent.command, {p: "" for p in profiles.PLACEHOLDERS})
        except UserError as e:
            problems.append(str(e))
    argv0 = agent_argv0(config)
    # a relative path is run from the agent's worktree, a checkout of this repository
    if os.sep in argv0:
        script = Path(repo, argv0)
        if not script.is_file():
            problems.append(f"agent command not found: {argv0} (agent.profile "
                            f"{config.agent.profile}); install it or set agent.command")
        elif not os.access(script, os.X_OK):
            problems.append(f"agent command not executable: {argv0} (chmod +x it, and "
                            "commit the mode: agents run it from a checkout)")
    elif not shutil.which(argv0):
        problems.append(f"agent command not found: {argv0} (agent.profile "
                        f"{config.agent.profile}); install it or set agent.command")
    if not git and config.dispatch.max_parallel > 1:
        problems.append(f"{repo}: dispatch.max_parallel > 1 needs a git repository "
                        "(each agent works in its own worktree)")
    if git:
        dirty = dirty_paths(repo)
        if dirty:
            problems.append(f"{repo}: uncommitted changes ({', '.join(dirty[:5])}); "
                            "commit or stash them, agents work from the last commit")
        if gitops.run_git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).status:
            problems.append(f"{repo}: the git repository has no commit yet")
        elif config.agent.profile == "command":
            problems += [f"agent.command runs {name}, which is not committed: agents run in a "
                         f"checkout of the last commit (git add {name} && git commit)"
                         for name in uncommitted_files(repo, config.agent.command or ())]
    return problems
