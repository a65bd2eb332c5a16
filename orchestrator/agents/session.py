"""One agent run on one task, start to finish: what `orchestrator agent` and the coordinator call.

`run_task_agent` builds the prompt for the task's kind, launches the profile's command in its own
process group with the agent environment, applies the timeouts, writes the logs, re-reads the
task from the store, classifies the run and writes `outcome.json`. It does not claim the task and
does not record the attempt: the caller does both. It keeps no shared state, so several threads
may run it at once (one per task).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator import runlog
from orchestrator.agents import outcome as outcomes
from orchestrator.agents.outcome import Outcome
from orchestrator.agents.profiles import build_launch, profile_for_task
from orchestrator.agents.prompts import build_prompt
from orchestrator.agents.runner import Scrubber, append_monitor, run_agent_process, secret_values
from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.fileio import read_capped_text, write_atomic
from orchestrator.tasks.history import AttemptRecord
from orchestrator.tasks.kinds import task_kind
from orchestrator.tasks.model import Task, now_rfc3339
from orchestrator.tasks.store import TaskStore


@dataclass(frozen=True)
class AgentRun:
    task_id: str
    attempt: int
    profile: str
    budget: str            # the thinking budget this run got ("" if the profile has none)
    log_dir: Path          # logs/run/<UTC timestamp>_<task-id>/ (output.log, verbose.jsonl,
                           # monitor.log, prompt.md, outcome.json)
    started_at: str        # RFC 3339 UTC
    duration_s: float
    outcome: Outcome


def budget_for_attempt(config: Config, attempt: int) -> str:
    """The ladder: attempt N gets budgets[N-1]; the last entry repeats; no budgets -> ""."""
    budgets = config.agent.budgets
    if not budgets:
        return ""
    return budgets[min(max(attempt, 1) - 1, len(budgets) - 1)]


def run_to_dict(run: AgentRun) -> dict[str, Any]:
    data = asdict(run)
    data["log_dir"] = str(run.log_dir)
    return data


def run_from_dict(data: Any) -> AgentRun:
    """An AgentRun read back from outcome.json; ValueError naming the key that is not what
    `run_to_dict` writes."""
    if not isinstance(data, Mapping):
        raise ValueError("expected a JSON object")
    field = outcomes.json_field
    attempt = field(data, "attempt", "int?", None)
    if attempt is None or attempt < 0:
        raise ValueError(f"attempt must be a whole number, got {json.dumps(attempt)}")
    task_id = field(data, "task_id", "str", None)
    if not task_id:
        raise ValueError("task_id must be a task ID")
    return AgentRun(task_id=task_id, attempt=attempt,
                    profile=field(data, "profile", "str", ""), budget=field(data, "budget", "str", ""),
                    log_dir=Path(field(data, "log_dir", "str", "")),
                    started_at=field(data, "started_at", "str", ""),
                    duration_s=float(field(data, "duration_s", "number", 0.0)),
                    outcome=outcomes.outcome_from_dict(data.get("outcome")))


MAX_OUTCOME_BYTES = 4 << 20  # a digest is a paragraph; the whole file is a few KB


def read_run_file(path: Path) -> AgentRun:
    """outcome.json as an AgentRun; any problem is a one-line UserError naming the file and
    the key (the file is never changed)."""
    text = read_capped_text(path, MAX_OUTCOME_BYTES, "outcome file")
    try:
        return run_from_dict(outcomes.load_json(text))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: malformed JSON: {e.msg}") from None
    except ValueError as e:
        raise UserError(f"{path}: {e}") from None


def task_command(store: TaskStore, repo: Path, workdir: Path, *, config_path: str | None = None,
                 store_kind: str | None = None) -> str:
    """What the agent types to update the queue, built once by whoever launches it and passed
    on. The embedded store lives in the main repository: an agent in another worktree must
    point `orchestrator task` at it, or it would edit the worktree's copy of the queue; an
    explicit --config/--store of the launching command is passed on so both read one queue."""
    cmd = store.task_cmd
    if store.kind == "bd" or not cmd.startswith("orchestrator"):
        return cmd
    if config_path or store_kind:
        argv = ["orchestrator", "task", "--repo", str(repo.resolve())]
        if config_path:
            argv += ["--config", str(Path(config_path).resolve())]
        if store_kind:
            argv += ["--store", store_kind]
        return shlex.join(argv)
    if workdir.resolve() != repo.resolve():
        cmd = f"{cmd} --repo {shlex.quote(str(repo.resolve()))}"
    return cmd


def agent_env(*, base: Mapping[str, str], launch_env: Mapping[str, str], task_id: str, attempt: int,
              log_dir: Path, prompt_file: Path, task_cmd: str, budget: str, profile: str,
              extra_env: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(base)
    env.update(launch_env)
    # the `orchestrator` the agent finds must be this one (its venv), not another install
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    env.update({
        "ORCHESTRATOR_TASK_ID": task_id,
        # the task command refuses changes to other tasks (coordinator.confine)
        "ORCHESTRATOR_AGENT_TASK": task_id,
        "ORCHESTRATOR_ATTEMPT": str(attempt),
        "ORCHESTRATOR_LOG_DIR": str(log_dir),
        "ORCHESTRATOR_PROMPT_FILE": str(prompt_file),
        "ORCHESTRATOR_TASK_CMD": task_cmd,
        "ORCHESTRATOR_BUDGET": budget,
        "ORCHESTRATOR_PROFILE": profile,
    })
    env.setdefault("BD_ACTOR", f"{profile}-agent")
    if extra_env:
        env.update(extra_env)
    return env


def _read_after(store: TaskStore) -> Mapping[str, Task] | None:
    try:
        return store.all()
    except UserError:
        return None


def run_task_agent(*, repo: Path, store: TaskStore, config: Config, task_id: str, attempt: int = 1,
                   budget: str | None = None, profile: str | None = None,
                   workdir: Path | None = None,
                   history: Sequence[AttemptRecord] = (),
                   logs_root: Path | None = None,
                   stop: threading.Event | None = None,
                   extra_env: Mapping[str, str] | None = None,
                   task_cmd: str | None = None,
                   ) -> AgentRun:
    """Run one agent on one task and judge it. Raises UserError only for setup problems (unknown
    task, bad profile or template, agent executable not found); everything the agent does ends
    up in the returned outcome. `task_cmd` is how the agent updates the queue
    (`task_command`'s form for this workdir when not given)."""
    repo = Path(repo).resolve()
    workdir = Path(workdir).resolve() if workdir is not None else repo
    logs_root = Path(logs_root) if logs_root is not None else runlog.runs_root(repo)
    before = store.all()
    if task_id not in before:
        raise UserError(f"no task {task_id} in the queue")
    task = before[task_id]
    profile_name = profile_for_task(task, config, profile)
    run_budget = budget if budget is not None else budget_for_attempt(config, attempt)
    kind = task_kind(task, config)
    task_cmd = task_cmd or task_command(store, repo, workdir)
    prompt = build_prompt(task=task, tasks=before, kind=kind, task_cmd=task_cmd, attempt=attempt,
                          budget=run_budget, history=history, repo=repo, config=config)

    started = datetime.now(timezone.utc)
    log_dir = runlog.new_log_dir(logs_root, task_id, started)
    prompt_file = log_dir / "prompt.md"
    try:
        launch = build_launch(profile_name, config, prompt_text=prompt, prompt_file=prompt_file,
                              task_id=task_id, log_dir=log_dir, attempt=attempt, budget=run_budget,
                              workdir=workdir)
        env = agent_env(base=os.environ, launch_env=launch.env, task_id=task_id, attempt=attempt,
                        log_dir=log_dir, prompt_file=prompt_file, task_cmd=task_cmd,
                        budget=run_budget, profile=profile_name, extra_env=extra_env)
        exe = launch.argv[0]
        found = Path(workdir, exe).exists() if os.sep in exe else shutil.which(exe, path=env["PATH"])
        if not found:
            raise UserError(f"{exe}: command not found for agent profile {profile_name!r} "
                            "(is it installed and on PATH?)")
    except UserError:
        shutil.rmtree(log_dir, ignore_errors=True)
        raise
    secrets = secret_values(env)
    write_atomic(prompt_file, Scrubber(secrets).text(prompt))

    agent = config.agent
    result = run_agent_process(
        launch.argv, cwd=workdir, env=env, log_dir=log_dir, stream=launch.stream,
        timeout_s=agent.timeout_minutes * 60, idle_timeout_s=agent.idle_timeout_minutes * 60,
        kill_grace_s=agent.kill_grace_seconds, heartbeat_s=agent.heartbeat_seconds,
        max_log_bytes=agent.log_max_mb << 20, secrets=secrets, stop=stop,
        monitor_fields={"task": task_id, "attempt": str(attempt), "profile": profile_name,
                        "kind": kind, "budget": run_budget or "-"})

    after = _read_after(store)
    facts = outcomes.read_stream(launch.stream, result.stdout, result.stderr, result.exit_code,
                                 context_patterns=agent.context_patterns)
    if after is None:
        out = outcomes.classify(facts, task_id=task_id, exit_code=result.exit_code,
                                killed=result.killed)
        out = replace(out, kind="error", subclass="store_unreadable",
                      digest="The task store could not be read after the run. " + out.digest)
    else:
        out = outcomes.classify(facts, task_id=task_id, exit_code=result.exit_code,
                                killed=result.killed, before=before, after=after)
    run = AgentRun(task_id=task_id, attempt=attempt, profile=profile_name, budget=run_budget,
                   log_dir=log_dir, started_at=now_rfc3339(started),
                   duration_s=round(result.duration_s, 3), outcome=out)
    write_atomic(log_dir / runlog.OUTCOME, json.dumps(run_to_dict(run), indent=2) + "\n")
    cost = f" cost=${out.cost_usd:.4f}" if out.cost_usd is not None else ""
    append_monitor(log_dir, f"outcome kind={out.kind}" + (f" subclass={out.subclass}" if out.subclass else "")
                   + f" retryable={str(out.retryable).lower()}{cost} format={facts.format}", secrets)
    return run
