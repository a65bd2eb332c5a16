"""`orchestrator phase start`: start a new phase. Refuses unless the previous
phase is fully closed and the regression command passes, then creates the bootstrap task
"Plan features for NAME" (priority 1, label phase:NAME) with a description of the phase's steps."""
from __future__ import annotations

import shlex
from pathlib import Path

from orchestrator import process
from orchestrator.errors import UserError
from orchestrator.tasks import shapes
from orchestrator.tasks.model import Status
from orchestrator.tasks.store import NewTask, TaskStore

STEPS = (
    "Read implementation plan and test spec",
    "Identify feature boundaries (4-7 features)",
    "Create features with comprehensive descriptions",
    "Create 'Plan tasks' child task for each feature",
    "Set up dependencies (sequential execution)",
    "Include Regression Testing as final feature",
)


# The feature-planning instructions are packaged (orchestrator/agents/prompts); the orchestrator
# gives them to the agent with this task. A repository's prompt/ folder only overrides them.
INSTRUCTIONS = ("Follow the feature-planning instructions the orchestrator gives you with this "
                "task (a repository may override them in prompt/plan_features.txt).")


def bootstrap_description(phase: str, plan: str, tests: str | None,
                          prompt: str | None = None) -> str:
    head = f"Read {prompt} for instructions." if prompt else INSTRUCTIONS
    lines = [head, "", "## Phase Parameters", f"- Phase: {phase}",
             f"- Implementation plan: {plan}"]
    if tests:
        lines.append(f"- Test specification: {tests}")
    lines += ["", "## Your Task", *(f"{i}. {s}" for i, s in enumerate(STEPS, 1))]
    return "\n".join(lines)


def phase_start(store: TaskStore, *, repo: Path, phase: str, plan: str, tests: str | None,
                regression_cmd: str | None, prompt: str | None, actor: str, as_json: bool) -> int:
    if not phase.strip() or any(ch.isspace() for ch in phase):
        raise UserError(f"--phase {phase!r}: a phase name is one word, e.g. phase2")
    for flag, path in (("--plan", plan), ("--tests", tests)):
        if path and not (repo / path).is_file():
            where = "" if Path(path).is_absolute() else f" in {repo.resolve()} (paths are relative to the repository root)"
            raise UserError(f"{flag} {path}: no such file{where}")
    tasks = store.all()
    label = f"phase:{phase}"
    if any(label in t.labels for t in tasks.values()):
        raise UserError(f"phase {phase} already has tasks (label {label})")
    still_open = [t for t in tasks.values() if t.status not in (Status.CLOSED, Status.PINNED)]
    if still_open:
        listed = ", ".join(f"{t.id} ({t.status}) {t.title}" for t in still_open[:10])
        more = f" and {len(still_open) - 10} more" if len(still_open) > 10 else ""
        raise UserError(f"the previous phase is not closed: {len(still_open)} open task(s): "
                        f"{listed}{more}")
    if regression_cmd:
        try:
            argv = shlex.split(regression_cmd)
        except ValueError as e:  # "No closing quotation" and the like
            raise UserError(f"--regression-cmd {regression_cmd}: {e}") from None
        if not argv:
            raise UserError("--regression-cmd is empty")
        done = process.run(argv, cwd=repo, check=False, timeout=3600)
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise UserError(f"regression command failed (exit {done.returncode}): "
                            f"{regression_cmd}: {tail[0]}")
    task = store.create(NewTask(title=f"Plan features for {phase}", issue_type="task", priority=1,
                                labels=(label,),
                                description=bootstrap_description(phase, plan, tests, prompt)),
                        actor=actor)
    if as_json:
        print(shapes.dumps(shapes.issue(task)))
    else:
        print(f"Created {task.id}: {task.title} (P1, {label}); start the loop with "
              "`orchestrator run`")
    return 0
