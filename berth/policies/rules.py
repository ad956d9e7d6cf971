"""Policy values, validated: what an auto-prune or immutability policy says, without I/O.

Tag patterns are Python regular expressions, compiled once. As in Quay, an auto-prune
pattern is *searched* in the tag name (Quay runs it as a database regex), while an
immutability pattern must *match* from the start of the name (Quay's ``re.match``).
``tag_pattern_matches`` false turns the selection around: the names that do not match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from berth.durations import parse_duration
from berth.policies.errors import InvalidPolicy

NUMBER_OF_TAGS = "number_of_tags"
CREATION_DATE = "creation_date"
# Berth's own: tags not pulled (by tag, or their manifest by digest) for the duration; a
# tag never pulled counts from its push (pull counters: berth.registry.pulls).
LAST_PULL_DATE = "last_pull_date"
METHODS = (NUMBER_OF_TAGS, CREATION_DATE, LAST_PULL_DATE)
MAX_PATTERN_CHARS = 256


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Which tag names a policy applies to (every name when there is no pattern)."""

    pattern: str | None
    matches: bool = True
    anchored: bool = False

    def selects(self, name: str) -> bool:
        if self.pattern is None:
            return True
        rx = compiled(self.pattern)
        hit = (rx.match(name) if self.anchored else rx.search(name)) is not None
        return hit is self.matches


@dataclass(frozen=True, slots=True)
class PruneRule:
    """Keep the newest ``value`` tags (number_of_tags), delete tags older than the
    ``value`` duration (creation_date) or not pulled for it (last_pull_date), among the
    tags the pattern selects."""

    method: str
    value: int | str
    tag_pattern: str | None = None
    tag_pattern_matches: bool = True

    @property
    def filter(self) -> TagFilter:
        return TagFilter(self.tag_pattern, self.tag_pattern_matches, anchored=False)

    @property
    def keep_newest(self) -> int | None:
        return int(self.value) if self.method == NUMBER_OF_TAGS else None

    @property
    def max_age_s(self) -> int | None:
        return parse_duration(str(self.value)) if self.method == CREATION_DATE else None

    @property
    def max_idle_s(self) -> int | None:
        return parse_duration(str(self.value)) if self.method == LAST_PULL_DATE else None


@dataclass(frozen=True, slots=True)
class ImmutabilityRule:
    tag_pattern: str
    tag_pattern_matches: bool = True

    @property
    def filter(self) -> TagFilter:
        return TagFilter(self.tag_pattern, self.tag_pattern_matches, anchored=True)


def _valid_value(method: str, value: object) -> int | str | None:
    if method == NUMBER_OF_TAGS:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return None
    if not isinstance(value, str):
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        return None
    return value.strip() if seconds > 0 else None


def _pattern(raw: object, *, empty_message: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPolicy(empty_message, tag_pattern=raw)
    pattern = raw.strip()
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidPolicy(
            f"tag_pattern must be {MAX_PATTERN_CHARS} characters or less", tag_pattern=pattern
        )
    try:
        compiled(pattern)
    except re.error as e:
        raise InvalidPolicy(f"Invalid regex pattern: {e}", tag_pattern=pattern) from e
    return pattern


def _matches_flag(raw: object) -> bool:
    if raw is None:
        return True
    if not isinstance(raw, bool):
        raise InvalidPolicy("tag_pattern_matches must be bool", tag_pattern_matches=raw)
    return raw


def prune_rule(
    method: object, value: object, tag_pattern: object = None, tag_pattern_matches: object = None
) -> PruneRule:
    """A validated auto-prune rule (``InvalidPolicy`` with Quay's messages otherwise)."""
    if method not in METHODS:
        raise InvalidPolicy("Invalid method provided", method=method)
    assert isinstance(method, str)
    checked = _valid_value(method, value)
    if checked is None:
        raise InvalidPolicy("Invalid value given for method type", method=method, value=value)
    pattern = (
        None
        if tag_pattern is None
        else _pattern(tag_pattern, empty_message="tag_pattern cannot be empty")
    )
    return PruneRule(method, checked, pattern, _matches_flag(tag_pattern_matches))


def immutability_rule(tag_pattern: object, tag_pattern_matches: object = None) -> ImmutabilityRule:
    """A validated immutability rule: the pattern is required."""
    pattern = _pattern(
        tag_pattern, empty_message="tag_pattern is required and must be a non-empty string"
    )
    return ImmutabilityRule(pattern, _matches_flag(tag_pattern_matches))


def prune_rule_from_config(value: object) -> PruneRule:
    """DEFAULT_NAMESPACE_AUTOPRUNE_POLICY: ``{method, value}`` plus an optional pattern
    (``tagPattern``/``tagPatternMatches``, or Quay's stored ``tag_pattern``/...)."""
    if not isinstance(value, dict):
        raise InvalidPolicy("must be a mapping with method and value", policy=value)
    return prune_rule(
        value.get("method"),
        value.get("value"),
        value.get("tagPattern", value.get("tag_pattern")),
        value.get("tagPatternMatches", value.get("tag_pattern_matches")),
    )
