"""`orchestrator demo [DIR]`: the whole loop on a throwaway repository, no bd, no network, no
API key. A small phase (bootstrap task, two features with their tasks and E2E checks, a
regression task, real `blocks` and `parent-child` edges) on the embedded JSONL store, drained
by a scripted agent (`orchestrator/demo_agent.py`) through the real coordinator: one task fails
once and is retried with a larger budget, one runs out of context once and is handed off."""
from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from orchestrator import process
from orchestrator.config import CONFIG_NAME, config_for_repo
from orchestrator.errors import UserError
from orchestrator.tasks.factory import open_store
from orchestrator.tasks.store import NewTask

PHASE = "demo"

# (id, title, type, parent, blocked by, labels)
QUEUE: tuple[tuple[str, str, str, str | None, tuple[str, ...], tuple[str, ...]], ...] = (
    ("demo-1", "Plan features for demo", "task", None, (), ()),
    ("demo-2", "Feature A: greeting module", "epic", None, (), ()),
    ("demo-2.1", "Plan tasks for Feature A", "task", "demo-2", ("demo-1",), ()),
    ("demo-2.2", "A.1 Write the greeting function", "task", "demo-2", ("demo-2.1",),
     ("demo:fail-once",)),
    ("demo-2.3", "A.2 Add greeting tests", "task", "demo-2", ("demo-2.2",), ()),
    ("demo-2.4", "A.E2E End-to-end verification of Feature A", "task", "demo-2", ("demo-2.3",),
     ("e2e",)),
    ("demo-3", "Feature B: farewell module", "epic", None, (), ()),
    ("demo-3.1", "Plan tasks for Feature B", "task", "demo-3", ("demo-1",), ()),
    ("demo-3.2", "B.1 Write the farewell function", "task", "demo-3", ("demo-3.1",),
     ("demo:context-once",)),
    ("demo-3.3", "B.E2E End-to-end verification of Feature B", "task", "demo-3", ("demo-3.2",),
     ("e2e",)),
    ("demo-4", "Regression testing", "epic", None, (), ()),
    ("demo-4.1", "Run full regression pack", "task", "demo-4", ("demo-2.4", "demo-3.3"),
     ("regression",)),
)


def _config_text() -> str:
    argv = [sys.executable, "-m", "orchestrator.demo_agent", "{task_id}", "{attempt}", "{budget}"]
    command = json.dumps(argv)  # a JSON list is YAML, quoted and escaped
    return (
        "# orchestrator demo: a scripted agent instead of an LLM\n"
        "store: jsonl\n"
        "jsonl:\n  prefix: demo\n"
        "agent:\n  profile: command\n"
        f"  command: {command}\n"
        "  timeout_minutes: 2\n  idle_timeout_minutes: 1\n"
        "  budgets: [high, xhigh, max]\n"
        "dispatch:\n  max_parallel: 2   # features A and B are independent here: two agents at once\n"
        "  max_attempts: 3\n  max_handoffs: 3\n"
    )


def _git(repo: Path, *args: str, check: bool = True) -> str:
    return process.run(["git", "-C", str(repo), *args], check=check).stdout


def create_demo_repo(repo: Path) -> None:
    if repo.exists() and not repo.is_dir():
        raise UserError(f"{repo}: is a file; give a new directory")
    if repo.exists() and any(repo.iterdir()):
        raise UserError(f"{repo}: exists and is not empty; give a new directory")
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "demo@example.invalid")
    _git(repo, "config", "user.name", "orchestrator demo")
    _git(repo, "config", "commit.gpgsign", "false")
    (repo / CONFIG_NAME).write_text(_config_text())
    (repo / ".gitignore").write_text("logs/\n.beads/*.lock\n")
    (repo / "README.md").write_text("A throwaway repository made by `orchestrator demo`.\n")
    config = config_for_repo(repo, None)
    store = open_store(repo, config)
    for tid, title, itype, parent, _blockers, labels in QUEUE:
        store.create(NewTask(title=title, issue_type=itype, id=tid, parent=parent,
                             priority=1 if tid == "demo-1" else 2,
                             labels=(f"phase:{PHASE}", *labels),
                             description=f"Demo task: write demo/{tid}.md and close the task."),
                     actor="demo")
    for tid, _title, _type, _parent, blockers, _labels in QUEUE:
        for b in blockers:
            store.dep_add(tid, b, actor="demo")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "demo: a small phase to drain")


def demo(directory: str | None, *, cli: Callable[[list[str]], int]) -> int:
    repo = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    repo = repo.resolve()
    create_demo_repo(repo)
    print(f"demo repository: {repo}")
    print(f"queue: {len(QUEUE)} tasks in .beads/issues.jsonl (a bootstrap task, features A and B "
          "with tasks and E2E checks, a regression task); agent: scripted "
          "(python -m orchestrator.demo_agent)")
    print("A.1 fails on its first try; B.1 runs out of context on its first try.\n", flush=True)
    code = cli(["--repo", str(repo), "run"])
    print()
    _git(repo, "add", "-A", ".beads")
    _git(repo, "commit", "-q", "-m", "demo: final queue state", check=False)  # may be clean
    print("final queue:", flush=True)
    cli(["--repo", str(repo), "status"])
    from orchestrator.tasks.history import read_history
    tasks = open_store(repo, config_for_repo(repo, None)).all()
    print("\nattempt history recorded on the tasks (comments; `orchestrator show ID`):")
    for tid in ("demo-2.2", "demo-3.2"):
        for r in read_history(tasks[tid]):
            print(f"  {tid} attempt {r.attempt}: {r.kind}, budget {r.budget} -> {r.decision}"
                  f" (logs: {r.log_dir})")
    notes = tasks["demo-3.2"].notes
    if notes:
        print(f"  demo-3.2 handoff notes: {notes.splitlines()[0]}")
    log = _git(repo, "log", "--oneline", "--reverse")
    print("\nworking branch (main), oldest first:\n" + log.rstrip())
    print(f"\nlook around: cd {repo} && orchestrator show demo-2.2 demo-3.2  "
          "(attempt history on the tasks), logs/run/ (agent logs), logs/status.md")
    return code
