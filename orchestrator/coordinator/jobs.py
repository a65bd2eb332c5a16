"""The coordinator's three steps as the GitHub workflow's jobs, on separate machines that share
nothing but the branch:

- `plan_job`: claim what the plan launches and push the claims; the matrix is the claims.
- `agent_job`: one agent on one claimed task, read-only: its result record, logs and commits
  (a git bundle) go to a directory the workflow uploads as the leg's artifact.
- `report_job`: the single writer of one result: check it, apply it (`apply.apply_results`,
  the code `orchestrator run` uses), push.
- `edit_job`: a person's edit from a comment command (`/orchestrator retry ID`), pushed.

Runs overlap (a finished leg dispatches the next cycle at once, see docs/github.md), so every
write to the branch is a compare-and-swap: start from the remote's tip, make the change, push;
a rejected push (someone else pushed first) throws the local change away and does it again
from the new tip, a bounded number of times. The store is reopened for each try, so a try
never sees another try's half-made change.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from orchestrator import gitops
from orchestrator.agents.outcome import Outcome
from orchestrator.agents.session import task_command
from orchestrator.config import Config
from orchestrator.coordinator import planning
from orchestrator.coordinator.agent import run_agent
from orchestrator.coordinator.apply import Applied, apply_results
from orchestrator.coordinator.ports import Ports
from orchestrator.coordinator.queue_state import commit_queue_state
from orchestrator.coordinator.results import ResultRecord, read_result
from orchestrator.dispatch import policy
from orchestrator.dispatch.plan import Launch, Plan, attempt_history
from orchestrator.errors import UserError
from orchestrator.fileio import write_atomic
from orchestrator.forge.local import Forge
from orchestrator.leases import Leases
from orchestrator.runlog import RESULT
from orchestrator.tasks.kinds import task_kind
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import TaskStore

StoreFactory = Callable[[], TaskStore]
T = TypeVar("T")
MIN_PUSH_TRIES = 8      # concurrent runs on one branch: each rejection means someone landed
REDO_JITTER_S = 2.0     # the longest random wait before redoing a rejected change
AGENT_JOB_SLACK_MIN = 10  # the agent job's timeout over agent.timeout_minutes (install, bundle)


@dataclass(frozen=True)
class Branch:
    repo: Path
    name: str             # the working branch the workflow was dispatched on
    remote: str = "origin"


def sync(branch: Branch) -> str:
    """Put the working tree on the remote branch's tip (a job's checkout may be behind when
    runs overlap) and return that commit."""
    repo = branch.repo
    gitops.run_git(repo, "fetch", "-q", branch.remote, f"refs/heads/{branch.name}")
    gitops.run_git(repo, "checkout", "-q", "-f", "-B", branch.name, "FETCH_HEAD")
    return gitops.head_commit(repo)


def push(branch: Branch) -> bool:
    """Push HEAD to the branch; False when the remote moved (fetch first, or two pushes at the
    same instant: "failed to update ref"), any other failure is an error."""
    ref = f"refs/heads/{branch.name}"
    done = gitops.run_git(branch.repo, "push", "--porcelain", branch.remote, f"HEAD:{ref}",
                          check=False)
    # --porcelain: "<flag>\t<from>:<to>\t<summary>"; " " fast-forward, "*" new, "=" up to date
    flags = [line.split("\t", 1)[0] for line in done.stdout.splitlines() if f":{ref}\t" in line]
    if done.status == 0 and flags and flags[0] in (" ", "*"):
        return True
    if flags and flags[0] == "=":
        # the remote already has this very commit: another run made the same change from the
        # same tip in the same second (same tree, parent, author and date), e.g. the same
        # claims. It is theirs, not ours: redo from the tip as for a rejection.
        return False
    text = done.stdout + done.stderr
    if "[rejected]" in text or "[remote rejected]" in text or "fetch first" in text \
            or "non-fast-forward" in text or "failed to update ref" in text:
        return False
    raise UserError(f"git push {branch.remote} {branch.name}: "
                    f"{(text.strip().splitlines() or ['failed'])[-1]}")


def push_tries(max_parallel: int) -> int:
    """How many times a job tries its compare-and-swap. Each rejection means another writer
    landed; in a burst every in-flight leg's report, a plan and a status-cache push may contend,
    and each round lets one through, so the last of them needs max_parallel + 2 tries."""
    return max(MIN_PUSH_TRIES, max_parallel + 2)


def redo_delay(try_number: int, draw: Callable[[float, float], float] = random.uniform) -> float:
    """A small random wait before redoing a rejected change, growing with the tries: writers
    rejected by the same push would otherwise redo in lockstep and collide again."""
    return draw(0.0, min(REDO_JITTER_S, 0.25 * try_number))


def compare_and_swap(branch: Branch, change: Callable[[str], tuple[T, bool]],
                     *, tries: int = MIN_PUSH_TRIES, event: Callable[[str], None] = print,
                     sleep: Callable[[float], None] = time.sleep,
                     draw: Callable[[float, float], float] = random.uniform) -> T:
    """`change(tip)` edits the repository at the remote tip and says whether it committed;
    the commit is pushed, and a rejected push is retried from the new tip after a short
    random wait (`sleep` and `draw` are the clock and the dice; tests pass their own)."""
    for n in range(1, tries + 1):
        tip = sync(branch)
        result, committed = change(tip)
        if not committed or push(branch):
            return result
        if n < tries:
            event(f"push rejected (another run pushed first); try {n + 1} of {tries} from the "
                  "new tip")
            sleep(redo_delay(n, draw))
    raise UserError(f"could not push to {branch.remote}/{branch.name} after {tries} tries: "
                    "other runs keep pushing first")


def ports(repo: Path, store: TaskStore, config: Config, forge: Forge, actor: str) -> Ports:
    """A job's ports. Lease files are per machine, so across jobs the claim itself is the
    lease: a claim older than the agent job's timeout is stale (planning.live_runs). Each try
    gets an empty lease directory of its own: a lease taken by a try whose push was rejected
    must not count as a run in the next try."""
    ttl = timedelta(minutes=config.agent.timeout_minutes + AGENT_JOB_SLACK_MIN)
    leases = Leases(Path(tempfile.mkdtemp(prefix="orchestrator-leases-")), ttl)
    return Ports(repo.resolve(), store, config, forge, actor, leases, True, forge.event)


# -- plan ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanJob:
    plan: Plan
    claimed: tuple[Launch, ...]   # what the matrix launches
    base: str                     # the commit the agents start from (the claims pushed)

    def matrix(self, config: Config) -> dict[str, Any]:
        timeout = math.ceil(config.agent.timeout_minutes) + AGENT_JOB_SLACK_MIN
        return {"include": [{"task": ln.task_id, "attempt": ln.attempt, "budget": ln.budget,
                             "kind": ln.kind, "timeout": timeout} for ln in self.claimed]}


def plan_job(branch: Branch, stores: StoreFactory, config: Config, forge: Forge, actor: str,
             *, dry_run: bool = False) -> PlanJob:
    """Reconcile, plan and claim at the branch's tip, and push the claims (compare-and-swap):
    a task is claimed by one run only, and the in-flight count (`in_progress` tasks of the
    actor) holds max_parallel across overlapping runs."""
    if dry_run:
        tip = sync(branch)
        p = ports(branch.repo, stores(), config, forge, actor)
        return PlanJob(planning.decide_plan(p, policy.LoopState()), (), tip)

    def change(tip: str) -> tuple[PlanJob, bool]:
        p = ports(branch.repo, stores(), config, forge, actor)
        cycle = planning.plan_cycle(p, policy.LoopState(), launch=True)
        committed = bool(commit_queue_state(p))
        head = gitops.head_commit(branch.repo) if committed else tip
        claimed = tuple(c.launch for c in cycle.claimed)
        return PlanJob(cycle.plan, claimed if committed else (), head), committed

    return compare_and_swap(branch, change, tries=push_tries(config.dispatch.max_parallel),
                            event=forge.event)


# -- agent -----------------------------------------------------------------------------------

def agent_job(repo: Path, store: TaskStore, config: Config, *, task_id: str, attempt: int,
              budget: str, kind: str, result_dir: Path, config_path: str | None = None,
              store_kind: str | None = None) -> ResultRecord:
    """Run the agent on its claimed task in a worktree of the plan's commit, and leave its
    result record, logs and commits bundle in `result_dir`. Nothing is pushed and the queue
    file's changes stay in this job: the report job applies the record. A run that cannot
    start (the agent CLI missing, say) is a result too, an `error` one, so the report records
    it and the policy decides."""
    repo = repo.resolve()
    task = store.show([task_id])[0]
    launch = Launch(task_id, task.title, kind or task_kind(task, config), attempt, budget,
                    "workflow", task.priority, 1)
    wt = gitops.create_task_worktree(repo, task_id,
                                     root=gitops.configured_root(repo, config.git.worktree_root))
    cmd = task_command(store, repo, wt.path, config_path=config_path, store_kind=store_kind)
    result_dir.mkdir(parents=True, exist_ok=True)
    try:
        record = run_agent(launch, repo=repo, store=store, config=config, worktree=wt,
                           task_cmd=cmd, history=attempt_history(task), bundle=True)
    except UserError as e:
        record = ResultRecord(task_id=task_id, attempt=attempt, kind=launch.kind, budget=budget,
                              log_dir="", started_at="", outcome=Outcome(
                                  kind="error", subclass="launch",
                                  digest=f"The agent could not start: {e}"))
        write_atomic(result_dir / RESULT, _json(record))
        return record
    log_dir = repo / record.log_dir
    shutil.copytree(log_dir, result_dir, dirs_exist_ok=True)
    return record


def _json(record: ResultRecord) -> str:
    return json.dumps(record.to_json(), indent=2) + "\n"


# -- report ----------------------------------------------------------------------------------

def load_result(result_dir: Path, *, task_id: str, attempt: int, agent_job: str) -> ResultRecord:
    """The leg's result record, or a failed one when the agent job left none (it was cancelled,
    timed out, or crashed before writing it). A record for another task or attempt is refused
    as tampering: the agent job is not trusted to speak for anything but its own task."""
    path = result_dir / RESULT
    if not path.is_file():
        why = f"the agent job ended ({agent_job or 'unknown'}) without a result"
        kind = "timeout" if agent_job == "cancelled" else "error"
        return ResultRecord(task_id=task_id, attempt=attempt, kind="", budget="", log_dir="",
                            started_at="", outcome=Outcome(kind=kind, digest=why.capitalize() + "."))
    record = read_result(path)
    if (record.task_id, record.attempt) != (task_id, attempt):
        return _tampered(ResultRecord(task_id=task_id, attempt=attempt, kind=record.kind,
                                      budget=record.budget, log_dir="", started_at="",
                                      outcome=record.outcome),
                         [f"result.json speaks for {record.task_id} attempt {record.attempt}"])
    return record


def _tampered(record: ResultRecord, what: list[str]) -> ResultRecord:
    outcome = dataclasses.replace(record.outcome, kind="error", subclass="tamper",
                                  retryable=False,
                                  digest="The agent changed what it may not: " + ", ".join(what))
    # nothing of a tampering run is applied: no commits, no task changes
    return dataclasses.replace(record, outcome=outcome,
                               commits=dataclasses.replace(record.commits, bundle="", branch=""),
                               effects=dataclasses.replace(record.effects, readable=False))


def check_commits(repo: Path, record: ResultRecord, config: Config) -> ResultRecord:
    """Re-judge what the bundle's commits change (the agent job judged it too, but the
    agent ran there): the workflows, the config, the task queue file and git.tamper_paths are
    not the agent's to change."""
    c = record.commits
    if not c.bundle or not c.branch:
        return record
    wt = gitops.fetch_task_bundle(repo, Path(c.bundle), record.task_id)
    changed = gitops.run_git(repo, "diff", "--name-only", "--no-renames", wt.base,
                             wt.branch).stdout.split()
    protected = (*gitops.TAMPER_PATHS, config.jsonl.path, ".beads/", *config.git.tamper_paths)
    found = sorted(p for p in changed if any(
        p == x.rstrip("/") or (x.endswith("/") and p.startswith(x)) for x in protected))
    return _tampered(record, found) if found else record


def report_job(branch: Branch, stores: StoreFactory, config: Config, forge: Forge, actor: str,
               record: ResultRecord) -> list[Applied]:
    """Apply one result at the branch's tip and push (compare-and-swap). A result whose claim
    is gone (a plan judged the run stale and reclaimed the task) is not applied: the task has
    already gone back to the queue."""
    def change(tip: str) -> tuple[list[Applied], bool]:
        store = stores()
        task = store.all().get(record.task_id)
        if task is None or task.status != Status.IN_PROGRESS or task.assignee != actor:
            forge.event(f"{record.task_id}: its claim is gone (reclaimed as stale, or edited by "
                        "a human); the result is not applied")
            return [], False
        checked = check_commits(branch.repo, record, config)
        p = ports(branch.repo, store, config, forge, actor)
        applied = apply_results(p, [checked])
        return applied, gitops.head_commit(branch.repo) != tip

    return compare_and_swap(branch, change, tries=push_tries(config.dispatch.max_parallel),
                            event=forge.event)


# -- a person's edit (the comment job) --------------------------------------------------------

def edit_job(branch: Branch, stores: StoreFactory, config: Config, forge: Forge, actor: str,
             edit: Callable[[TaskStore], T]) -> tuple[T, bool]:
    """A person's edit of the queue (`/orchestrator retry ID`) made at the branch's tip and
    committed as the plan commits its claims (`commit_queue_state`: the JSONL queue file),
    pushed as compare-and-swap. When a report pushed first, the edit is made again on the new
    tip, so neither the report's result nor the edit is lost; `edit` decides afresh each time
    (the task may have changed meanwhile). Returns its last answer and whether a commit was
    pushed (none when the edit changed nothing)."""
    def change(tip: str) -> tuple[tuple[T, bool], bool]:
        store = stores()
        result = edit(store)
        committed = bool(commit_queue_state(ports(branch.repo, store, config, forge, actor)))
        return (result, committed), committed

    return compare_and_swap(branch, change, tries=push_tries(config.dispatch.max_parallel),
                            event=forge.event)


def commit_and_push(branch: Branch, files: Mapping[str, str | Callable[[str | None], str]],
                    message: str, event: Callable[[str], None] = print, *,
                    tries: int = MIN_PUSH_TRIES) -> None:
    """Write `files` at the remote tip, commit and push them. A file's value is its text, or a
    function of the text at the tip (None: no such file) that merges this job's change into
    what other runs pushed meanwhile (the forge's cache file, never the truth about tasks)."""
    def change(tip: str) -> tuple[None, bool]:
        for rel, value in files.items():
            path = branch.repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(value):
                value = value(path.read_text(encoding="utf-8") if path.is_file() else None)
            write_atomic(path, value)
        gitops.run_git(branch.repo, "add", "--", *files)
        if gitops.run_git(branch.repo, "diff", "--cached", "--quiet", check=False).status == 0:
            return None, False
        gitops.run_git(branch.repo, "commit", "-q", "--no-verify", "-m", message)
        return None, True

    compare_and_swap(branch, change, tries=tries, event=event)
