"""The coordinator over its ports: reconcile -> plan -> claim -> launch -> collect -> apply ->
land -> report. The decisions are the pure `plan.make_plan` and `policy.decide`; this module
carries them out against the task store, the agent launcher (`run_task_agent`), git worktrees
(`orchestrator.gitops`) and a forge (local files and lines, or GitHub).

Claims are guarded twice: the store's atomic claim, and a lease file per task (pid, host,
expiry) taken before the claim, so two coordinators never run the same task at once and a
claim whose run is gone is found and reclaimed as an interrupted attempt.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import shlex
import signal
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from orchestrator import gitops
from orchestrator.config import Config
from orchestrator.dispatch import policy
from orchestrator.dispatch.history import AttemptRecord, render
from orchestrator.dispatch.plan import Launch, Plan, attempt_history, make_plan, render_plan
from orchestrator.errors import ClaimRefused, UserError
from orchestrator.forge.local import Forge
from orchestrator.forge.status import render_status
from orchestrator.process import pid_alive
from orchestrator.tasks import graph
from orchestrator.tasks.model import Status, Task, now_rfc3339, parse_time
from orchestrator.tasks.store import TaskChanges, TaskStore

Launcher = Callable[..., Any]   # orchestrator.agents.session.run_task_agent
REPORT_EVERY_S = 2.0
OTHERS_POLL_S = 0.5


# -- leases ------------------------------------------------------------------------------------

def _git_common_dir(repo: Path) -> Path | None:
    try:
        out = gitops.run_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir",
                             check=False)
    except UserError:  # git missing, or no such directory
        return None
    return Path(out.stdout.strip()) if out.status == 0 and out.stdout.strip() else None


def is_git_repo(repo: Path) -> bool:
    return _git_common_dir(repo) is not None


def lease_dir(repo: Path) -> Path:
    """Inside the git directory when there is one (invisible to `git status`), else .beads/."""
    common = _git_common_dir(repo)
    return (common / "orchestrator" / "leases") if common else (repo / ".beads" / "leases")


@dataclass(frozen=True)
class Lease:
    task_id: str
    pid: int
    host: str
    started: str
    expires: str

    def alive(self, now: datetime) -> bool:
        expires = datetime.fromisoformat(self.expires.replace("Z", "+00:00"))
        if expires <= now:
            return False
        return self.host != socket.gethostname() or pid_alive(self.pid)


class Leases:
    """One JSON file per running task, created exclusively under a directory lock."""

    def __init__(self, root: Path, ttl: timedelta) -> None:
        self.root = root
        self.ttl = ttl

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _path(self, task_id: str) -> Path:
        return self.root / f"{task_id}.json"

    def read(self, task_id: str) -> Lease | None:
        try:
            data = json.loads(self._path(task_id).read_text())
            return Lease(**data)
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def live(self, now: datetime | None = None) -> set[str]:
        now = now or datetime.now(timezone.utc)
        if not self.root.is_dir():
            return set()
        out = set()
        for p in self.root.glob("*.json"):
            lease = self.read(p.stem)
            if lease is not None and lease.alive(now):
                out.add(lease.task_id)
        return out

    def acquire(self, task_id: str) -> bool:
        """Take the lease unless a live one exists (a stale one is replaced)."""
        now = datetime.now(timezone.utc)
        with self._locked():
            old = self.read(task_id)
            if old is not None and old.alive(now):
                return False
            lease = Lease(task_id, os.getpid(), socket.gethostname(), now_rfc3339(now),
                          now_rfc3339(now + self.ttl))
            tmp = self._path(task_id).with_suffix(".tmp")
            tmp.write_text(json.dumps(lease.__dict__))
            os.replace(tmp, self._path(task_id))
            return True

    def release(self, task_id: str) -> None:
        with self._locked():
            lease = self.read(task_id)
            if lease is None or lease.pid == os.getpid():
                self._path(task_id).unlink(missing_ok=True)

    def drop_stale(self, task_id: str) -> None:
        with self._locked():
            lease = self.read(task_id)
            if lease is not None and not lease.alive(datetime.now(timezone.utc)):
                self._path(task_id).unlink(missing_ok=True)


# -- orphaned agents -----------------------------------------------------------------------------

def orphaned_agents(logs_root: Path, task_id: str) -> list[int]:
    """Process groups of agent runs of this task that never logged an exit (their coordinator
    was killed hard) and are still alive here: monitor.log's `running pid= pgid=` line, with the
    live process's working directory matching the run's `cwd=` (so a reused pid is never taken
    for the agent). Linux only (/proc); elsewhere nothing is found."""
    if not Path("/proc/self/cwd").exists() or not logs_root.is_dir():
        return []
    safe_id = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in task_id)
    out = []
    for run_dir in logs_root.glob(f"*_{safe_id}*"):
        try:
            text = (run_dir / "monitor.log").read_text(errors="replace")
        except OSError:
            continue
        if " exit code=" in text or f" start task={task_id} " not in text:
            continue
        m = re.search(r" running pid=(\d+) pgid=(\d+)", text)
        cwd = re.search(r" start .* cwd=(\S+)", text)
        if not m or not cwd:
            continue
        pid, pgid = int(m.group(1)), int(m.group(2))
        try:
            if os.readlink(f"/proc/{pid}/cwd") == cwd.group(1) and os.getpgid(pid) == pgid:
                out.append(pgid)
        except OSError:
            continue
    return out


def _leader_running(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie leader (nobody reaped it) has finished
        return Path(f"/proc/{pgid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_group(pgid: int, grace_s: float = 5.0) -> None:
    """SIGTERM to the group, SIGKILL to what is left after grace_s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _leader_running(pgid):
            time.sleep(0.05)
        os.killpg(pgid, signal.SIGKILL)


# -- results -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Applied:
    """What happened to one finished run."""

    task_id: str
    decision: policy.Decision
    record: AttemptRecord
    landed: tuple[str, ...] = ()      # commits that landed on the working branch
    note: str = ""                    # landing conflict, tamper, ...


@dataclass
class _Running:
    launch: Launch
    future: Future[Any]
    stop: threading.Event
    worktree: Any = None              # gitops.TaskWorktree
    started: float = field(default_factory=time.monotonic)


def _load_launcher() -> Launcher:
    try:
        from orchestrator.agents.session import run_task_agent
    except ImportError as e:  # the agents package is another area; say what is missing
        raise UserError(f"agent launcher unavailable: {e}") from None
    return run_task_agent


def agent_argv0(config: Config) -> str:
    if config.agent.profile == "command":
        if not config.agent.command:
            raise UserError("agent.profile is command but agent.command is not set")
        return config.agent.command[0]
    return config.agent.profile  # claude, codex


def check_budgets(config: Config) -> None:
    """Every budget on the ladder must mean something to the profile, before any claim."""
    from orchestrator.agents import profiles
    for budget in config.agent.budgets:
        if config.agent.profile == "claude":
            profiles.claude_budget(budget, config.agent.model)
        elif config.agent.profile == "codex":
            profiles.codex_effort(budget)


class Coordinator:
    """Runs cycles against one repository. Thread-safe only in the sense that agents run in
    worker threads; every store write and every decision happens on the calling thread."""

    def __init__(self, *, repo: Path, store: TaskStore, config: Config, forge: Forge,
                 actor: str, launcher: Launcher | None = None, task_cmd: str | None = None,
                 config_path: str | None = None, store_kind: str | None = None) -> None:
        self.repo = repo.resolve()
        self.store = store
        self.config = config
        self.forge = forge
        self.actor = actor
        self._launcher = launcher
        self.git = is_git_repo(self.repo)
        self.use_worktrees = self.git
        ttl = timedelta(minutes=config.agent.timeout_minutes + 10)
        self.leases = Leases(lease_dir(self.repo), ttl)
        self.running: dict[str, _Running] = {}
        self.pool = ThreadPoolExecutor(max_workers=config.dispatch.max_parallel,
                                       thread_name_prefix="agent")
        self.task_cmd = task_cmd or self._task_cmd(config_path, store_kind)
        self.events: list[str] = []
        self.decisions: dict[str, int] = {}          # attempts per recorded decision
        self.containers_closed: list[str] = []
        self.cost_usd = 0.0
        self._reported = 0.0
        self.only: str | None = None      # `cycle --task ID`
        self._orphans: dict[str, list[int]] = {}

    # -- setup -----------------------------------------------------------------------------
    def _task_cmd(self, config_path: str | None, store_kind: str | None) -> str | None:
        """How an agent in a worktree updates the coordinator's store (not the stale copy of
        .beads/issues.jsonl in its worktree). run_task_agent already points `orchestrator task`
        at the main repository; the store and config chosen on the command line are added here
        (the prompt shows run_task_agent's form)."""
        if self.store.kind == "bd" or not (config_path or store_kind):
            return None
        argv = ["orchestrator", "task", "--repo", str(self.repo)]
        if config_path:
            argv += ["--config", str(Path(config_path).resolve())]
        if store_kind:
            argv += ["--store", store_kind]
        return shlex.join(argv)

    def agent_env(self) -> dict[str, str]:
        env = {"ORCHESTRATOR_REPO": str(self.repo)}
        if self.task_cmd:
            env["ORCHESTRATOR_TASK_CMD"] = self.task_cmd
        if self.store.kind == "bd":
            env["BEADS_DIR"] = str(self.repo / ".beads")
        return env

    def preflight(self, tasks: Mapping[str, Task], *, launching: bool = True) -> list[str]:
        """Bad input is refused before anything is claimed. What would only stop a launch (the
        agent command, the working tree) is refused when launching; otherwise (`plan`,
        `cycle --dry-run`, which change nothing) it is returned as warnings."""
        if self.only is not None:
            task = tasks.get(self.only)
            if task is None:
                raise UserError(f"no task {self.only} in the queue")
            blockers = graph.blocked_by(tasks).get(self.only)
            if blockers:
                raise UserError(f"task {self.only} is blocked by {', '.join(blockers)}")
            if task.status != Status.OPEN:
                raise UserError(f"task {self.only} is {task.status}, not open")
        cycles = graph.find_cycles(tasks)
        if cycles:
            raise UserError(f"dependency cycle in the queue: {' -> '.join(cycles[0])} "
                            "(remove one edge with `orchestrator task dep remove`)")
        check_budgets(self.config)
        problems = self.launch_problems()
        if launching and problems:
            raise UserError(problems[0])
        if launching and self._launcher is None:
            self._launcher = _load_launcher()
        return problems

    def launch_problems(self) -> list[str]:
        """Why a launch would fail now, one line each (nothing here changes anything)."""
        from orchestrator.agents.profiles import PLACEHOLDERS, fill_template
        problems = []
        if self.config.agent.command:
            try:
                fill_template(self.config.agent.command, {p: "" for p in PLACEHOLDERS})
            except UserError as e:
                problems.append(str(e))
        argv0 = agent_argv0(self.config)
        # a relative path is run from the agent's worktree, a checkout of this repository
        if os.sep in argv0:
            script = Path(self.repo, argv0)
            if not script.is_file():
                problems.append(f"agent command not found: {argv0} (agent.profile "
                                f"{self.config.agent.profile}); install it or set agent.command")
            elif not os.access(script, os.X_OK):
                problems.append(f"agent command not executable: {argv0} (chmod +x it, and "
                                "commit the mode: agents run it from a checkout)")
        elif not shutil.which(argv0):
            problems.append(f"agent command not found: {argv0} (agent.profile "
                            f"{self.config.agent.profile}); install it or set agent.command")
        if not self.git and self.config.dispatch.max_parallel > 1:
            problems.append(f"{self.repo}: dispatch.max_parallel > 1 needs a git repository "
                            "(each agent works in its own worktree)")
        if self.use_worktrees:
            dirty = self.dirty_paths()
            if dirty:
                problems.append(f"{self.repo}: uncommitted changes ({', '.join(dirty[:5])}); "
                                "commit or stash them, agents work from the last commit")
            if gitops.run_git(self.repo, "rev-parse", "--verify", "-q", "HEAD", check=False).status:
                problems.append(f"{self.repo}: the git repository has no commit yet")
        return problems

    def _stop_orphans(self, task_id: str) -> list[int]:
        """Stop agents still running for a task whose coordinator died (killed hard: its
        agents live on in their own process groups), so a task never has two agents."""
        if task_id in self._orphans:
            return self._orphans.pop(task_id)
        lease = self.leases.read(task_id)
        if lease is not None and lease.host != socket.gethostname():
            return []
        stopped = []
        for pgid in orphaned_agents(self.repo / "logs" / "run", task_id):
            stop_group(pgid)
            stopped.append(pgid)
            self._event(f"stopped the orphaned agent of {task_id} (process group {pgid}): "
                        "its coordinator is gone")
        return stopped

    def prune_leftovers(self) -> None:
        """After a crash: orphaned agents of stale claims are stopped first; then, with no live
        run anywhere, task worktrees left behind are removed, their uncommitted work committed
        to their task branches (a retry continues there)."""
        tasks = self.store.all()
        live = self.live_runs(tasks)
        for t in tasks.values():
            if t.status == Status.IN_PROGRESS and t.assignee == self.actor and t.id not in live:
                self._orphans[t.id] = self._stop_orphans(t.id)
        if not self.use_worktrees or live:
            return

        def still_running(task_id: str) -> bool:
            # another coordinator may have leased, claimed and made a worktree since `live`
            # was read (its lease comes before its worktree, so the lease is seen here)
            return task_id in self.live_runs(self.store.all())

        for path in gitops.prune_task_worktrees(self.repo, keep=still_running):
            self._event(f"pruned a worktree left by an earlier run: {path} (its work is on its "
                        "task branch)")

    def dirty_paths(self) -> list[str]:
        """Tracked files changed in the main tree, except the task store and logs."""
        out = gitops.run_git(self.repo, "status", "--porcelain", "--untracked-files=no")
        paths = [line[3:] for line in out.stdout.splitlines() if line.strip()]
        return [p for p in paths if not p.startswith((".beads/", "logs/"))]

    # -- one step ---------------------------------------------------------------------------
    def live_runs(self, tasks: Mapping[str, Task]) -> set[str]:
        """Tasks whose runs may still be going: ours, those with a live lease, and those
        claimed by our actor with no lease file at all (claimed by something that takes no
        lease, e.g. another machine) until the lease time has passed since the claim."""
        live = set(self.running) | self.leases.live()
        now = datetime.now(timezone.utc)
        for t in tasks.values():
            if t.status != Status.IN_PROGRESS or t.assignee != self.actor or t.id in live:
                continue
            if self.leases.read(t.id) is not None:
                continue  # a lease that is not live: its run is gone
            claimed = parse_time(t.started_at) or parse_time(t.updated_at)
            if claimed is not None and now - claimed < self.leases.ttl:
                live.add(t.id)
        return live

    def plan(self, state: policy.LoopState) -> Plan:
        tasks = self.store.all()
        live = self.live_runs(tasks)
        stop_file = (self.repo / ".beads" / "STOP").exists()
        state = dataclasses.replace(state, cost_usd=state.cost_usd + self.cost_usd,
                                    stop_file=stop_file)
        return make_plan(tasks, live=live, actor=self.actor, config=self.config, state=state,
                         only=self.only)

    def reconcile(self, plan: Plan) -> bool:
        """Release stale claims (recorded as interrupted attempts) and close finished
        containers. True when it changed anything."""
        for r in plan.reclaim:
            digest = f"Reclaimed: {r.reason}."
            for pgid in self._stop_orphans(r.task_id):
                digest += f" Its orphaned agent (process group {pgid}) was stopped."
            rec = AttemptRecord(attempt=r.attempt, kind="interrupted", decision=policy.RELEASE,
                                digest=digest, at=now_rfc3339())
            self.store.comment(r.task_id, render(rec), author=self.actor)
            self.store.update([r.task_id], TaskChanges(status=Status.OPEN, assignee=""),
                              actor=self.actor)
            self.leases.drop_stale(r.task_id)
            self._event(f"reclaim {r.task_id}: {r.reason}; attempt {r.attempt} recorded as "
                        "interrupted")
        for tid in plan.close:
            result = self.store.close([tid], reason="all children closed", actor=self.actor)
            if result.closed:
                self.containers_closed.append(tid)
                self._event(f"close {tid}: all its children are closed")
        return bool(plan.reclaim) or any(tid in self.containers_closed for tid in plan.close)

    def launch(self, launches: Sequence[Launch]) -> list[str]:
        started = []
        for ln in launches:
            if not self.leases.acquire(ln.task_id):
                self._event(f"skip {ln.task_id}: another coordinator holds its lease")
                continue
            try:
                task = self.store.claim(ln.task_id, actor=self.actor)
            except ClaimRefused as e:
                self.leases.release(ln.task_id)
                self._event(f"skip {ln.task_id}: claim refused ({e})")
                continue
            label = self.config.github.escalation_label
            if label in task.labels:  # a human resumed an escalated task: it is no longer waiting
                task = self.store.update([ln.task_id], TaskChanges(remove_labels=(label,)),
                                         actor=self.actor)[0]
            wt = None
            try:
                if self.use_worktrees:
                    root = self.config.git.worktree_root
                    wt = gitops.create_task_worktree(
                        self.repo, ln.task_id, root=(self.repo / root) if root else None)
            except BaseException:
                self._unclaim(ln.task_id)
                raise
            history = attempt_history(task)
            stop = threading.Event()
            future = self.pool.submit(
                self._launcher,  # type: ignore[arg-type]
                repo=self.repo, store=self.store, config=self.config, task_id=ln.task_id,
                attempt=ln.attempt, budget=ln.budget, workdir=wt.path if wt else None,
                history=tuple(history), stop=stop, extra_env=self.agent_env())
            self.running[ln.task_id] = _Running(ln, future, stop, wt)
            started.append(ln.task_id)
            where = f" in worktree {wt.branch}" if wt is not None else ""
            budget = f" with budget {ln.budget}" if ln.budget else ""
            self._event(f"claim {ln.task_id}; launch agent ({ln.kind}, attempt {ln.attempt}"
                        f"{budget}){where}: {ln.title}")
            if wt is not None and wt.update:  # an earlier attempt's branch met the current tip
                self._event(f"{ln.task_id}: {wt.update}")
        return started

    def _unclaim(self, task_id: str) -> None:
        self.store.update([task_id], TaskChanges(status=Status.OPEN, assignee=""), actor=self.actor)
        self.leases.release(task_id)

    def wait(self, *, all_: bool, timeout: float | None = None) -> list[str]:
        """Task IDs whose runs finished (at least one unless timeout, or all with all_)."""
        if not self.running:
            return []
        futures = {r.future: tid for tid, r in self.running.items()}
        done, _ = wait(futures, timeout=timeout,
                       return_when="ALL_COMPLETED" if all_ else FIRST_COMPLETED)
        # completion order: the order the runs finished in, as far as we can see it
        return [futures[f] for f in done]

    def collect(self, task_id: str) -> Applied:
        """Judge one finished run, record it on the task, land its commits."""
        r = self.running.pop(task_id)
        try:
            run = r.future.result()
        except BaseException:
            self._cleanup_worktree(r, keep_branch=True, message="leftovers of a failed launch")
            self._unclaim(task_id)
            raise
        outcome = run.outcome
        if outcome.cost_usd:
            self.cost_usd += outcome.cost_usd
        task = self.store.all().get(task_id)
        if task is None:  # the agent deleted it: nothing to record on, a human must look
            self._cleanup_worktree(r, keep_branch=True, message="work left by a run whose "
                                   "task disappeared")
            self.leases.release(task_id)
            self.forge.alert(task_id, f"task {task_id} disappeared from the queue during its run; "
                             f"its work is on branch orchestrator/{task_id}; logs: "
                             f"{_rel(run.log_dir, self.repo)}")
            raise UserError(f"task {task_id} disappeared from the queue during its run")
        history = attempt_history(task)
        note = ""
        tampered: list[str] = []
        refused = ""
        if r.worktree is not None:
            message = f"{task_id}: work left uncommitted by attempt {r.launch.attempt}"
            try:
                gitops.commit_all(r.worktree.path, message)
            except UserError as e:
                # a git hook refused the leftovers: keep them on the task branch anyway (never
                # lose work), but do not count the run as a success
                refused = str(e)
                gitops.commit_all(r.worktree.path, message + " (a git hook refused it)",
                                  verify=False)
            tampered = gitops.tampered_paths(r.worktree.path, r.worktree.base,
                                             extra=self.config.git.tamper_paths)
        if refused and not tampered:
            outcome = _replace_outcome(outcome, kind="error", subclass="hook", retryable=True,
                                       digest=f"A git hook refused the work the agent left "
                                       f"uncommitted: {refused}")
        if tampered:
            outcome = _replace_outcome(outcome, kind="error", subclass="tamper", retryable=False,
                                       digest="The agent changed protected paths: "
                                       + ", ".join(tampered))
        decision = policy.decide(task, history, outcome, self.config)
        landed: tuple[str, ...] = ()
        action = decision.action
        if r.worktree is not None:
            if action == policy.DONE:
                result = gitops.land_task_branch(self.repo, r.worktree)
                if result.ok:
                    landed = result.commits
                    gitops.remove_task_worktree(self.repo, r.worktree)
                else:
                    kept = self._keep_conflicting_branch(r)
                    note = (f"Its commits did not land ({result.conflict}); they are kept on "
                            f"branch {kept}. The task is reopened to redo them on the current "
                            "tip.")
                    action = "requeue"
            else:
                self._cleanup_worktree(r, keep_branch=True, message="")
        digest = outcome.digest or ""
        if r.worktree is not None and r.worktree.update.startswith("kept "):
            digest = (digest + f" The attempt ran on its earlier branch, not rebased onto the "
                      f"current tip ({r.worktree.update}).").strip()
        if note:
            digest = (digest + " " + note).strip()
        if action == policy.ESCALATE or decision.releases:
            if r.worktree is not None:
                digest = (digest + f" Work so far is on branch {r.worktree.branch}.").strip()
        record = AttemptRecord(
            attempt=decision.attempt, kind=outcome.kind, subclass=outcome.subclass,
            budget=run.budget, digest=digest, log_dir=_rel(run.log_dir, self.repo),
            at=run.started_at or now_rfc3339(), decision=action, cost_usd=outcome.cost_usd)
        self.store.comment(task_id, render(record), author=self.actor)
        if action == "requeue" or decision.releases:
            self.store.update([task_id], TaskChanges(status=Status.OPEN, assignee=""),
                              actor=self.actor)
        elif action == policy.ESCALATE:
            self.store.update([task_id], TaskChanges(
                status=Status.BLOCKED, assignee="",
                add_labels=(self.config.github.escalation_label,)), actor=self.actor)
        self.leases.release(task_id)
        self.decisions[action] = self.decisions.get(action, 0) + 1
        applied = Applied(task_id, decision, record, landed, note)
        self._report_applied(applied, r, outcome)
        return applied

    def _report_applied(self, a: Applied, r: _Running, outcome: Any) -> None:
        d = a.decision
        what = outcome.kind + (f" ({outcome.subclass})" if outcome.subclass else "")
        reason = d.reason.removeprefix(what + "; ")  # the policy's reason repeats the outcome
        self._event(f"{a.task_id} attempt {d.attempt} ended: {what}; next: {a.record.decision} "
                    f"({reason})")
        if outcome.kind != "success" and outcome.digest:
            digest = outcome.digest if len(outcome.digest) <= 200 else outcome.digest[:199] + "…"
            self._event(f"  {digest} Logs: {a.record.log_dir}")
        if a.landed:
            self._event(f"land {a.task_id}: {len(a.landed)} commit(s) on the working branch "
                        f"({', '.join(c[:8] for c in a.landed)})")
        if a.note:
            self._event(f"requeue {a.task_id}: {a.note}")
        if a.record.decision == policy.ESCALATE:
            msg = [f"{a.task_id} needs a human: {d.reason}."]
            if a.record.digest:
                msg.append(a.record.digest)
            if a.record.log_dir:
                msg.append(f"Logs: {a.record.log_dir}")
            msg.append(f"Resume with: orchestrator task update {a.task_id} --status open")
            self.forge.alert(a.task_id, "\n".join(msg))

    def _cleanup_worktree(self, r: _Running, *, keep_branch: bool, message: str) -> None:
        if r.worktree is None:
            return
        if message:
            with contextlib.suppress(UserError):
                gitops.commit_all(r.worktree.path, f"{r.launch.task_id}: {message}")
        gitops.remove_task_worktree(self.repo, r.worktree, keep_branch=keep_branch)

    def _keep_conflicting_branch(self, r: _Running) -> str:
        """Move the task branch aside so the next try starts from the current tip."""
        wt = r.worktree
        kept = f"{wt.branch}-conflict-{r.launch.attempt}"
        gitops.remove_task_worktree(self.repo, wt, keep_branch=True)
        gitops.run_git(self.repo, "branch", "-M", wt.branch, kept)
        return kept

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
        self.forge.report_status(render_status(
            self.store.all(), escalation_label=self.config.github.escalation_label,
            events=self.events[-30:]))

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def commit_store(self) -> str:
        """Commit the embedded store file when it is tracked in git and changed, so the queue
        state travels with the branch (bd keeps its own database)."""
        if not self.git or self.store.kind != "jsonl":
            return ""
        path = getattr(self.store, "path", None)
        if path is None:
            return ""
        try:
            rel = str(Path(path).resolve().relative_to(self.repo))
        except ValueError:  # a queue file outside the repository
            return ""
        tracked = gitops.run_git(self.repo, "ls-files", "--error-unmatch", "--", rel,
                                 check=False).status == 0
        changed = gitops.run_git(self.repo, "status", "--porcelain", "--", rel).stdout.strip()
        if not tracked or not changed:  # a queue the user keeps out of git stays out
            return ""
        committed = gitops.run_git(self.repo, "show", f"HEAD:{rel}", check=False)
        if committed.status == 0 and _bookkeeping_only(committed.stdout, Path(path)):
            return ""  # e.g. a failed launch's claim and release: no state worth a commit
        # a failed commit (no identity, say) is reported, not swallowed: the queue file simply
        # stays modified for the next commit
        done = gitops.run_git(self.repo, "commit", "-q", "--no-verify", "-m",
                              "orchestrator: queue state", "--", rel, check=False)
        if done.status != 0:
            self._event(f"could not commit {rel}: {(done.stderr or done.stdout).strip()[:200]}")
            return ""
        return rel

    def _event(self, line: str) -> None:
        self.events.append(line)
        self.forge.event(line)


# fields a claim and its release rewrite without changing what the queue says
_BOOKKEEPING = frozenset({"updated_at", "started_at", "dependency_count", "dependent_count",
                          "comment_count"})


def _bookkeeping_only(committed: str, path: Path) -> bool:
    """True when the queue file differs from its committed text only in timestamps and
    derived counts (so committing it would be noise)."""
    def normal(text: str) -> list[str] | None:
        out = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                return None
            if not isinstance(record, dict):
                return None
            out.append(json.dumps({k: v for k, v in record.items() if k not in _BOOKKEEPING},
                                  sort_keys=True))
        return sorted(out)
    try:
        now = path.read_text(encoding="utf-8")
    except OSError:
        return False
    old = normal(committed)
    return old is not None and old == normal(now)


def _rel(path: Any, repo: Path) -> str:
    if not path:
        return ""
    p = Path(path)
    with contextlib.suppress(ValueError):
        return str(p.resolve().relative_to(repo))
    return str(p)


def _replace_outcome(outcome: Any, **changes: Any) -> Any:
    return dataclasses.replace(outcome, **changes)


# -- loops -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSummary:
    exit_code: int            # 0 drained, 3 stopped for a human, 1 error, 130 interrupted
    reason: str
    cycles: int
    attempts: int
    closed: tuple[str, ...]
    escalated: tuple[str, ...]
    remaining: int
    cost_usd: float
    elapsed_s: float
    decisions: Mapping[str, int] = field(default_factory=dict)  # attempts per decision
    containers_closed: tuple[str, ...] = ()   # epics/features closed with their children


def run_loop(coord: Coordinator, *, once: bool = False,
             tick: Callable[[], None] | None = None) -> RunSummary:
    """The seed's loop: until nothing is ready and nothing runs, or a guard stops it. With once,
    one cycle: launch what the plan says, wait for all of it, apply, stop."""
    started = time.monotonic()
    coord.preflight(coord.store.all())
    coord.prune_leftovers()
    state = policy.LoopState()
    attempts = 0
    closed: list[str] = []
    escalated: list[str] = []
    reason = ""
    known = set(coord.store.all())
    waiting_on: tuple[str, ...] = ()
    try:
        while True:
            plan = coord.plan(state)
            reconciled = coord.reconcile(plan)
            if plan.stop:
                reason = plan.stop
            if plan.launches:
                coord._event("ready queue: " + ", ".join(plan.ready))
                coord.launch(plan.launches)
            if not coord.running:
                if reconciled and not plan.stop and not once:
                    continue  # what it reopened or closed may make more work ready
                if plan.running and not plan.stop and not once:
                    # another coordinator's runs hold the slots (max_parallel is for the whole
                    # queue) or may unblock more work: wait for them instead of stopping
                    if plan.running != waiting_on:
                        waiting_on = plan.running
                        coord._event("waiting for runs of another coordinator: "
                                     + ", ".join(plan.running))
                    time.sleep(OTHERS_POLL_S)
                    if tick is not None:
                        tick()
                    continue
                if not reason:
                    reason = "nothing is ready" if not plan.escalated else \
                        "nothing is ready; waiting for a human"
                break
            finished: list[str] = []
            while not finished:
                finished = coord.wait(all_=once, timeout=1.0)
                if tick is not None:
                    tick()
            progressed = False
            closed_before = len(closed)
            new_escalations = []
            for tid in finished:
                a = coord.collect(tid)
                attempts += 1
                if a.record.decision == policy.DONE:
                    closed.append(tid)
                    progressed = True
                if a.record.decision == policy.HANDOFF:
                    progressed = True  # it left notes and work for the next agent
                if a.record.decision == policy.ESCALATE:
                    new_escalations.append(tid)
                    escalated.append(tid)
            now_ids = set(coord.store.all())
            if now_ids - known:
                progressed = True
                known = now_ids
            state = policy.after_cycle(state, progressed=progressed,
                                       closed=len(closed) > closed_before,
                                       escalated=new_escalations)
            coord.report(force=False)
            if once:
                # a last reconcile so a finished feature's epic closes in the same cycle
                coord.reconcile(coord.plan(state))
                reason = reason or "one cycle done"
                break
    except KeyboardInterrupt:
        coord._event("interrupted: stopping running agents and releasing their claims")
        coord.interrupt()
        coord.report()
        return _summary(coord, 130, "interrupted", state, attempts, closed, escalated, started)
    except BaseException:
        for r in coord.running.values():
            r.stop.set()
        for tid in list(coord.running):
            with contextlib.suppress(BaseException):
                wait([coord.running[tid].future])
                coord.collect(tid)
        raise
    finally:
        coord.close()
        coord.commit_store()
    coord.report()
    tasks = coord.store.all()
    waiting = [t.id for t in tasks.values() if coord.config.github.escalation_label in t.labels
               and t.status != Status.CLOSED]
    if once:
        code = 3 if (escalated and coord.config.dispatch.on_escalation == "stop") or plan.stop else 0
    else:
        code = 3 if (waiting or plan.stop) else 0
    return _summary(coord, code, reason, state, attempts, closed, escalated, started)


def _summary(coord: Coordinator, code: int, reason: str, state: policy.LoopState, attempts: int,
             closed: list[str], escalated: list[str], started: float) -> RunSummary:
    tasks = coord.store.all()
    remaining = sum(1 for t in tasks.values() if t.status != Status.CLOSED)
    return RunSummary(code, reason, state.cycles, attempts, tuple(closed), tuple(escalated),
                      remaining, coord.cost_usd, time.monotonic() - started,
                      dict(coord.decisions), tuple(coord.containers_closed))


_DECISION_ORDER = (policy.DONE, policy.RETRY, policy.HANDOFF, policy.WAIT, "requeue",
                   policy.RELEASE, policy.ESCALATE)


def summary_lines(s: RunSummary) -> list[str]:
    status = {0: "drained", 3: "stopped for a human", 1: "error", 130: "interrupted"}.get(
        s.exit_code, str(s.exit_code))
    counts = ", ".join(f"{s.decisions[d]} {d}" for d in _DECISION_ORDER if s.decisions.get(d))
    lines = [f"summary: {status} ({s.reason}); {s.cycles} cycle(s), {s.elapsed_s:.1f}s",
             f"  {s.attempts} agent run(s)" + (f": {counts}" if counts else "")
             + (f"; {len(s.containers_closed)} epic(s)/feature(s) closed with their children"
                if s.containers_closed else "")
             + f"; {s.remaining} task(s) not closed"]
    if s.cost_usd:
        lines.append(f"  agent cost: ${s.cost_usd:.2f}")
    if s.escalated:
        lines.append(f"  escalated: {', '.join(s.escalated)}")
    return lines


def plan_lines(plan: Plan, *, dry_run: bool) -> list[str]:
    return render_plan(plan, dry_run=dry_run)


def plan_json(plan: Plan) -> str:
    from orchestrator.tasks.shapes import dumps  # json.dumps(indent=2), in C
    return dumps(plan.to_json())

