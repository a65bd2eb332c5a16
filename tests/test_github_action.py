"""What action.yml asks of Python directly: whether to install bd, and step outputs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.config import Config
from orchestrator.github_action import main, needs_bd, write_outputs


def parse_outputs(text: str) -> dict[str, str]:
    """As the runner reads $GITHUB_OUTPUT: NAME<<DELIM, lines, DELIM."""
    out, lines = {}, iter(text.splitlines())
    for line in lines:
        name, delim = line.split("<<", 1)
        value = []
        for v in lines:
            if v == delim:
                break
            value.append(v)
        out[name] = "\n".join(value)
    return out


def test_outputs_survive_values_that_look_like_outputs(tmp_path: Path) -> None:
    path = tmp_path / "out"
    hostile = "line one\nlaunches=99\nghadelimiter_x\nEOF"
    write_outputs({"matrix": '{"include":[]}', "note": hostile}, str(path))
    assert parse_outputs(path.read_text()) == {"matrix": '{"include":[]}', "note": hostile}
    assert len(set(re.findall(r"<<(\S+)", path.read_text()))) == 2   # a delimiter per value


@pytest.mark.parametrize(("store", "database", "expected"), [
    ("jsonl", True, False), ("bd", False, True), ("auto", False, False), ("auto", True, True)])
def test_bd_is_installed_only_for_a_bd_store(tmp_path: Path, store: str, database: bool,
                                             expected: bool) -> None:
    (tmp_path / ".beads").mkdir()
    if database:
        (tmp_path / ".beads" / "metadata.json").write_text("{}")
    assert needs_bd(tmp_path, Config(store=store)) is expected
    (tmp_path / ".orchestrator.yml").write_text(f"store: {store}\n")
    assert main(["needs-bd", "--repo", str(tmp_path)]) == (0 if expected else 1)


def test_a_bad_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.yml").write_text("store: sqlite\n")
    assert main(["needs-bd", "--repo", str(tmp_path), "--config", str(tmp_path / "c.yml")]) == 2
    assert capsys.readouterr().err.startswith("orchestrator: ")
