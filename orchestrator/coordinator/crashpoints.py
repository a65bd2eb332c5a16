"""Named points between the coordinator's steps where the crash tests kill it.

`orchestrator run` with ORCHESTRATOR_CRASH_AT=<point> SIGKILLs itself (no cleanup, no finally,
like the OOM killer or a cancelled runner) the first time it reaches that point, so a test can
stop it exactly between two steps and check that the next run loses nothing. Unset (always, in
real use) it costs one environment lookup."""
from __future__ import annotations

import os
import signal

ENV = "ORCHESTRATOR_CRASH_AT"
POINTS = ("claimed", "landed", "queue-committed")


def reached(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)
