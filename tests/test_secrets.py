"""One list of token shapes, two uses: the runner's log scrubber and the pre-commit hook."""
from __future__ import annotations

import pytest

from orchestrator.agents.runner import Scrubber
from orchestrator.commands.run_hook import find_tokens
from orchestrator.secrets import SHAPES, find_secrets, scrub

# built at run time: nothing in the repository looks like a real token
TOKENS = {
    "GitHub token": "ghp_" + "x" * 36,
    "GitHub fine-grained token": "github_pat_" + "A1" * 30,
    "Anthropic API key": "sk-ant-api03-" + "q" * 40,
    "OpenAI API key": "sk-proj-" + "a1" * 20,
    "AWS access key ID": "ASIA" + "ABCDEFGHIJKLMNOP",
    "Slack token": "xoxb-" + "1234567890-abc",
    "GitLab token": "glpat-" + "z" * 20,
    "Google API key": "AIza" + "b" * 35,
    "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
}


def _diff(line: str) -> bytes:
    return f"+++ b/f.txt\n@@ -0,0 +3,1 @@\n+x = {line!r}\n".encode()


def test_every_shape_has_an_example() -> None:
    assert set(TOKENS) == {s.kind for s in SHAPES}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_the_scrubber_and_the_hook_both_catch_every_shape(kind: str) -> None:
    token = TOKENS[kind]
    assert find_secrets(f"key={token}", strict=True)[0] == kind
    assert scrub(f"key={token} end") == "key=[REDACTED] end"
    assert Scrubber().text(f"key={token} end") == "key=[REDACTED] end"
    (hit,) = find_tokens(_diff(token))
    assert hit == f"f.txt:3: looks like a {kind}; remove it (and rotate it)"


@pytest.mark.parametrize("token", ["github_pat_" + "A1" * 12, "sk-" + "a1" * 12])
def test_the_hook_is_stricter_than_the_scrubber_on_loose_shapes(token: str) -> None:
    """Scrubbing a short lookalike costs one word of a log; refusing it blocks a commit."""
    assert Scrubber().text(token) == "[REDACTED]"
    assert find_secrets(token, strict=True) == [] and find_tokens(_diff(token)) == []


@pytest.mark.parametrize("text", ["disk-usage-monitoring-service", "AKIA" + "ABCDEFGHIJKLMNOPQ",
                                  "ghp_short", "see ask-the-user-before-deleting-files"])
def test_ordinary_words_are_neither_scrubbed_nor_refused(text: str) -> None:
    assert scrub(text) == text and find_secrets(text) == [] and find_tokens(_diff(text)) == []


def test_secret_values_are_scrubbed_longest_first() -> None:
    assert scrub("a hunter2-horse b hunter2", ["hunter2", "hunter2-horse"]) == \
        "a [REDACTED] b [REDACTED]"
