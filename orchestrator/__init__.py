"""beads-orchestrator: drain a Beads task queue with AI coding agents."""
from __future__ import annotations

__version__ = "0.1.0"
