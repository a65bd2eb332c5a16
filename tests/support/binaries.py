"""Finding a pinned tool that a `.ci/install-*` script put under `.ci/`, for the tests that run it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def pinned_binary(*, override_var: str, ci_binary: Path, toolchain: str, install: str,
                  what: str) -> Path:
    """`$override_var` if set, else `ci_binary`; skip when `toolchain` (npm, go) is missing, so
    the install script could not have put it there; fail, naming the script, when it could."""
    override = os.environ.get(override_var)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"{override_var}={override} is not an executable file")
        return path
    if ci_binary.exists():
        return ci_binary
    if shutil.which(toolchain) is None:
        pytest.skip(f"{toolchain} is unavailable, so {what} could not be installed ({install}); "
                    f"set {override_var} to a binary to run this")
    pytest.fail(f"{toolchain} is available but {ci_binary} is missing: run `bash {install}` "
                f"(installs {what})")
