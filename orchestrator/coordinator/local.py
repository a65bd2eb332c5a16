"""The three steps in one process, for `orchestrator run`, `cycle` and `plan`: agents run in
worker threads (each `agent.run_agent` in its own git worktree); every store write and every
decision happens on the calling thread."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from orchestrator import gitops
from orchestrator.agents.session import task_command
from orchestrator.config import Config
from orchestrator.coordinator import planning, preflight, recovery
from orchestrator.coordinator.agent import Launcher, default_launcher, run_agent
from orchestrator.coordinator.apply import Applied, apply_result
from orchestrator.coordinator.planning import Claimed, CyclePlan
from orchestrator.coordinator.ports import Ports
from orchestrator.coordinator.queue_state import commit_queue_state
from orchestrator.coordinator.results import ResultRecord
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import Plan, attempt_history
from orchestrator.errors import UserError
from orchestrator.forge.local import Forge
from orchestrator.forge.status import LOCAL_MAX_ROWS, render_status
from orchestrator.leases import Leases, lease_dir
from orchestrator.tasks.model import Status, Task
from orchestrator.tasks.store import TaskStore

REPORT_EVERY_S = 2.0


@dataclass
class _Running:
    claimed: Claimed
    future: Future[ResultRecord]
    stop: threading.Event
    worktree: gitops.TaskWorktree | None = None
    started: float = field(default_factory=time.monotonic)


class Coordinator:
    """Runs cycles against one repository (see the package docstring for the three steps)."""

    def __init__(self, *, repo: Path, store: TaskStore, config: Config, forge: Forge,
                 actor: str, launcher: Launcher | None = None,
                 config_path: str | None = None, store_kind: str | None = None) -> None:
        self.repo = repo.resolve()
        self.store = store
        self.config = config
        self.forge = forge
        self.actor = actor
        self._launcher = launcher
        self.git = gitops.is_git_repo(self.repo)
        ttl = timedelta(minutes=config.agent.timeout_minutes + 10)
        self.leases = Leases(lease_dir(self.repo), ttl)
        self.ports = Ports(self.repo, store, config, forge, actor, self.leases, self.git,
                           self._event)
        self.running: dict[str, _Running] = {}
        self.pool = ThreadPoolExecutor(max_workers=config.dispatch.max_parallel,
                                       thread_name_prefix="agent")
        self._config_path = config_path
        self._store_kind = store_kind
        self.events: list[str] = []
        self.decisions: dict[str, int] = {}          # attempts per recorded decision
        self.containers_closed: list[str] = []
        self.cost_usd = 0.0
        self._reported = 0.0
        self.only: str | None = None      # `cycle --task ID`
        self._orphans: dict[str, list[int]] = {}

    # -- setup -----------------------------------------------------------------------------
    def agent_env(self) -> dict[str, str]:
        env = {"ORCHESTRATOR_REPO": str(self.repo)}
        if self.store.kind == "bd":
            env["BEADS_DIR"] = str(self.repo / ".beads")
        return env

    def preflight(self, tasks: Mapping[str, Task], *, launching: bool = True) -> list[str]:
        """Bad input is refused before anything is claimed. What would only stop a launch (the
        agent command, the working tree) is refused when launching; otherwise (`plan`,
        `cycle --dry-run`, which change nothing) it is returned as warnings."""
        preflight.check_queue(tasks, self.only)
        preflight.check_budgets(self.config)
        problems = preflight.launch_problems(self.repo, self.config, git=self.git)
        if launching and problems:
            raise UserError(problems[0])
        if launching and self._launcher is None:
            self._launcher = default_launcher()
        return problems

    def _stop_orphans(self, task_id: str) -> list[int]:
        if task_id in self._orphans:  # stopped by prune_leftovers already
            return self._orphans.pop(task_id)
        return planning.stop_orphans(self.ports, task_id)

    def prune_leftovers(self) -> None:
        """After a crash (see `recovery`): orphaned agents of stale claims, and of closed tasks
        whose work never landed, are stopped first; then, with no live run anywhere, task
        worktrees left behind are removed, their uncommitted work committed to their task
        branches (a retry continues there); then the work of closed tasks is landed and stale
        leases are removed."""
        tasks = self.store.all()
        live = self.live_runs(tasks)
        branches = set(gitops.task_branches(self.repo)) if self.git else set()
        for t in tasks.values():
            if t.id in live:
                continue
            if (t.status == Status.IN_PROGRESS and t.assignee == self.actor) or \
                    (t.status == Status.CLOSED and t.id in branches):
                self._orphans[t.id] = self._stop_orphans(t.id)
        if self.git and not live:
            def still_running(task_id: str) -> bool:
                # another coordinator may have leased, claimed and made a worktree since `live`
                # was read (its lease comes before its worktree, so the lease is seen here)
                return task_id in self.live_runs(self.store.all())

            for path in gitops.prune_task_worktrees(self.repo, keep=still_running):
                self._event(f"pruned a worktree left by an earlier run: {path} (its work is on "
                            "its task branch)")
        tasks = self.store.all()
        live = self.live_runs(tasks)
        recovery.restore_invariant(self.ports, tasks, live)
        recovery.drop_landed_branches(self.ports, self.store.all(), live)
        for task_id in recovery.drop_stale_leases(self.ports, self.store.all()):
            self._event(f"removed the stale lease of {task_id}")

    # -- PLAN ---------------------------------------------------------------------------------
    def live_runs(self, tasks: Mapping[str, Task]) -> set[str]:
        return planning.live_runs(self.ports, tasks, self.running)

    def plan(self, state: policy.LoopState) -> Plan:
        """The plan for the queue as it is now; changes nothing."""
        return planning.decide_plan(self.ports, state, running=self.running,
                                    cost_usd=self.cost_usd, only=self.only)

    def plan_cycle(self, state: policy.LoopState, *, launch: bool = True) -> CyclePlan:
        cp = planning.plan_cycle(self.ports, state, running=self.running, cost_usd=self.cost_usd,
                                 only=self.only, launch=launch, orphans=self._stop_orphans)
        self.containers_closed += cp.containers_closed
        return cp

    # -- RUN AGENTS ---------------------------------------------------------------------------
    def launch(self, claimed: Sequence[Claimed]) -> list[str]:
        """Start an agent for each claimed task, in its own worktree when there is git."""
        started = []
        for c in claimed:
            ln = c.launch
            wt = None
            try:
                if self.git:
                    root = gitops.configured_root(self.repo, self.config.git.worktree_root)
                    wt = gitops.create_task_worktree(self.repo, ln.task_id, root=root)
                cmd = task_command(self.store, self.repo, wt.path if wt else self.repo,
                                   config_path=self._config_path, store_kind=self._store_kind)
            except BaseException:
                planning.unclaim(self.ports, ln.task_id)
                raise
            stop = threading.Event()
            future = self.pool.submit(
                run_agent, ln, repo=self.repo, store=self.store, config=self.config,
                worktree=wt, task_cmd=cmd, history=tuple(attempt_history(c.task)), stop=stop,
                launcher=self._launcher, extra_env=self.agent_env())
            self.running[ln.task_id] = _Running(c, future, stop, wt)
            started.append(ln.task_id)
            where = f" in worktree {wt.branch}" if wt is not None else ""
            budget = f" with budget {ln.budget}" if ln.budget else ""
            self._event(f"claim {ln.task_id}; launch agent ({ln.kind}, attempt {ln.attempt}"
                        f"{budget}){where}: {ln.title}")
            if wt is not None and wt.update:  # an earlier attempt's branch met the current tip
                self._event(f"{ln.task_id}: {wt.update}")
        return started

    def wait(self, *, all_: bool, timeout: float | None = None) -> list[str]:
        """Task IDs whose runs finished (at least one unless timeout, or all with all_)."""
        if not self.running:
            return []
        futures = {r.future: tid for tid, r in self.running.items()}
        done, _ = wait(futures, timeout=timeout,
                       return_when="ALL_COMPLETED" if all_ else FIRST_COMPLETED)
        # completion order: the order the runs finished in, as far as we can see it
        return [futures[f] for f in done]

    # -- APPLY RESULTS ------------------------------------------------------------------------
    def collect(self, task_id: str) -> Applied:
        """Apply one finished run's result (the queue-state commit waits for the loop's end)."""
        r = self.running.pop(task_id)
        try:
            result = r.future.result()
        except BaseException:
            if r.worktree is not None:  # keep what the failed launch left on its branch
                with contextlib.suppress(UserError):  # a hook refused them: they go
                    gitops.commit_all(r.worktree.path, f"{task_id}: leftovers of a failed launch")
                gitops.remove_task_worktree(self.repo, r.worktree, keep_branch=True)
            planning.unclaim(self.ports, task_id)
            raise
        self.cost_usd += result.outcome.cost_usd or 0.0
        applied = apply_result(self.ports, result)
        action = applied.record.decision
        self.decisions[action] = self.decisions.get(action, 0) + 1
        return applied

    def interrupt(self) -> list[Applied]:
        """Ctrl-C: stop every running agent, record the interrupted attempts, release claims."""
        for r in self.running.values():
            r.stop.set()
        out = []
        for tid in list(self.running):
            wait([self.running[tid].future])
            out.append(self.collect(tid))
        return out

    def report(self, *, force: bool = True) -> None:
        """Write the status view; without force at most every `REPORT_EVERY_S` seconds (it
        re-reads and renders the whole queue)."""
        now = time.monotonic()
        if not force and now - self._reported < REPORT_EVERY_S:
            return
        self._reported = now
        tasks = self.store.all()
        self.forge.report_status(render_status(
            tasks, escalation_label=self.config.github.escalation_label,
            events=self.events[-30:], info=self.ports.graphs.info(tasks),
            max_rows=LOCAL_MAX_ROWS))

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def commit_store(self) -> str:
        return commit_queue_state(self.ports)

    def _event(self, line: str) -> None:
        self.events.append(line)
        self.forge.event(line)
