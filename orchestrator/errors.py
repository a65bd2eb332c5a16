"""The one error type users see: `main()` prints it on one line and exits 2."""
from __future__ import annotations


class UserError(Exception):
    """Bad input, a missing tool, a refused operation: the user can fix it."""

    exit_code = 2


class ClaimRefused(UserError):
    """Someone else holds the task, or it is not claimable (bd exits 1 here)."""

    exit_code = 1
