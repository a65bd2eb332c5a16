"""The scripted agent `orchestrator demo` runs instead of an LLM (via the `command` profile):
`python -m orchestrator.demo_agent TASK_ID ATTEMPT BUDGET`.

It does what a coding agent is asked to do, on a small scale: read its task with the task
command it was given (ORCHESTRATOR_TASK_CMD), write one file, commit it, close the task. Two
labels script the failure cases the coordinator must handle:
- `demo:fail-once`: the first try crashes with an error (the coordinator retries it with the
  next thinking budget);
- `demo:context-once`: the first try does half the work, leaves handoff notes on the task and
  dies with Claude's context-exhaustion message (the coordinator hands it to a fresh agent,
  which continues from the notes).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

HANDOFF = "HANDOFF:"


def _task_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    base = shlex.split(os.environ.get("ORCHESTRATOR_TASK_CMD", "orchestrator task"))
    return subprocess.run([*base, *args], capture_output=True, text=True, check=True)


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, text=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str]) -> int:
    task_id, attempt, budget = argv[0], int(argv[1]), (argv[2] if len(argv) > 2 else "")
    shown = json.loads(_task_cmd("show", task_id, "--json").stdout)
    task = shown[0] if isinstance(shown, list) else shown
    labels = set(task.get("labels") or [])
    notes = task.get("notes") or ""
    print(f"demo agent: task {task_id} ({task.get('title')}), attempt {attempt}, "
          f"budget {budget or '-'}", flush=True)
    out = Path("demo") / f"{task_id}.md"

    if "demo:fail-once" in labels and attempt == 1:
        print("Traceback (most recent call last):\n  File \"greet.py\", line 3\n"
              "RuntimeError: simulated failure on the first try", flush=True)
        return 1

    if "demo:context-once" in labels and HANDOFF not in notes:
        _write(out, f"# {task.get('title')}\n\nFirst half, written before running out of context.\n")
        _git("add", "-A")
        _git("commit", "-q", "-m", f"{task_id}: first half (before a handoff)")
        _task_cmd("update", task_id, "--append-notes",
                  f"{HANDOFF} first half of {out} is committed on the task branch; "
                  "next: write the second half, then close the task.")
        print("wrote handoff notes on the task", flush=True)
        print("Prompt is too long", flush=True)
        return 1

    if HANDOFF in notes:
        handoff = notes[notes.index(HANDOFF):].splitlines()[0]
        print(f"continuing from the handoff notes: {handoff}", flush=True)
        text = out.read_text() if out.exists() else f"# {task.get('title')}\n"
        _write(out, text + "Second half, written by the fresh agent after the handoff.\n")
    else:
        _write(out, f"# {task.get('title')}\n\nDone by the demo agent on attempt {attempt}.\n")
    _git("add", "-A")
    _git("commit", "-q", "-m", f"{task_id}: {task.get('title')}")
    _task_cmd("close", task_id, "--reason", f"done by the demo agent ({out})")
    print(f"committed {out} and closed {task_id}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
