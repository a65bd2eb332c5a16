"""The run-log layout has one owner (orchestrator.runlog): the agent runner writes monitor.log
through it, and both readers (`orchestrator logs` and the coordinator's orphan search) parse a
real run's log through it."""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from orchestrator import runlog
from orchestrator.agents.runner import run_agent_process
from orchestrator.commands.logs import list_runs, read_run
from support.agents import write_script


def test_log_dirs_are_unique_per_second_and_parse_back(tmp_path: Path) -> None:
    now = datetime(2026, 5, 29, 10, 0, 0, tzinfo=timezone.utc)
    first = runlog.new_log_dir(tmp_path, "bd-a1/x", now)
    second = runlog.new_log_dir(tmp_path, "bd-a1/x", now)
    assert (first.name, second.name) == ("20260529T100000Z_bd-a1_x", "20260529T100000Z_bd-a1_x.2")
    assert runlog.parse_dir_name(second.name) == ("2026-05-29T10:00:00Z", "bd-a1_x")
    assert runlog.parse_dir_name("not-a-run") is None


def test_a_running_agent_is_seen_by_both_readers_and_gone_after_its_exit(tmp_path: Path) -> None:
    root = tmp_path / "logs" / "run"
    log_dir = runlog.new_log_dir(root, "t-1")
    script = write_script(tmp_path / "agent.py", """
        import time
        print("started", flush=True)
        time.sleep(120)
    """)
    stop = threading.Event()
    worker = threading.Thread(target=run_agent_process, args=([str(script)],), kwargs=dict(
        cwd=tmp_path, env=dict(os.environ), log_dir=log_dir, timeout_s=300, idle_timeout_s=300,
        kill_grace_s=1, stop=stop, monitor_fields={"task": "t-1", "attempt": "2"}))
    worker.start()
    try:
        while runlog.read_monitor(log_dir).pid is None:  # until the runner logged the agent
            time.sleep(0.05)
        mon = runlog.read_monitor(log_dir)
        assert mon.fields["task"] == "t-1" and mon.fields["cwd"] == str(tmp_path)
        assert not mon.exited and not runlog.run_over(mon)
        assert runlog.orphaned_agents(root, "t-1") == [mon.pgid]
        assert runlog.orphaned_agents(root, "t-2") == []
        info = read_run(log_dir)
        assert info is not None and (info.task_id, info.attempt, info.state) == ("t-1", 2, "running")
    finally:
        stop.set()
        worker.join()
    mon = runlog.read_monitor(log_dir)
    assert mon.exited and runlog.orphaned_agents(root, "t-1") == []
    assert [r.state for r in list_runs(root)] == ["unknown"]  # no outcome.json: not judged
