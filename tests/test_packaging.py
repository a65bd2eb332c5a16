"""The wheel as users get it: every module and data file in it, and the git hooks installed from
a plain (non-editable) install, where the template is found through importlib.resources."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.repo import git

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("orchestrator", "hooks"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(out), str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("*.whl")
    return path


def test_the_wheel_holds_every_module_the_prompts_and_the_hook_template(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "orchestrator").rglob("*")
               if p.is_file() and p.suffix in (".py", ".txt") and "__pycache__" not in p.parts}
    assert sources - names == set()  # a package missing from pyproject's list shows here
    assert {"orchestrator/hooks/hook-tmpl", "orchestrator/hooks/__init__.py"} <= names


def test_hooks_install_works_from_a_non_editable_install(wheel: Path, tmp_path: Path,
                                                          tmp_git_repo: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # PYTHONPATH comes before the editable install of this checkout on sys.path
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import orchestrator; print(orchestrator.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert where.stdout.startswith(str(site))
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", "hooks", "install"],
                          env=env, capture_output=True, text=True, cwd=tmp_git_repo)
    assert done.returncode == 0, done.stderr
    hook = tmp_git_repo / ".git" / "hooks" / "pre-commit"
    assert "ORCHESTRATOR_HOOK=pre-commit" in hook.read_text() and os.access(hook, os.X_OK)
    # and git runs it: a staged run log is refused by the installed orchestrator
    log = tmp_git_repo / "logs" / "run" / "x" / "output.log"
    log.parent.mkdir(parents=True)
    log.write_text("agent output\n")
    git(tmp_git_repo, "add", "-f", "logs")
    done = subprocess.run(["git", "commit", "-q", "-m", "logs"], env=env, capture_output=True,
                          text=True, cwd=tmp_git_repo)
    assert done.returncode != 0 and "run logs are uploaded as artifacts" in done.stderr
