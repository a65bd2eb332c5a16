"""The git hook files: install, uninstall and report our shims in the hooks directory git uses.

Install writes the one shipped template (hooks/hook-tmpl, packaged as orchestrator.hooks) once
per hook name into the hooks directory git uses
(core.hooksPath, else .git/hooks). A hook already there (the user's, bd's managed hook, a hook
manager's) is renamed to `<name>.orchestrator-prev` and the shim runs it first, with the same
arguments and stdin; its exit code counts. bd's own shims keep working either way round: bd
edits only the section between its BEGIN/END BEADS INTEGRATION markers, and our shim never
`exec`s or exits early, so anything bd appends to it still runs; only the part between our
markers is ours (updated by a reinstall, removed by uninstall). Install also registers the
issues.jsonl merge driver (`.gitattributes` + `merge.orchestrator-jsonl.*` in git config).
Installing twice changes nothing; uninstall puts back exactly what was there.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError
from orchestrator.fileio import write_atomic
from orchestrator.gitops import MERGE_DRIVER as DRIVER
from orchestrator.gitops import git_common_dir, merge_driver_command, run_git

HOOK_NAMES = ("pre-commit", "commit-msg", "pre-push", "post-merge", "post-checkout")

MARKER = "# --- BEGIN ORCHESTRATOR HOOK"
END_MARKER = "# --- END ORCHESTRATOR HOOK ---"
BD_MARKER = "# --- BEGIN BEADS INTEGRATION"
PREV_SUFFIX = ".orchestrator-prev"


def hooks_dir(top: Path) -> Path:
    """Where git looks for hooks here: core.hooksPath if set, else the common .git/hooks."""
    configured = run_git(top, "config", "--get", "core.hooksPath", check=False).stdout.strip()
    path = Path(run_git(top, "rev-parse", "--path-format=absolute", "--git-path", "hooks").stdout.strip())
    if path.exists() and not path.is_dir():
        what = f"core.hooksPath ({configured})" if configured else "the hooks path"
        raise UserError(f"{path}: {what} is a file, not a directory; fix core.hooksPath or move the file")
    return path


def _state_path(top: Path) -> Path:
    common = git_common_dir(top)
    if common is None:
        raise UserError(f"{top}: not a git repository")
    return common / "orchestrator" / "hooks-install.json"


def template() -> str:
    return resources.files("orchestrator.hooks").joinpath("hook-tmpl").read_text(encoding="utf-8")


def shim(name: str) -> str:
    """The shim for one hook: the template with the hook's name and the Python that installs it
    (so the hook runs the same orchestrator whatever PATH git runs hooks with)."""
    text = template()
    for placeholder, value in (("ORCHESTRATOR_HOOK=''", f"ORCHESTRATOR_HOOK={name}"),
                               ("INSTALL_PYTHON=''", f"INSTALL_PYTHON={shlex.quote(sys.executable)}")):
        if placeholder not in text:
            raise AssertionError(f"hook-tmpl lost its {placeholder} line")
        text = text.replace(placeholder, value, 1)
    return text


def _is_ours(path: Path) -> bool:
    try:
        return path.is_file() and MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _split(text: str) -> tuple[str, str, str]:
    """(before, our section with its markers and newline, after) of a hook file that is ours.

    Only the section is ours: bd (and hook managers like it) add their own marked sections to a
    hook file they find, and those must survive a reinstall or an uninstall."""
    start = text.index(MARKER)
    end = text.find(END_MARKER, start)
    end = len(text) if end < 0 else text.find("\n", end) + 1 or len(text)
    return text[:start], text[start:end], text[end:]


def _foreign(text: str) -> str:
    """What a hook file of ours holds besides our section and the shebang ('' if nothing)."""
    before, _, after = _split(text)
    rest = before.removeprefix("#!/bin/sh\n") + after
    return rest if rest.strip() else ""


def _describe(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unreadable"
    return "bd's managed hook" if BD_MARKER in text else "an existing hook"


def _attributes_line(queue_path: str) -> str:
    return f"{queue_path} merge={DRIVER}"


def install(top: Path, queue_path: str) -> list[str]:
    hdir = hooks_dir(top)
    for name in HOOK_NAMES:  # refuse before changing anything: no half-installed set
        target, prev = hdir / name, hdir / (name + PREV_SUFFIX)
        if target.is_dir():
            raise UserError(f"{target}: is a directory, expected a hook file")
        taken = (target.exists() or target.is_symlink()) and (prev.exists() or prev.is_symlink())
        if taken and not _is_ours(target):
            raise UserError(f"{target} and {prev} both exist and neither is ours; move one away first")
    hdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    for name in HOOK_NAMES:
        target, prev = hdir / name, hdir / (name + PREV_SUFFIX)
        content = shim(name)
        if _is_ours(target):
            text = target.read_text(encoding="utf-8")
            before, section, after = _split(text)
            new = _split(content)[1]
            if section != new:
                write_atomic(target, before + new + after)
                notes.append(f"{name}: updated")
            continue
        if target.exists() or target.is_symlink():
            what = _describe(target)
            os.rename(target, prev)
            notes.append(f"{name}: installed; {what} kept as {prev.name} and runs first")
        else:
            notes.append(f"{name}: installed")
        write_atomic(target, content, mode=0o755)
    run_git(top, "config", f"merge.{DRIVER}.name", "beads issues.jsonl 3-way merge by task and field (orchestrator)")
    run_git(top, "config", f"merge.{DRIVER}.driver", merge_driver_command())
    attributes = top / ".gitattributes"
    attrs_before = attributes.read_text(encoding="utf-8") if attributes.exists() else None
    line = _attributes_line(queue_path)
    if line not in (attrs_before or "").splitlines():
        state_path = _state_path(top)
        if not state_path.exists():
            state_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(state_path, json.dumps({"gitattributes_before": attrs_before}))
        prefix = attrs_before if not attrs_before or attrs_before.endswith("\n") else attrs_before + "\n"
        write_atomic(attributes, f"{prefix or ''}{line}\n")
        notes.append(f".gitattributes: {line} (commit it so every clone uses the driver)")
    notes.append(f"merge driver: merge.{DRIVER}.driver registered in git config")
    if run_git(top, "rev-parse", "-q", "--verify", "HEAD", check=False).status != 0:
        notes.append("note: the repository has no commits yet; the hooks apply from the first commit")
    return notes


def uninstall(top: Path, queue_path: str) -> list[str]:
    hdir = hooks_dir(top)
    notes: list[str] = []
    for name in HOOK_NAMES:
        target, prev = hdir / name, hdir / (name + PREV_SUFFIX)
        if target.exists() and not _is_ours(target):
            notes.append(f"{name}: not ours, left alone")
            continue
        # sections others (bd) added to our file since install are kept
        added = _foreign(target.read_text(encoding="utf-8")) if target.exists() else ""
        if prev.exists() or prev.is_symlink():
            if added and prev.is_file() and not prev.is_symlink():
                old = prev.read_text(encoding="utf-8")
                if added.strip() not in old:
                    sep = "" if old.endswith("\n") else "\n"
                    write_atomic(prev, old + sep + added)
                    notes.append(f"{name}: kept the sections added to it since install")
            os.replace(prev, target)
            notes.append(f"{name}: restored the previous hook")
        elif added:
            write_atomic(target, "#!/bin/sh\n" + added.lstrip("\n"))
            notes.append(f"{name}: removed our section, kept the sections added to it since install")
        elif target.exists():
            target.unlink()
            notes.append(f"{name}: removed")
    if run_git(top, "config", "--remove-section", f"merge.{DRIVER}", check=False).status == 0:
        notes.append(f"merge driver: merge.{DRIVER} removed from git config")
    attributes = top / ".gitattributes"
    state_path = _state_path(top)
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.exists() else {}
    if attributes.exists():
        now = attributes.read_text(encoding="utf-8")
        line = _attributes_line(queue_path)
        before = state.get("gitattributes_before")
        prefix = before if not before or before.endswith("\n") else before + "\n"
        if "gitattributes_before" in state and now == f"{prefix or ''}{line}\n":
            if before is None:
                attributes.unlink()
            else:
                write_atomic(attributes, before)
            notes.append(".gitattributes: restored")
        elif "gitattributes_before" in state and line in now.splitlines():
            # edited since: take out only our line (a line install found there is not ours)
            kept = [x for x in now.splitlines(keepends=True) if x.rstrip("\r\n") != line]
            write_atomic(attributes, "".join(kept))
            notes.append(".gitattributes: removed the merge driver line")
    with contextlib.suppress(FileNotFoundError):
        state_path.unlink()
    with contextlib.suppress(OSError):  # only when empty: task worktrees may live beside it
        state_path.parent.rmdir()
    return notes


def status(top: Path, queue_path: str) -> tuple[bool, list[str]]:
    hdir = hooks_dir(top)
    lines = [f"hooks directory: {hdir}"]
    complete = True
    for name in HOOK_NAMES:
        target, prev = hdir / name, hdir / (name + PREV_SUFFIX)
        if _is_ours(target):
            up_to_date = _split(target.read_text(encoding="utf-8"))[1] == _split(shim(name))[1]
            state = "installed" if up_to_date else "installed (outdated: run hooks install)"
            if prev.exists():
                state += f", chains {_describe(prev)} ({prev.name})"
            complete &= up_to_date
        elif target.exists():
            state, complete = f"not installed ({_describe(target)} present)", False
        else:
            state, complete = "not installed", False
        lines.append(f"{name}: {state}")
    driver = run_git(top, "config", "--get", f"merge.{DRIVER}.driver", check=False).stdout.strip()
    attributes = top / ".gitattributes"
    attr_ok = attributes.exists() and _attributes_line(queue_path) in attributes.read_text().splitlines()
    current = driver == merge_driver_command()
    registered = ("registered" if current else "registered (outdated: run hooks install)") \
        if driver else "not registered"
    lines.append(f"merge driver: {registered} in git config, "
                 f"{'listed' if attr_ok else 'not listed'} in .gitattributes")
    complete &= current and attr_ok
    return complete, lines

