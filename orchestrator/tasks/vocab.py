"""bd's vocabulary: which statuses, issue types and dependency types a write may use.

bd 1.x refuses any other value on write (`bd update --status done`: "invalid status"), so a
task never gets a status no view knows. Built-ins are bd's (internal/types/types.go); custom
statuses and types come from bd's `status.custom` / `types.custom` config, which the embedded
store reads from `.beads/config.yaml` (bd's own fallback when its database has none).
Dependency types are bd's well-known ones: `bd create --deps` refuses others, and an edge of an
unknown type would silently not block anything.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError
from orchestrator.fileio import read_capped_text
from orchestrator.tasks.model import WELL_KNOWN_DEP_TYPES, IssueType, Status, normalize_type

BUILTIN_STATUSES = tuple(s.value for s in Status)
BUILTIN_TYPES = tuple(t.value for t in IssueType)
DEP_TYPES = tuple(sorted(WELL_KNOWN_DEP_TYPES))
# bd's ParseCustomStatusConfig: lowercase, letter first; a custom type is any short word
_CUSTOM_STATUS = re.compile(r"[a-z][a-z0-9_-]*")
_CUSTOM_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,49}")
MAX_CUSTOM = 50
MAX_BEADS_CONFIG_BYTES = 256 * 1024

# One-line help for the CLI's --status / --type options (bd's flags of the same names).
STATUS_HELP = (f"one of {', '.join(BUILTIN_STATUSES)}, or a custom status from status.custom "
               "in .beads/config.yaml")
TYPE_HELP = (f"one of {', '.join(BUILTIN_TYPES)} (aliases: feat, enhancement, adr, ...), or a "
             "custom type from types.custom in .beads/config.yaml")
DEP_TYPE_HELP = f"dependency type: {', '.join(DEP_TYPES)} (default: blocks)"


def _refusal(what: str, value: str, valid: Iterable[str], where: str, adjective: str = "invalid"
             ) -> UserError:
    valid = list(valid)
    near = difflib.get_close_matches(value, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {near[0]}?" if near else ""
    shown = value if len(value) <= 60 else value[:59] + "…"
    return UserError(f"{adjective} {what} {shown!r}{hint} (valid: {', '.join(valid)}{where})")


@dataclass(frozen=True)
class Vocabulary:
    custom_statuses: tuple[str, ...] = ()
    custom_types: tuple[str, ...] = ()
    source: str = ""   # where the custom values came from, for errors

    @property
    def statuses(self) -> tuple[str, ...]:
        return BUILTIN_STATUSES + self.custom_statuses

    @property
    def types(self) -> tuple[str, ...]:
        return BUILTIN_TYPES + self.custom_types

    def _where(self, key: str) -> str:
        return f"; custom ones from {key} in {self.source or '.beads/config.yaml'}"

    def check_status(self, value: str) -> str:
        if value in self.statuses:
            return value
        raise _refusal("status", value, self.statuses, self._where("status.custom"))

    def check_type(self, value: str) -> str:
        """The canonical type (aliases resolved, as bd does), or a refusal."""
        name = normalize_type(value)
        if name in self.types:
            return name
        raise _refusal("issue type", value, self.types, self._where("types.custom"))


def check_dep_type(value: str) -> str:
    if value in WELL_KNOWN_DEP_TYPES:
        return value
    raise _refusal("dependency type", value, DEP_TYPES, "", "unknown")  # bd's word for it


def _config_list(data: Any, key: str, where: str) -> list[str]:
    """bd's getConfigList: `a.b: "x,y"`, `a: {b: "x,y"}` or a YAML list, entries split on commas."""
    head, _, tail = key.partition(".")
    value = data.get(key)
    if value is None and isinstance(data.get(head), dict):
        value = data[head].get(tail)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(x, str) for x in items):
        raise UserError(f"{where}: {key} must be a comma-separated string or a list of strings")
    return [part.strip() for x in items for part in x.split(",") if part.strip()]


def load_vocabulary(beads_dir: Path) -> Vocabulary:
    """The vocabulary with the custom statuses/types of `<beads_dir>/config.yaml`, if any."""
    from orchestrator.config import parse_yaml  # the same limits as .orchestrator.yml

    path = beads_dir / "config.yaml"
    text = read_capped_text(path, MAX_BEADS_CONFIG_BYTES, "bd config file", missing_ok=True)
    if text is None:
        return Vocabulary()
    return vocabulary_from(parse_yaml(text, str(path)), str(path))


def vocabulary_from(doc: Any, where: str) -> Vocabulary:
    """The custom statuses and types of a parsed bd config.yaml (any YAML value)."""
    if not isinstance(doc, dict):
        return Vocabulary()
    statuses = []
    for entry in _config_list(doc, "status.custom", where):
        name = entry.split(":", 1)[0].strip()  # "in_review:active": the category is bd's
        if not _CUSTOM_STATUS.fullmatch(name) or name in BUILTIN_STATUSES:
            raise UserError(f"{where}: status.custom: {name[:60]!r} is not a valid custom status "
                            "(lowercase, letter first, not a built-in status)")
        statuses.append(name)
    types = _config_list(doc, "types.custom", where)
    for name in types:
        if not _CUSTOM_TYPE.fullmatch(name):
            raise UserError(f"{where}: types.custom: {name[:60]!r} is not a valid type name")
    if len(statuses) > MAX_CUSTOM or len(types) > MAX_CUSTOM:
        raise UserError(f"{where}: more than {MAX_CUSTOM} custom statuses or types")
    return Vocabulary(tuple(dict.fromkeys(statuses)), tuple(dict.fromkeys(types)), where)
