"""The GitHub half of a cycle's report: after the results are applied to the store, render the
status, post it as one comment edited in place, announce new escalations, and dispatch the
next cycle unless the queue is drained or a guard stops the chain.

`report_to_github` is what the workflow's report job calls; the apply step is its
`apply_results` parameter (a callable run first, e.g. the coordinator's apply-results step over
the downloaded result records), so this module never re-implements the coordinator.

Cost: the same requests whatever the queue size (the queue only changes the Markdown, which
is summarised to fit GitHub's comment limit). A workflow run has one report per matrix leg
and issue 10 allows 8 requests per run, so a report with the state file's cache makes at most
3: read the issue's labels (only when a dispatch is due: the pause label), dispatch, and edit
the cached comment by its id (comments are listed, to find ours by its marker, only when the
cache has none or the edit answers 404). A new escalation adds its comment and, when the
labels read do not show it already, the label. The plan job makes the comment when the
cache has none (`ensure_status`), so overlapping reports never race to create it."""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from orchestrator.config import Config
from orchestrator.errors import UserError
from orchestrator.forge import actions
from orchestrator.forge.actions import ActionsEnv
from orchestrator.forge.chain import (
    PAUSE_VARIABLE,
    Escalation,
    Step,
    advance,
    escalation_body,
    escalation_key,
    escalations,
    header_lines,
    is_truthy,
    next_step,
    snapshot,
)
from orchestrator.forge.comments import (
    ESCALATION,
    STATUS,
    TRACKING,
    has_marker,
    marker,
    parse_markers,
    queue_identity,
)
from orchestrator.forge.github import ForgeError, GitHubApi, IssueInfo, NotFound
from orchestrator.forge.state import ForgeState, load_state, save_state
from orchestrator.forge.status import render_fitting
from orchestrator.tasks.model import Task
from orchestrator.tasks.store import TaskStore

TRACKING_TITLE = "Orchestrator status"


@dataclass(frozen=True)
class CycleInfo:
    cycle: int = 1
    chain_id: str = ""
    artifacts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportResult:
    exit_code: int
    step: Step
    body: str
    target: int
    errors: tuple[str, ...]
    calls: int


def parse_target(text: str) -> tuple[str, int]:
    """`github.status_target`: auto, issue:N or pr:N."""
    if text == "auto":
        return "auto", 0
    kind, _, num = text.partition(":")
    if kind in ("issue", "pr") and num.isdigit() and int(num) > 0:
        return kind, int(num)
    raise UserError(f"github.status_target must be auto, issue:N or pr:N, got {text!r}")


def queue_of(env: ActionsEnv, config: Config, store: TaskStore) -> str:
    where = config.jsonl.path if store.kind == "jsonl" else "bd"
    return queue_identity(env.repository, env.ref_name, where)


def new_chain_id(env: ActionsEnv) -> str:
    if env.run_id:
        return f"{env.run_id}-{env.run_attempt or 1}"
    return "local-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def status_body(tasks: Mapping[str, Task], config: Config, env: ActionsEnv, info: CycleInfo,
                queue: str, step: Step | None, *, dispatch_error: str = "", updated: str = "") -> str:
    """The status comment (pure): the marker, then the status view with this cycle's header."""
    head = header_lines(cycle=info.cycle, chain_id=info.chain_id, run_url=env.run_url,
                        artifacts=info.artifacts, step=step, dispatch_error=dispatch_error,
                        updated=updated)
    view = render_fitting(tasks, escalation_label=config.github.escalation_label, header=head)
    return marker(STATUS, queue) + "\n" + view


def _dispatch_target(config: Config, env: ActionsEnv) -> tuple[str, str]:
    return config.github.workflow or env.workflow_file, env.ref_name


def dispatch_inputs(info: CycleInfo) -> dict[str, str]:
    # workflow_dispatch inputs travel as strings (`inputs.cycle` is typed by the workflow)
    return {"cycle": str(info.cycle + 1), "chain_id": info.chain_id}


@dataclass(frozen=True)
class Target:
    """The issue or PR the status comment is on. `info` is None until something read it:
    a fixed `issue:N` target costs no request until its labels are needed."""

    number: int
    info: IssueInfo | None = None
    created: bool = False      # the tracking issue was created just now


def _resolve_target(api: GitHubApi, config: Config, env: ActionsEnv, state: ForgeState,
                    queue: str, labels_on_create: Sequence[str]) -> Target:
    kind, number = parse_target(config.github.status_target)
    if kind != "auto":
        return Target(number)
    if state.target:
        try:
            found = api.issue(state.target)   # is the tracking issue or PR still open?
            if found.state == "open":
                return Target(found.number, found)
        except NotFound:
            pass
    if env.ref_name:
        pr = api.open_pull_for_branch(env.ref_name)
        if pr is not None:
            return Target(pr.number, pr)
    for issue in api.open_issues_with_label(config.github.tracking_label):
        if has_marker(issue.body, TRACKING, queue):
            return Target(issue.number, issue)
    body = (marker(TRACKING, queue) + "\n"
            f"The orchestrator reports the queue on `{env.ref_name or 'the working branch'}` "
            "here: one status comment, edited every cycle, and a comment when a task needs a "
            "human. Comment `/orchestrator stop` to pause, `/orchestrator run` to start.")
    labels = [config.github.tracking_label, *labels_on_create]
    made = api.create_issue(TRACKING_TITLE, body, labels)
    return Target(made.number, made, created=True)


def _find_and_keep_one(api: GitHubApi, number: int, body: str, queue: str,
                       ) -> tuple[int, set[str]]:
    """List the comments, keep the oldest of ours (a cancelled run, or two first reports at
    once, may have left a second), delete the others, and edit or create it."""
    listed = api.comments(number)
    ours = sorted(c.id for c in listed if has_marker(c.body, STATUS, queue))
    announced = {escalation_key(m.task, m.attempt) for c in listed for m in parse_markers(c.body)
                 if m.kind == ESCALATION and m.queue == queue}
    for cid in ours[1:]:
        api.delete_comment(number, cid)
    if ours:
        try:
            api.edit_comment(number, ours[0], body)
            return ours[0], announced
        except NotFound:
            pass  # deleted between the listing and the edit
    return api.create_comment(number, body), announced


def _post_status(api: GitHubApi, number: int, body: str, state: ForgeState, queue: str,
                 *, created: bool) -> tuple[int, set[str]]:
    """Create or edit the one status comment. Returns the comment id and the escalations
    already announced in the comments read (none when only the cached comment was edited)."""
    if created:
        return api.create_comment(number, body), set()
    if state.comment_id and state.target == number:
        try:
            api.edit_comment(number, state.comment_id, body)
            return state.comment_id, set()
        except NotFound:
            pass  # someone deleted it: find ours by the marker, or post a new one
    return _find_and_keep_one(api, number, body, queue)


def _labels(api: GitHubApi, target: Target) -> Target:
    """The target with its labels read (one request, only if nothing has read them yet)."""
    return target if target.info is not None else Target(target.number,
                                                          api.issue(target.number))


def _pause_reason(api: GitHubApi, config: Config, target: Target | None,
                  environ: Mapping[str, str], warnings: list[str]) -> str:
    if target is not None and target.info is not None \
            and config.github.pause_label in target.info.labels:
        return (f"label `{config.github.pause_label}` on #{target.number} "
                "(`/orchestrator stop`; `/orchestrator run` resumes)")
    # the workflow maps `vars.ORCHESTRATOR_PAUSED` into the environment (GITHUB_TOKEN cannot
    # read variables through the API); only without it is the API asked
    if PAUSE_VARIABLE in environ:
        value: str | None = environ[PAUSE_VARIABLE]
    else:
        try:
            value = api.variable(PAUSE_VARIABLE)
        except ForgeError as e:
            warnings.append(f"could not read the repository variable {PAUSE_VARIABLE}: {e}")
            value = None
    if is_truthy(value):
        return f"repository variable {PAUSE_VARIABLE} is {value!r}"
    return ""


def report_to_github(repo: Path, store: TaskStore, config: Config, env: ActionsEnv,
                     api: GitHubApi, info: CycleInfo, *, dispatch: bool,
                     apply_results: Callable[[], object] | None = None,
                     count_cycle: bool = True, environ: Mapping[str, str] | None = None,
                     claim_escalations: Callable[[Sequence[str]], set[str]] | None = None,
                     out: TextIO | None = None) -> ReportResult:
    """Report one cycle on GitHub (see the module docstring). Never ends silently: every
    failure becomes an `::error::` line, a line in the comment when the comment can still be
    posted, and exit code 1.

    `claim_escalations(keys)`: with overlapping legs, the escalation keys this report may
    announce (the others another report claimed first); the workflow's report claims them
    on the branch, a compare-and-swap, so two legs never announce the same escalation."""
    out = out or sys.stdout
    environ = {} if environ is None else environ
    if apply_results is not None:
        apply_results()
    tasks = store.all()
    queue = queue_of(env, config, store)
    state_path = repo / config.github.state_file
    state = load_state(state_path).for_queue(queue)
    pending = [e for e in escalations(tasks, config.github.escalation_label)
               if e.key not in state.escalations]
    state = advance(state, snapshot(tasks), chain_id=info.chain_id, cycle=info.cycle,
                    count_cycle=count_cycle)
    errors: list[str] = []
    warnings: list[str] = []
    target: Target | None = None
    try:
        target = _resolve_target(api, config, env, state, queue,
                                 [config.github.escalation_label] if pending else [])
    except ForgeError as e:
        errors.append(str(e))
    stop_file = (repo / ".beads" / "STOP").exists()
    new_keys = [e.task.id for e in pending]
    step = next_step(tasks, state, config, stop_file=stop_file, new_escalations=new_keys)
    if step.dispatch and dispatch:
        paused = ""
        if target is not None:
            try:   # the pause label is read only when a dispatch is due
                target = _labels(api, target)
            except ForgeError as e:
                errors.append(str(e))
                paused = "the pause label could not be read"
        paused = paused or _pause_reason(api, config, target, environ, warnings)
        if paused:
            step = next_step(tasks, state, config, stop_file=stop_file, paused=paused,
                             new_escalations=new_keys)
    dispatch_error = ""
    if step.dispatch and not dispatch:
        step = Step(False, f"{step.reason}; dispatch is off (`orchestrator report --dispatch` "
                    "continues the chain)")
    elif step.dispatch:
        workflow, ref = _dispatch_target(config, env)
        if not workflow or not ref:
            dispatch_error = ("no workflow file or ref to dispatch (set github.workflow; "
                              "GITHUB_WORKFLOW_REF and GITHUB_REF_NAME come from the runner)")
        else:
            try:
                api.dispatch(workflow, ref, dispatch_inputs(info))
            except ForgeError as e:
                dispatch_error = str(e)
    now = datetime.now(timezone.utc)
    body = status_body(tasks, config, env, info, queue, step, dispatch_error=dispatch_error,
                       updated=now.strftime("%Y-%m-%d %H:%M UTC"))
    announced: set[str] = set()
    if target is not None:
        try:
            comment_id, announced = _post_status(api, target.number, body, state, queue,
                                                 created=target.created)
            state = replace(state, target=target.number, comment_id=comment_id)
        except ForgeError as e:
            errors.append(str(e))
        fresh = [e for e in pending if e.key not in announced]
        if fresh and claim_escalations is not None:
            won = claim_escalations([e.key for e in fresh])
            fresh = [e for e in fresh if e.key in won]
        try:
            _announce(api, config, env, target, fresh, queue)
            announced |= {e.key for e in fresh}
        except ForgeError as e:
            errors.append(str(e))
    state = replace(state, escalations=(*state.escalations,
                                        *sorted(announced - set(state.escalations))))
    save_state(state_path, state)
    actions.append_step_summary(env, body)
    _print_outcome(out, info, step, pending, warnings, errors, dispatch_error)
    all_errors = tuple(errors) + ((dispatch_error,) if dispatch_error else ())
    return ReportResult(1 if all_errors else 0, step, body,
                        target.number if target else 0, all_errors, api.calls)


def ensure_status(repo: Path, store: TaskStore, config: Config, env: ActionsEnv,
                  api: GitHubApi, info: CycleInfo) -> tuple[ForgeState, bool]:
    """The plan job's part: make sure the status comment exists before any leg reports, so
    the reports only ever edit it (overlapping legs would otherwise race to create one each).
    With the comment in the cache this makes no request; otherwise it finds the comment by its
    marker (or the tracking issue, for `auto`) or creates it. Returns the state and whether it
    changed (to be pushed with the branch)."""
    queue = queue_of(env, config, store)
    state_path = repo / config.github.state_file
    state = load_state(state_path).for_queue(queue)
    if state.target and state.comment_id:
        return state, False
    target = _resolve_target(api, config, env, state, queue, [])
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = status_body(store.all(), config, env, info, queue, None, updated=now)
    comment_id, announced = _post_status(api, target.number, body, state, queue,
                                         created=target.created)
    state = replace(state, target=target.number, comment_id=comment_id,
                    escalations=(*state.escalations,
                                 *sorted(announced - set(state.escalations))))
    save_state(state_path, state)
    return state, True


def comment_url(env: ActionsEnv, state: ForgeState) -> str:
    """The status comment's address ('' when there is none yet); /issues/N also serves a PR."""
    if not (state.target and state.comment_id and env.repository):
        return ""
    return (f"{env.server_url}/{env.repository}/issues/{state.target}"
            f"#issuecomment-{state.comment_id}")


def _announce(api: GitHubApi, config: Config, env: ActionsEnv, target: Target,
              fresh: Sequence[Escalation], queue: str) -> None:
    if not fresh:
        return
    api.create_comment(target.number, escalation_body(
        fresh, queue=queue, mention=config.github.mention, run_url=env.run_url,
        escalation_label=config.github.escalation_label))
    label = config.github.escalation_label
    # adding a label is idempotent: without the labels at hand, add it rather than read them
    if target.info is None or label not in target.info.labels:
        api.add_labels(target.number, [label])


def _print_outcome(out: TextIO, info: CycleInfo, step: Step, pending: Sequence[Escalation],
                   warnings: Sequence[str], errors: Sequence[str], dispatch_error: str) -> None:
    for esc in pending:
        actions.warning(f"{esc.task.id} needs a human: {esc.task.title}", title="escalated",
                        out=out)
    for w in warnings:
        actions.warning(w, title="orchestrator report", out=out)
    if step.guard:
        actions.warning(step.reason, title="chain stopped", out=out)
    for e in errors:
        actions.error(e, title="orchestrator report", out=out)
    if dispatch_error:
        actions.error(f"the next cycle was not dispatched: {dispatch_error}",
                      title="dispatch failed", out=out)
    what = f"cycle {info.cycle + 1} dispatched" if step.dispatch and not dispatch_error \
        else step.reason
    print(f"report: cycle {info.cycle} of chain {info.chain_id}: {what}", file=out, flush=True)


def preview(repo: Path, store: TaskStore, config: Config, env: ActionsEnv,
            info: CycleInfo) -> list[str]:
    """What a report would post and dispatch, from the store and the state file alone: no
    request is made (the pause label and variable are not read)."""
    tasks = store.all()
    queue = queue_of(env, config, store)
    state = load_state(repo / config.github.state_file).for_queue(queue)
    pending = [e.task.id for e in escalations(tasks, config.github.escalation_label)
               if e.key not in state.escalations]
    state = advance(state, snapshot(tasks), chain_id=info.chain_id, cycle=info.cycle)
    step = next_step(tasks, state, config, stop_file=(repo / ".beads" / "STOP").exists(),
                     new_escalations=pending)
    kind, number = parse_target(config.github.status_target)
    where = (f"#{number}" if kind != "auto" else
             f"#{state.target}" if state.target else "the tracking issue or pull request")
    how = f"edit comment {state.comment_id}" if state.comment_id else "post the status comment"
    lines = [f"would {how} on {where} ({env.repository or 'GITHUB_REPOSITORY unset'}):", ""]
    lines += status_body(tasks, config, env, info, queue, step).splitlines()
    lines.append("")
    if pending:
        lines.append(f"would announce escalation(s): {', '.join(pending)}")
    if step.dispatch:
        workflow, ref = _dispatch_target(config, env)
        lines.append(f"would dispatch workflow {workflow or '(unknown: set github.workflow)'} on "
                     f"ref {ref or '(unknown)'} with inputs {dispatch_inputs(info)}")
    else:
        lines.append(f"would not dispatch: {step.reason}")
    return lines
