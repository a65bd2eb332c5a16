"""Differential readiness: generated queues loaded into the real bd (`bd import`) and into the
JSONL store must give the same answers. `orchestrator ready --json` (unfiltered and with one of
--assignee/--unassigned/--priority/--type/--label/--limit) lists the same IDs in the same order
as `bd ready --json`; what blocks what equals `bd blocked --json`; `orchestrator status --json`
counts equal `bd stats --json` (the keys docs/bd.md lists as bd's own approximations aside).

Each example gets its own bd database: a copy of one `bd init`ed per module (init takes
seconds, a copy milliseconds). The number of queues is ORCHESTRATOR_BD_EXAMPLES (default
250; each costs five bd processes, about 0.2 s each on an idle machine); with
ORCHESTRATOR_BD_TALLY=<file> each queue that agreed is one line of that file.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from orchestrator.cli import main as cli_main
from orchestrator.tasks import graph
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import BLOCKING_EDGES, WAITS_FOR
from support.bd import RealBd, bd_binary
from support.queues import FILTERS, PREFIX, queues
from support.repo import task_record, write_queue

EXAMPLES = int(os.environ.get("ORCHESTRATOR_BD_EXAMPLES", "250"))
# long runs by hand: one line per queue that agreed with bd, so a run stopped early still counts
TALLY = os.environ.get("ORCHESTRATOR_BD_TALLY")
# bd stats keys that are not counts of the queue (see docs/bd.md)
NOT_COMPARED = {"average_lead_time_hours", "epics_eligible_for_closure"}


def orchestrator_json(repo: Path, *args: str) -> Any:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(["--repo", str(repo), "--store", "jsonl", *args, "--json"])
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def load_both(template: RealBd, records: list[dict[str, Any]], root: Path) -> tuple[Path, RealBd]:
    jsonl_repo = root / "jsonl"
    write_queue(jsonl_repo, records)
    bd = template.copy_to(root / "bd")
    result = bd.import_records(records)
    assert result["created"] == len(records), result
    assert not result.get("skipped_dependencies"), result
    return jsonl_repo, bd


def compare(template: RealBd, records: list[dict[str, Any]], flags: tuple[str, ...]) -> None:
    root = Path(tempfile.mkdtemp(prefix="bd-diff-"))
    try:
        repo, bd = load_both(template, records, root)
        queue = {r["id"]: r for r in records}

        def explain() -> str:
            return "queue:\n" + "\n".join(json.dumps(r) for r in records)

        if flags:
            ours = [t["id"] for t in orchestrator_json(repo, "ready")]
            theirs = bd.ids("ready", "--limit", "0")
            assert ours == theirs, f"ready: ours {ours} != bd {theirs}\n{explain()}"

        ours = [t["id"] for t in orchestrator_json(repo, "ready", *flags)]
        theirs = bd.ids("ready", *flags) if "--limit" in flags else \
            bd.ids("ready", "--limit", "0", *flags)
        assert ours == theirs, f"ready {flags}: ours {ours} != bd {theirs}\n{explain()}"

        tasks = JsonlStore(repo / ".beads" / "issues.jsonl").all()
        blocked = graph.blocked_by(tasks)
        bd_blocked = {b["id"]: b.get("blocked_by") or [] for b in bd.json("blocked") or []}
        # bd blocked lists a blocked task only when one of its blocks/conditional-blocks/
        # waits-for targets is not closed/pinned (gate or no gate) or it has a parent: one
        # blocked only through the gate of a closed/pinned spawner is left out, though bd ready
        # and bd stats count it as blocked (GetBlockedIssuesInTx; docs/bd.md)
        unlisted = {tid for tid in blocked if tasks[tid].parent is None
                    and not any(d.type in BLOCKING_EDGES | {WAITS_FOR} and d.depends_on_id in tasks
                                and not graph.releases_dependents(tasks[d.depends_on_id])
                                for d in tasks[tid].dependencies)}
        assert sorted(set(blocked) - unlisted) == sorted(set(bd_blocked) - unlisted) and \
            not unlisted & set(bd_blocked), \
            f"blocked: ours {blocked} != bd {bd_blocked}\n{explain()}"
        # `blocked_by` lists the same open blocks/conditional-blocks targets; for waits-for
        # and inherited blocking bd's list differs by design (docs/bd.md)
        for tid, by in blocked.items():
            hard = {d.depends_on_id for d in tasks[tid].dependencies if d.type in BLOCKING_EDGES}
            assert sorted(hard & set(by)) == sorted(hard & set(bd_blocked.get(tid, []))), \
                f"blocked_by {tid}: ours {by} != bd {bd_blocked.get(tid)}\n{explain()}"

        summary = orchestrator_json(repo, "status")["summary"]
        bd_summary = bd.json("stats")["summary"]
        for key in set(summary) | set(bd_summary):
            if key in NOT_COMPARED:
                continue
            assert summary.get(key) == bd_summary.get(key), \
                f"stats {key}: ours {summary.get(key)} != bd {bd_summary.get(key)}\n{explain()}"
        assert len(queue) == summary["total_issues"]
        if TALLY:
            with open(TALLY, "a") as tally:
                tally.write(json.dumps({"tasks": len(records), "flags": flags}) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> RealBd:
    return RealBd(bd_binary(), tmp_path_factory.mktemp("bd-template")).init(PREFIX)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(records=queues(), flags=FILTERS)
def test_ready_blocked_and_stats_equal_bd(template: RealBd, records: list[dict[str, Any]],
                                          flags: tuple[str, ...]) -> None:
    compare(template, records, flags)


# Spawners whose children are in these states; each is waited on by three tasks: one with no
# gate (what `bd import` and `bd dep add --type waits-for` write) and one per gate, made with
# `bd create --waits-for-gate` (the one way to give a waits-for edge a gate in bd 1.1.0: `bd
# import` drops dependency metadata). The unit table is tests/test_graph.py::test_waits_for_gates.
GATE_CASES = (("closed", "open"), ("open", "in_progress"), ("pinned", "open"),
              ("closed", "pinned"), ("closed", "closed"), ("pinned",), ())


def test_waits_for_gates_match_bd(template: RealBd, tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    for i, states in enumerate(GATE_CASES, 1):
        spawner = f"{PREFIX}-{i}"
        records.append(task_record(spawner, issue_type="molecule"))
        records += [task_record(f"{spawner}.{j}", status=state, parent=spawner)
                    for j, state in enumerate(states, 1)]
        waiter = task_record(f"{PREFIX}-{i}00")
        waiter["dependencies"] = [{"issue_id": waiter["id"], "depends_on_id": spawner,
                                   "type": "waits-for", "created_at": waiter["created_at"],
                                   "metadata": "{}"}]
        records.append(waiter)
    bd = template.copy_to(tmp_path / "bd")
    assert bd.import_records(records)["created"] == len(records)
    for i in range(1, len(GATE_CASES) + 1):
        for k, gate in enumerate(("all-children", "any-children"), 1):
            bd.run("create", f"waits on {PREFIX}-{i}, {gate}", "--id", f"{PREFIX}-{i}0{k}",
                   "--waits-for", f"{PREFIX}-{i}", "--waits-for-gate", gate)
    exported = bd.export()
    gates = {d["issue_id"]: json.loads(d["metadata"]).get("gate")
             for r in exported for d in r.get("dependencies", []) if d["type"] == WAITS_FOR}
    assert set(gates.values()) == {"all-children", "any-children", None}

    repo = tmp_path / "jsonl"
    write_queue(repo, exported)
    ours = [t["id"] for t in orchestrator_json(repo, "ready")]
    assert ours == bd.ids("ready", "--limit", "0")
    tasks = JsonlStore(repo / ".beads" / "issues.jsonl").all()
    assert sorted(graph.blocked_by(tasks)) == sorted(bd.ids("blocked"))
    # and the cases the unit table spells out, as bd decided them
    waiting = {tid for tid in gates if tid not in ours}
    assert {f"{PREFIX}-300", f"{PREFIX}-302", f"{PREFIX}-301", f"{PREFIX}-200"} <= waiting
    assert not {f"{PREFIX}-100", f"{PREFIX}-102", f"{PREFIX}-400", f"{PREFIX}-601"} & waiting
