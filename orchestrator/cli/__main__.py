"""`python -m orchestrator.cli`: how the installed hooks and merge driver call us."""
from __future__ import annotations

import sys

from orchestrator.cli import main

sys.exit(main())
