"""Fuzzing every parser of untrusted input except the queue's own records (tests/test_jsonl_parse.py):
`.orchestrator.yml`, bd's config.yaml, agent streams (the reader and the transcript renderer),
`outcome.json`, and what git hands the hooks and the merge driver.

Each parser gets at least 10,000 generated inputs: near-valid documents with one thing wrong,
wrong shapes and types, huge numbers, deep nesting, truncation, control characters and plain
noise. Every input must give a result or a one-line `UserError`, never another exception; no
batch of inputs may take a second (hypothesis' `deadline`); and no file a parser reads may
change.

Per example hypothesis draws a few JSON values (any shape, keys mostly the ones the parser looks
at) and a seed; the batch is built from those with `random.Random(seed)` (documents, then cut,
spliced, repeated, a character replaced, deep brackets), so drawing does not dominate and the
whole file runs in well under a minute. A failure prints the values and the seed to replay it.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.agents.outcome import OUTCOME_KINDS, Outcome, classify, read_stream
from orchestrator.agents.session import read_run_file
from orchestrator.agents.transcript import render_line
from orchestrator.commands.merge_driver import merge_driver
from orchestrator.commands.run_hook import has_message, parse_push_refs, pre_push, trailer_values
from orchestrator.config import Config, load_config
from orchestrator.errors import UserError
from orchestrator.tasks.merge import merge_records
from orchestrator.tasks.model import task_from_record
from orchestrator.tasks.vocab import Vocabulary, load_vocabulary, vocabulary_from
from support.repo import task_record

INPUTS = 10_000   # per parser, at least


def fuzz(batch: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Run the decorated check on INPUTS inputs in batches of `batch` (one example each)."""
    return settings(max_examples=-(-INPUTS // batch), deadline=timedelta(seconds=1), database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def one_line(e: BaseException, prefix: str = "") -> None:
    text = str(e)
    assert text and "\n" not in text and text.startswith(prefix), text


def encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes that are not UTF-8


# -- generation ------------------------------------------------------------------------------------

SEEDS = st.integers(0, 2 ** 32 - 1)  # random.Random(seed): hypothesis' own randoms() draw per call
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 6, 10 ** 6),
    st.sampled_from([2 ** 63, -(2 ** 63) - 1, 10 ** 400]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
)
TOKENS = ["[", "{", "]", "}", '"', "'", ":", ",", "\n", "- ", "&a ", "*a", "!!int ", "\\", "\x00",
          "\x1b", "\r", "\t", "\ufeff", "\u2028", "é", "9" * 40, "1e999", "null", "true", "-1", " "]


def json_values(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, with object keys mostly from `keys` (the fields a reader looks at)."""
    key = st.one_of(st.sampled_from(keys), st.text(max_size=6))
    return st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(key, inner, max_size=4)), max_leaves=8)


def noise(rnd: random.Random) -> str:
    return "".join(rnd.choice(TOKENS) if rnd.random() < 0.5 else chr(rnd.randint(0, 0x2FF))
                   for _ in range(rnd.randint(0, 30)))


def variants(text: str, rnd: random.Random, n: int, *, deep: bool = True) -> list[str]:
    """`text` and n - 1 variants of it: cut, with a token inserted, a slice deleted or
    repeated, a character replaced (a lone surrogate included), or deep brackets spliced in."""
    out = [text]
    for _ in range(n - 1):
        at = rnd.randint(0, len(text))
        how = rnd.randrange(7 if deep else 6)
        if how == 0:
            out.append(text[:at])
        elif how == 1:
            out.append(text[:at] + rnd.choice(TOKENS) + text[at:])
        elif how == 2:
            out.append(text[:at] + text[at + rnd.randint(1, 20):])
        elif how == 3:
            out.append(text[:at] + text[at:at + rnd.randint(1, 40)] * rnd.randint(2, 4) + text[at:])
        elif how == 4:
            out.append(text[:at] + chr(rnd.choice([rnd.randint(0, 0x7f), rnd.randint(0, 0x10FFFF)]))
                       + text[at + 1:])
        elif how == 5:
            out.append(text[:at] + noise(rnd) + text[at:])
        else:
            depth = rnd.choice([20, 70, 1000, 30_000])
            opener = rnd.choice(["[", "{\"a\":", "{a: "])
            out.append(text[:at] + opener * depth + rnd.choice(["", "]" * depth]) + text[at:])
    return out


def reshaped(value: Any, keys: list[str], values: list[Any], rnd: random.Random) -> Any:
    """`value` (an object, normally) with a few keys set to drawn values of any shape."""
    out = dict(value) if isinstance(value, dict) else {}
    for _ in range(rnd.randint(0, 3)):
        out[rnd.choice(keys)] = rnd.choice(values) if values else None
    return out


# -- .orchestrator.yml and bd's config.yaml ----------------------------------------------------------

CONFIG_KEYS = ["store", "bd", "jsonl", "agent", "dispatch", "github", "git", "path", "actor", "push",
               "profile", "command", "model", "timeout_minutes", "budgets", "max_turns",
               "context_patterns", "max_parallel", "max_attempts", "max_cost_usd", "exclude_types",
               "mention", "protected_branches", "<<", "types", "status", "custom", "status.custom",
               "types.custom"]
CONFIG_VALUES = st.lists(json_values(CONFIG_KEYS), min_size=1, max_size=3)
YAML_BITS = ["store: jsonl\n", "agent:\n  model: x\n", "dispatch:\n  max_parallel: 2\n", "  - a\n",
             ": ", "&a ", "*a ", "<<: *a\n", "!!int ", "!!float ", "!!binary ", "!!set ", "!foo ",
             "!!timestamp ", "!!python/object:os.system ", "? ", "# c\n", "1e999", ".nan", ".inf",
             "0x1F", "0o8", "0b", "9" * 40, "~", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
             "|\n", ">-\n", "2024-13-45", "agent:\n  <<: {model: 3}\n", "agent:\n  context_patterns: ['(']\n"]


def yaml_document(values: list[Any], rnd: random.Random) -> str:
    """A config-like YAML document: JSON (which is YAML), block style, or bits of YAML syntax."""
    kind = rnd.randrange(3)
    if kind == 0:
        return json.dumps(reshaped(values[0], CONFIG_KEYS, values, rnd))
    if kind == 1:
        return "".join(f"{rnd.choice(CONFIG_KEYS)}:\n  {rnd.choice(CONFIG_KEYS)}: {json.dumps(rnd.choice(values))}\n"
                       for _ in range(rnd.randint(1, 4)))
    return "".join(rnd.choice(YAML_BITS) if rnd.random() < 0.7 else noise(rnd) for _ in range(rnd.randint(0, 12)))


def test_config_files(tmp_path: Path) -> None:
    path = tmp_path / ".orchestrator.yml"
    count = [0]

    @fuzz(batch=20)
    @given(CONFIG_VALUES, SEEDS)
    def check(values: list[Any], seed: int) -> None:
        rnd = random.Random(seed)
        docs = [v for _ in range(4) for v in variants(yaml_document(values, rnd), rnd, 5)]
        for text in docs:
            data = encoded(text)
            path.write_bytes(data)
            try:
                assert isinstance(load_config(path), Config)
            except UserError as e:
                one_line(e, str(path))
            assert path.read_bytes() == data
            count[0] += 1

    check()
    assert count[0] >= INPUTS


BEADS_VALUES = st.lists(json_values(["custom", "status.custom", "types.custom"]), min_size=1, max_size=3)
CUSTOM_NAMES = ["in_review:active", "qa", "agent", "rig", "open", "Bad Name", "a,b,,c", " x ", "x:",
                "ok_1-2", "é", "x" * 60]


def test_beads_config_custom_values(tmp_path: Path) -> None:
    """vocabulary_from on parsed documents of any shape (parse_yaml is test_config_files'), and
    one in twenty through the file."""
    beads = tmp_path / ".beads"
    beads.mkdir()
    count = [0]

    @fuzz(batch=20)
    @given(BEADS_VALUES, SEEDS)
    def check(values: list[Any], seed: int) -> None:
        rnd = random.Random(seed)
        pool = values + CUSTOM_NAMES + [",".join(rnd.sample(CUSTOM_NAMES, 3)), rnd.sample(CUSTOM_NAMES, 2)]
        for i in range(20):
            doc = reshaped(rnd.choice(values), ["status.custom", "types.custom", "status", "types"], pool, rnd)
            for key in ("status", "types"):
                if key in doc and rnd.random() < 0.5:
                    doc[key] = {"custom": rnd.choice(pool)}
            try:
                assert isinstance(vocabulary_from(doc, "config.yaml"), Vocabulary)
            except UserError as e:
                one_line(e, "config.yaml")
            count[0] += 1
            if i == 0:
                data = encoded(rnd.choice(variants(json.dumps(doc), rnd, 3)))
                (beads / "config.yaml").write_bytes(data)
                try:
                    load_vocabulary(beads)
                except UserError as e:
                    one_line(e, str(beads / "config.yaml"))
                assert (beads / "config.yaml").read_bytes() == data

    check()
    assert count[0] >= INPUTS


# -- agent streams: the reader, the classifier and the transcript renderer ------------------------

EVENT_KEYS = ["type", "subtype", "session_id", "message", "content", "text", "tool_use", "input",
              "tool_result", "is_error", "result", "errors", "permission_denials", "total_cost_usd",
              "cost_usd", "usage", "modelUsage", "input_tokens", "output_tokens", "num_turns",
              "terminal_reason", "api_error_status", "error", "parent_tool_use_id", "model", "item",
              "thread_id", "changes", "aggregated_output", "exit_code", "command", "timestamp",
              "stats", "status", "role", "compact_metadata", "compact_result", "rate_limit_info",
              "tools", "thinking", "name", "output", "parameters", "tool_name"]
EVENT_TYPES = ["system", "assistant", "user", "result", "stream_event", "rate_limit_event",
               "thread.started", "turn.started", "turn.completed", "turn.failed", "item.completed",
               "error", "init", "message", "tool_use", "tool_result"]
EVENT_VALUES = st.lists(json_values(EVENT_KEYS), min_size=1, max_size=4)
SUBTYPES = ["init", "success", "error_max_turns", "error_during_execution", "compact_boundary",
            "status", "api_retry", "permission_denied", "agent_message", "command_execution",
            "file_change", "text", "tool_use", "tool_result", "thinking"]


def stream_line(values: list[Any], rnd: random.Random) -> str:
    """One line of an agent's stdout: mostly an event of a known type whose fields have any
    shape, sometimes noise, a deep line or a long one."""
    kind = rnd.randrange(10)
    if kind < 7:
        event = reshaped(rnd.choice(values), EVENT_KEYS, values + SUBTYPES, rnd)
        event["type"] = rnd.choice(EVENT_TYPES) if rnd.random() < 0.9 else rnd.choice(values)
        if rnd.random() < 0.7:
            event[rnd.choice(["session_id", "timestamp"])] = "s"
        for key in ("message", "item", "content"):
            if rnd.random() < 0.2:  # a block list of the shape the readers walk, its members of any shape
                event[key] = {"type": rnd.choice(SUBTYPES), "content": [rnd.choice(values), {
                    "type": rnd.choice(SUBTYPES), "text": rnd.choice(values)}]}
        return json.dumps(event)
    if kind == 7:
        return noise(rnd)
    if kind == 8:
        return '{"type":"assistant","session_id":"s","message":' + "[" * rnd.choice([70, 1000, 30_000]) + "}"
    return json.dumps({"type": "result", "session_id": "s", "result": "x\n" * rnd.randint(0, 300)})


BEFORE = {"t-1": task_from_record(task_record("t-1", status="in_progress"))}
AFTER = [BEFORE, {"t-1": task_from_record(task_record("t-1", status="closed"))}, {}]


def test_agent_streams_are_judged() -> None:
    count = [0]

    @fuzz(batch=20)
    @given(EVENT_VALUES, SEEDS)
    def check(values: list[Any], seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(20):
            lines = [rnd.choice(variants(stream_line(values, rnd), rnd, 2)) for _ in range(rnd.randint(0, 5))]
            fmt = rnd.choice(["auto", "claude", "codex", "gemini", "text"])
            exit_code = rnd.choice([None, 0, 1, 2, 41, 53, 124, 130, 137, -9])
            killed = rnd.choice(["", "", "", "timeout", "idle_timeout", "interrupted"])
            facts = read_stream(fmt, "\n".join(lines), noise(rnd), exit_code, context_patterns=("free",))
            got = classify(facts, task_id="t-1", exit_code=exit_code, killed=killed, before=BEFORE,
                           after=rnd.choice(AFTER))
            assert isinstance(got, Outcome) and got.kind in OUTCOME_KINDS and got.digest
            count[0] += 1

    check()
    assert count[0] >= INPUTS


def test_transcript_lines_render() -> None:
    count = [0]

    @fuzz(batch=20)
    @given(EVENT_VALUES, SEEDS)
    def check(values: list[Any], seed: int) -> None:
        rnd = random.Random(seed)
        fmt = rnd.choice(["auto", "text", "claude", "codex", "gemini"])
        for line in [v for _ in range(4) for v in variants(stream_line(values, rnd), rnd, 5)]:
            out, fmt = render_line(line, fmt)
            assert isinstance(out, list) and all(isinstance(x, str) for x in out)
            count[0] += 1

    check()
    assert count[0] >= INPUTS


# -- outcome.json ----------------------------------------------------------------------------------

RUN_KEYS = ["task_id", "attempt", "profile", "budget", "log_dir", "started_at", "duration_s", "outcome",
            "kind", "subclass", "retryable", "digest", "exit_code", "cost_usd", "input_tokens",
            "output_tokens", "critical_errors", "new_blockers"]
RUN_VALUES = st.lists(json_values(RUN_KEYS), min_size=1, max_size=3)
GOOD_RUN = {"task_id": "t-1", "attempt": 1, "profile": "claude", "budget": "high", "log_dir": "/l",
            "started_at": "2026-11-25T06:00:00Z", "duration_s": 2.0,
            "outcome": {"kind": "success", "subclass": "", "retryable": True, "digest": "d",
                        "exit_code": 0, "cost_usd": 0.5, "input_tokens": 1, "output_tokens": 2,
                        "critical_errors": [], "new_blockers": []}}


def test_outcome_files(tmp_path: Path) -> None:
    path = tmp_path / "outcome.json"
    count = [0]

    @fuzz(batch=20)
    @given(RUN_VALUES, SEEDS)
    def check(values: list[Any], seed: int) -> None:
        rnd = random.Random(seed)
        run = reshaped(GOOD_RUN, RUN_KEYS, values + list(OUTCOME_KINDS), rnd)
        if isinstance(run.get("outcome"), dict):
            run["outcome"] = reshaped(run["outcome"], RUN_KEYS, values + list(OUTCOME_KINDS), rnd)
        text = json.dumps(run, indent=rnd.choice([None, 2]))
        for variant in variants(text, rnd, 20):
            data = encoded(variant)
            path.write_bytes(data)
            try:
                got = read_run_file(path)
                assert got.outcome.kind in OUTCOME_KINDS and isinstance(got.attempt, int)
            except UserError as e:
                one_line(e, str(path))
            assert path.read_bytes() == data
            count[0] += 1

    check()
    assert count[0] >= INPUTS


# -- git hook input --------------------------------------------------------------------------------

SHAS = ["a" * 40, "0" * 40, "b" * 64, "HEAD", "a" * 39, "A" * 40, "", "--output=x"]
REFS = ["refs/heads/main", "refs/heads/master", "refs/heads/orchestrator/x-1", "refs/tags/v1",
        "(delete)", "HEAD", "refs/heads/release/1.0", "refs/heads/a b", ""]


def push_stdin(rnd: random.Random) -> str:
    lines = []
    for _ in range(rnd.randint(0, 4)):
        fields = [rnd.choice(REFS), rnd.choice(SHAS), rnd.choice(REFS), rnd.choice(SHAS)]
        fields = [noise(rnd) if rnd.random() < 0.05 else f for f in fields]
        lines.append(rnd.choice([" ", " ", " ", "  ", "\t"]).join(fields[: rnd.choice([4, 4, 4, 3, 5])]))
    return "\n".join(lines) + "\n"


def test_pre_push_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ORCHESTRATOR_TASK_ID", "x-1")
    count = [0]

    @fuzz(batch=10)
    @given(SEEDS)
    def check(seed: int) -> None:
        rnd = random.Random(seed)
        for text in variants(push_stdin(rnd), rnd, 5) + variants(push_stdin(rnd), rnd, 5):
            try:
                refs = parse_push_refs(text)
                assert pre_push(["main", "release/*"], ["origin"], text) in (0, 1)
                assert all(len(r.local_sha) in (40, 64) for r in refs)
            except UserError as e:
                one_line(e, "hook pre-push: stdin line ")
            count[0] += 1
        capsys.readouterr()

    check()
    assert count[0] >= INPUTS


MESSAGES = st.text(max_size=200)
IDS = ["x-1", "x-1.2", " 3 ", "1\nX: y", "x-1\n", "٣", "99999999", "", "bd-a3f8.1.2", "-x"]


def test_commit_messages_and_trailer_values() -> None:
    count = [0]

    @fuzz(batch=10)
    @given(MESSAGES, SEEDS)
    def check(text: str, seed: int) -> None:
        rnd = random.Random(seed)
        cases = zip(variants(text, rnd, 10), variants(rnd.choice(IDS), rnd, 10),
                    variants(rnd.choice(IDS), rnd, 10), strict=True)
        for message, task_id, attempt in cases:
            assert isinstance(has_message(message), bool)
            try:
                tid, att = trailer_values({"ORCHESTRATOR_TASK_ID": task_id, "ORCHESTRATOR_ATTEMPT": attempt})
                assert "\n" not in tid + att and (att == "" or att.isdigit())
            except UserError as e:
                one_line(e, "hook commit-msg: ")
            count[0] += 1

    check()
    assert count[0] >= INPUTS


QUEUE = [task_record("x-1"), task_record("x-2", blocks_on=["x-1"]), task_record("x-3", parent="x-1"),
         task_record("x-4", status="closed")]
QUEUE_CHANGES = {
    "title": ["T", "other"], "status": ["open", "closed", "in_progress", "blocked"], "priority": [0, 4],
    "labels": [[], ["a"], ["a", "b"]], "notes": ["n", ""], "close_reason": ["done"],
    "updated_at": ["2026-05-29T09:00:00Z", "2026-05-29T10:00:00Z", "garbage"],
    "comments": [[{"id": "c1", "text": "hi"}], [{"id": "c2", "text": "yo", "created_at": "x"}]],
    "dependencies": [[], [{"depends_on_id": "x-2", "type": "blocks"}],
                     [{"depends_on_id": "x-3", "type": "parent-child"}]],
}


def queue_text(rnd: random.Random) -> str:
    """A small queue as one side of a merge: some tasks dropped, some fields changed, an edge
    that may close a cycle, sometimes a conflict marker, a memory or a broken line."""
    lines = []
    for rec in QUEUE:
        if rnd.random() < 0.15:
            continue
        rec = dict(rec)
        for field in rnd.sample(sorted(QUEUE_CHANGES), rnd.randint(0, 2)):
            rec[field] = rnd.choice(QUEUE_CHANGES[field])
        lines.append(json.dumps(rec))
    extra = rnd.choice(["", "", "", "<<<<<<< ours", "{not json", '{"_type":"memory","key":"k"}'])
    if extra:
        lines.insert(rnd.randint(0, len(lines)), extra)
    return "\n".join(lines) + "\n"


def test_merge_driver_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """merge_records on every input; the driver itself, on files, for one in ten (its own part
    is reading and the atomic, fsynced write of %A)."""
    paths = [tmp_path / name for name in ("base", "ours", "theirs")]
    labels = ("x (base)", "x (ours)", "x (theirs)")
    count = [0]

    @fuzz(batch=10)
    @given(SEEDS)
    def check(seed: int) -> None:
        rnd = random.Random(seed)
        for i in range(10):
            # mostly whole queues (the merge itself); one side in five cut or spliced. No deep
            # nesting: queue lines are the queue-record parser's, fuzzed in test_jsonl_parse.py
            texts = [rnd.choice([queue_text(rnd)] * 4 + variants(queue_text(rnd), rnd, 2, deep=False)[1:])
                     for _ in paths]
            try:
                # as the driver hands them over: decoded text (bytes that are not UTF-8 it refuses)
                merged = merge_records(*(encoded(t).decode("utf-8", "replace") for t in texts), names=labels)
                assert isinstance(merged.text, str)
            except UserError as e:
                one_line(e, "x (")
            count[0] += 1
            if i:
                continue
            for path, text in zip(paths, texts, strict=True):
                path.write_bytes(encoded(text))
            try:
                assert merge_driver(*paths, name=".beads/issues.jsonl") in (0, 1)
            except UserError as e:  # ours is written only when the merge succeeds
                one_line(e, "merge-driver: ")
                assert paths[1].read_bytes() == encoded(texts[1])
            assert [paths[0].read_bytes(), paths[2].read_bytes()] == [encoded(texts[0]), encoded(texts[2])]
        capsys.readouterr()

    check()
    assert count[0] >= INPUTS
