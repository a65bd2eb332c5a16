"""The GitHub half of a cycle's report: after the results are applied to the store, render the
status, post it as one comment edited in place, announce new escalations, and dispatch the
next cycle unless the queue is drained or a guard stops the chain.

`report_to_github` is what the workflow's report job calls; the apply step is its
`apply_results` parameter (a callable run first, e.g. the coordinator's apply-results step over
the downloaded result records), so this module never re-implements the coordinator.

Cost: at most 8 requests whatever the queue size (the queue only changes the Markdown, which
is summarised to fit GitHub's comment limit). With the state file's cache, a typical report
is: read the issue (labels), read the pause variable, dispatch, list comments updated
recently, edit the comment, and on a new escalation one comment plus one label."""
from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
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

# comments updated since the last listing, with room for clock skew between runner and GitHub
LIST_SLACK = timedelta(hours=1)
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
                queue: str, step: Step, *, dispatch_error: str = "", updated: str = "") -> str:
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


def _resolve_target(api: GitHubApi, config: Config, env: ActionsEnv, state: ForgeState,
                    queue: str, labels_on_create: Sequence[str]) -> tuple[IssueInfo, bool]:
    """(the issue or PR the status comment is on, whether it was created just now)."""
    kind, number = parse_target(config.github.status_target)
    if kind != "auto":
        return api.issue(number), False
    if state.target:
        try:
            found = api.issue(state.target)
            if found.state == "open":
                return found, False
        except NotFound:
            pass
    if env.ref_name:
        pr = api.open_pull_for_branch(env.ref_name)
        if pr is not None:
            return pr, False
    for issue in api.open_issues_with_label(config.github.tracking_label):
        if has_marker(issue.body, TRACKING, queue):
            return issue, False
    body = (marker(TRACKING, queue) + "\n"
            f"The orchestrator reports the queue on `{env.ref_name or 'the working branch'}` "
            "here: one status comment, edited every cycle, and a comment when a task needs a "
            "human. Comment `/orchestrator stop` to pause, `/orchestrator run` to start.")
    labels = [config.github.tracking_label, *labels_on_create]
    return api.create_issue(TRACKING_TITLE, body, labels), True


def _post_status(api: GitHubApi, number: int, body: str, state: ForgeState, queue: str,
                 *, created: bool) -> tuple[int, set[str]]:
    """Create or edit the one status comment; delete any duplicate a cancelled run left.
    Returns the comment id and the escalations already announced in the comments read."""
    if created:
        return api.create_comment(number, body), set()
    since = None
    if state.comment_id and state.target == number and state.listed_at:
        try:
            since = datetime.fromisoformat(state.listed_at) - LIST_SLACK
        except ValueError:
            since = None
    listed = api.comments(number, since)
    ours = sorted(c.id for c in listed if has_marker(c.body, STATUS, queue))
    announced = {escalation_key(m.task, m.attempt) for c in listed for m in parse_markers(c.body)
                 if m.kind == ESCALATION and m.queue == queue}
    keep = state.comment_id if since is not None else (ours[0] if ours else 0)
    for cid in ours:
        if cid != keep:
            api.delete_comment(number, cid)
    if keep:
        try:
            api.edit_comment(number, keep, body)
            return keep, announced
        except NotFound:
            pass  # someone deleted it: post a new one
    return api.create_comment(number, body), announced


def _pause_reason(api: GitHubApi, config: Config, target: IssueInfo | None,
                  environ: Mapping[str, str], warnings: list[str]) -> str:
    if target is not None and config.github.pause_label in target.labels:
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
                     out: TextIO | None = None) -> ReportResult:
    """Report one cycle on GitHub (see the module docstring). Never ends silently: every
    failure becomes an `::error::` line, a line in the comment when the comment can still be
    posted, and exit code 1."""
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
    target: IssueInfo | None = None
    created = False
    try:
        target, created = _resolve_target(api, config, env, state, queue,
                                          [config.github.escalation_label] if pending else [])
    except ForgeError as e:
        errors.append(str(e))
    stop_file = (repo / ".beads" / "STOP").exists()
    new_keys = [e.task.id for e in pending]
    step = next_step(tasks, state, config, stop_file=stop_file, new_escalations=new_keys)
    if step.dispatch and dispatch:
        paused = _pause_reason(api, config, target, environ, warnings)
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
                                                 created=created)
            state = replace(state, target=target.number, comment_id=comment_id,
                            listed_at=now.isoformat(timespec="seconds"))
        except ForgeError as e:
            errors.append(str(e))
        fresh = [e for e in pending if e.key not in announced]
        try:
            _announce(api, config, env, target, fresh, queue, labelled=created)
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


def _announce(api: GitHubApi, config: Config, env: ActionsEnv, target: IssueInfo,
              fresh: Sequence[Escalation], queue: str, *, labelled: bool) -> None:
    if not fresh:
        return
    api.create_comment(target.number, escalation_body(
        fresh, queue=queue, mention=config.github.mention, run_url=env.run_url,
        escalation_label=config.github.escalation_label))
    label = config.github.escalation_label
    if not labelled and label not in target.labels:
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
