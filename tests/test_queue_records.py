"""Queue records (.beads/issues.jsonl lines) are checked by shape and size before use: any
line gives a one-line error naming file, line and field, exit 2, and the file is untouched.
Fuzzed with hypothesis: no traceback, no hang, no file changed, whatever a line holds."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config import Config
from orchestrator.dispatch.plan import make_plan
from orchestrator.errors import UserError
from orchestrator.tasks import graph, jsonl, shapes
from orchestrator.tasks.history import MARKER
from orchestrator.tasks.jsonl import JsonlStore
from orchestrator.tasks.model import _rebuilt_record, task_from_record, to_record
from support.repo import task_record

GOOD = json.dumps(task_record("x-1"), separators=(",", ":"))
HEAD = '{"_type":"issue","id":"x-2","title":"t"'

BAD_LINES = {
    "nested 20,000 deep": (HEAD + ',"metadata":' + "[" * 20_000 + "]" * 20_000 + "}",
                           r"malformed JSON: depth limit exceeded .* in field 'metadata' \(task x-2\)"),
    "nested past the limit": (HEAD + ',"payload":' + "{\"a\":" * 40 + "1" + "}" * 40 + "}",
                              r"field 'payload' nested more than 32 levels deep \(task x-2\)"),
    "dependencies a number": (HEAD + ',"dependencies":5}',
                              r"task x-2: dependencies must be a list, got a number 5"),
    "comments a number": (HEAD + ',"comments":7}', r"task x-2: comments must be a list, got a number 7"),
    "5,000-digit priority": (HEAD + ',"priority":' + "9" * 5000 + "}",
                             r"malformed JSON: .* in field 'priority' \(task x-2\)"),
    "huge float priority": (HEAD + ',"priority":1e400}', r"malformed JSON: .* in field 'priority' \(task x-2\)"),
    "priority out of range": (HEAD + ',"priority":9007199254740993}',
                              r"task x-2: unknown priority 9007199254740993 \(expected 0-4\)"),
    "lone surrogate": (HEAD[:-1] + '\\ud800"}', r"malformed JSON: .* in field 'title' \(task x-2\)"),
    "a list, not an object": ("[1, 2]", r"expected a JSON object, got a list"),
    "dependency a number": (HEAD + ',"dependencies":[5]}',
                            r"task x-2: dependencies\[0\] must be an object, got a number 5"),
    "dependency metadata a number": (
        HEAD + ',"dependencies":[{"depends_on_id":"x-1","metadata":5}]}',
        r"task x-2: dependencies\[0\]\.metadata must be a JSON string or object"),
    "dependency type a list": (
        HEAD + ',"dependencies":[{"depends_on_id":"x-1","type":["blocks"]}]}',
        r"task x-2: dependencies\[0\]\.type must be a string, got a list"),
    "comment text a number": (HEAD + ',"comments":[{"id":"c","text":3}]}',
                              r"task x-2: comments\[0\]\.text must be a string, got a number 3"),
    "labels a string": (HEAD + ',"labels":"api"}', r"task x-2: labels must be a list, got a string"),
    "title a number": (HEAD[:HEAD.index('"title"')] + '"title":5}',
                       r"task x-2: field 'title' must be a string, got a number 5"),
    "status a list": (HEAD + ',"status":["open"]}', r"task x-2: status must be a string, got a list"),
    "id a number": ('{"_type":"issue","id":5}', r'"id" must be a string, got a number 5'),
    "a long value is cut in the message": (HEAD + ',"notes":' + json.dumps(["x" * 5000]) + "}",
                                           r"task x-2: field 'notes' must be a string, got a list \['x+…$"),
}


@pytest.mark.parametrize("line, message", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_record_is_one_line_naming_file_line_and_field(tmp_path: Path, line: str,
                                                             message: str) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text(GOOD + "\n" + line + "\n")
    with pytest.raises(UserError, match=r"issues\.jsonl:2: " + message) as e:
        JsonlStore(path).all()
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


@pytest.mark.parametrize("case", ["nested 20,000 deep", "dependencies a number", "comments a number",
                                  "5,000-digit priority"])
def test_the_commands_exit_2_with_one_line_and_leave_the_file_as_it_was(tmp_path: Path,
                                                                        case: str) -> None:
    path = tmp_path / ".beads" / "issues.jsonl"
    path.parent.mkdir()
    data = (GOOD + "\n" + BAD_LINES[case][0] + "\n").encode()
    path.write_bytes(data)
    for argv in (["ready", "--json"], ["status"], ["task", "comment", "x-1", "hello"]):
        out = subprocess.run([sys.executable, "-m", "orchestrator.cli", "--repo", str(tmp_path),
                              "--store", "jsonl", *argv], capture_output=True, text=True)
        assert out.returncode == 2, (argv, out.stderr)
        assert out.stderr.count("\n") == 1 and "issues.jsonl:2: " in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
        assert path.read_bytes() == data


def test_an_attempt_record_of_the_wrong_shape_in_a_comment_is_no_record() -> None:
    from orchestrator.tasks.history import parse
    assert parse(MARKER + "[" * 20_000 + " -->") is None
    assert parse(MARKER + '{"attempt": "one", "kind": "error"} -->') is None
    assert parse(MARKER + '{"attempt": 2, "kind": ["error"]} -->') is None
    assert parse(MARKER + '{"attempt": 2, "kind": "error"} -->').attempt == 2


# -- fuzzing --------------------------------------------------------------------------------
# Lines are built as text from pieces (drawing from fixed lists is cheap, so 10,000 inputs take
# seconds): a valid record whose fields, or its dependency's or comment's, hold any of these,
# then cut or spliced with stray bytes.

VALUES = [
    "null", "true", "false", "0", "2", "-1", "5", "4.0", "1e400", "-0", "9" * 5000,
    "9223372036854775808", '""', '"x-1"', '"x-2"', '"x-9"', '"external:p:x"', '"open"',
    '"closed"', '"in_progress"', '"pinned"', '"blocks"', '"parent-child"', '"waits-for"',
    '"epic"', '"2026-05-29T08:00:00Z"', '"9999-12-31T23:59:59-23:59"', '"0001-01-01T00:00:00+14:00"',
    '"not a time"', '"\\ud800"', '"\\udc00x"', '"caf\u00e9 \u2028 <&>"', '"\\u0000"',
    '"' + "x" * 3000 + '"', "[]", "{}", "[5]", '["a", 5]', '["api"]', "[[[]]]", '{"a": [1, {"b": null}]}',
    '[{"depends_on_id": 5}]', '[{"depends_on_id": "x-1", "type": "blocks"}]',
    '[{"depends_on_id": "x-1", "type": "waits-for", "metadata": "{\\"gate\\": 5}"}]',
    '[{"depends_on_id": "x-1", "metadata": "' + "[" * 3000 + '"}]',
    '[{"id": 1, "text": "' + MARKER.replace('"', '\\"') + '{\\"attempt\\": []} -->"}]',
    '[{"id": 1e300}]', '[null]', '"' + MARKER.replace('"', '\\"') + '"',
]
NEST = ["[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40, "[" * 2000 + "]" * 2000]
FIELDS = ["id", "title", "status", "priority", "issue_type", "labels", "dependencies", "comments",
          "metadata", "created_at", "updated_at", "closed_at", "defer_until", "pinned",
          "ephemeral", "assignee", "description", "dependency_count", "_type", "future"]
DEP_FIELDS = ["issue_id", "depends_on_id", "type", "created_at", "created_by", "metadata"]
COMMENT_FIELDS = ["id", "issue_id", "author", "text", "created_at"]


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"


@st.composite
def _lines(draw: st.DrawFn) -> str:
    value = st.sampled_from(VALUES + NEST)
    dep = [("issue_id", '"x-2"'), ("depends_on_id", draw(st.sampled_from(['"x-1"', '"x-2"']))),
           ("type", draw(st.sampled_from(['"blocks"', '"parent-child"', '"related"']))),
           ("created_at", '""'), ("metadata", '"{}"')]
    dep += draw(st.lists(st.tuples(st.sampled_from(DEP_FIELDS), value), max_size=2))
    comment = [("id", '"c1"'), ("issue_id", '"x-2"'), ("author", '"a"'), ("created_at", '""'),
               ("text", '"hello"')]
    comment += draw(st.lists(st.tuples(st.sampled_from(COMMENT_FIELDS), value), max_size=2))
    pairs = [("_type", '"issue"'), ("id", '"x-2"'), ("title", '"t"'), ("status", '"open"'),
             ("priority", "2"), ("issue_type", '"task"'), ("created_at", '""'),
             ("updated_at", '""'), ("dependencies", "[" + _object(dep) + "]"),
             ("comments", "[" + _object(comment) + "]")]
    pairs += draw(st.lists(st.tuples(st.sampled_from(FIELDS), value), max_size=3))
    return _object(pairs)


@st.composite
def _queues(draw: st.DrawFn) -> bytes:
    lines = [GOOD, draw(_lines())]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from([GOOD, "", "  ", "[]", "{", "null", '{"_type":"memory"}'])))
    data = "\n".join(lines).encode()
    if draw(st.integers(0, 3)) == 0:  # raw bytes too: cut anywhere, a stray byte anywhere
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=3)) + data[cut + draw(st.integers(0, 2)):]
    return data


def _use(store: JsonlStore) -> None:
    """Everything a read command does with what it read."""
    tasks = store.all()
    ready = store.ready()
    shapes.dumps(shapes.issues_with_counts(ready, tasks))
    shapes.dumps(shapes.as_object({"summary": graph.stats(tasks)}))
    shapes.dumps([shapes.details(t, tasks) for t in tasks.values()])
    for t in tasks.values():
        assert to_record(t) == _rebuilt_record(t, None)  # the copy is what a rebuild gives
    make_plan(tasks, live=(), actor="me", config=Config())


FUZZ = settings(max_examples=5000, deadline=timedelta(seconds=1), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=_queues())
def test_fuzzed_queue_files_give_tasks_or_one_line_errors_and_stay_unchanged(
        tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_bytes(data)
    store = JsonlStore(path)
    try:
        _use(store)
    except UserError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
        with pytest.raises(UserError):  # a write refuses the same file, and leaves it
            store.comment("x-1", "hello", author="me")
    assert path.read_bytes() == data


@FUZZ
@given(line=_lines())
def test_fuzzed_records_build_tasks_or_refuse_them_by_name(line: str) -> None:
    """The record parser alone, as the bd store also uses it (on bd's output, json.loads'd)."""
    from orchestrator.tasks.model import RecordError
    try:
        rec = json.loads(line)
    except (ValueError, RecursionError):
        return
    try:
        task = task_from_record(rec)
    except RecordError as e:
        assert "\n" not in str(e) and len(str(e)) < 300
        return
    assert to_record(task) == _rebuilt_record(task, None)
    shapes.dumps(shapes.issue(task))


def test_a_line_over_the_size_limit_is_refused_before_parsing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "issues.jsonl"
    path.write_text(GOOD + "\n" + HEAD + ',"notes":"' + "x" * 2000 + '"}\n')
    with pytest.raises(UserError, match=r"issues\.jsonl:2: line longer than"):
        JsonlStore(path).all()
