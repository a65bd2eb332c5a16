"""What a credential looks like: one list of token shapes for every place that must not keep one.

Two uses, one list: the agent runner cuts tokens out of every log and prompt (`scrub`), and the
pre-commit hook refuses a commit that adds one (`find_secrets(..., strict=True)`). Scrubbing
errs towards cutting (a false positive hides one word of a log); the hook asks for longer
tokens where a shape is loose (a false positive blocks someone's commit).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[REDACTED]"
# A token starts only where a word does: not inside a longer word or a kebab-case word, or
# "disk-usage-monitoring-service" (..."sk-usage-...") would be cut out of paths and transcripts.
_START = r"(?<![A-Za-z0-9_\-])"


@dataclass(frozen=True)
class Shape:
    kind: str               # said by the hook: "looks like a <kind>"
    prefix: str             # regular expression
    body: str = ""          # character class of what follows the prefix
    min_len: int = 0        # body length that is scrubbed
    strict_len: int = 0     # body length the hook refuses (0: min_len)
    exact: bool = False     # the body is exactly min_len long (AWS, Google)

    def pattern(self, *, strict: bool = False) -> str:
        if not self.body:
            return self.prefix
        n = (self.strict_len or self.min_len) if strict else self.min_len
        if self.exact:
            return f"{_START}{self.prefix}{self.body}{{{n}}}(?![A-Za-z0-9])"
        return f"{_START}{self.prefix}{self.body}{{{n},}}"


SHAPES = (
    Shape("GitHub token", r"gh[pousr]_", "[A-Za-z0-9]", 36),
    Shape("GitHub fine-grained token", r"github_pat_", "[A-Za-z0-9_]", 22, strict_len=40),
    Shape("Anthropic API key", r"sk-ant-", r"[A-Za-z0-9_\-]", 20),
    Shape("OpenAI API key", r"sk-(?:proj-)?", r"[A-Za-z0-9_\-]", 20, strict_len=32),
    Shape("AWS access key ID", r"(?:AKIA|ASIA)", "[0-9A-Z]", 16, exact=True),
    Shape("Slack token", r"xox[abprs]-", r"[A-Za-z0-9\-]", 10),
    Shape("GitLab token", r"glpat-", r"[A-Za-z0-9_\-]", 20),
    Shape("Google API key", r"AIza", r"[0-9A-Za-z_\-]", 35, exact=True),
    Shape("private key", r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
)

_STRICT = tuple((s.kind, re.compile(s.pattern(strict=True))) for s in SHAPES)
_LOOSE = tuple((s.kind, re.compile(s.pattern())) for s in SHAPES)


def scrub_pattern(values: Iterable[str] = ()) -> re.Pattern[bytes]:
    """One bytes pattern for every token shape plus the given secret values (longest first, so
    a value that contains another is cut whole)."""
    words = [re.escape(v.encode()) for v in sorted(set(values), key=len, reverse=True) if v]
    return re.compile(b"|".join([*words, *(s.pattern().encode() for s in SHAPES)]))


def scrub(text: str, values: Iterable[str] = ()) -> str:
    """`text` with every token and every given secret value replaced by [REDACTED]."""
    raw = scrub_pattern(values).sub(REDACTED.encode(), text.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "replace")


def find_secrets(text: str, *, strict: bool = False) -> list[str]:
    """The kinds of token found in `text`, in the order of SHAPES; strict for the hook."""
    return [kind for kind, rx in (_STRICT if strict else _LOOSE) if rx.search(text)]
