"""Quay's JSON shapes for auto-prune and immutability policies."""

from __future__ import annotations

from typing import Any

from berth.policies.rules import ImmutabilityRule, PruneRule
from berth.policies.services import Stored


def autoprune_view(stored: Stored[PruneRule]) -> dict[str, Any]:
    rule = stored.rule
    return {
        "uuid": stored.uuid,
        "method": rule.method,
        "value": rule.value,
        "tagPattern": rule.tag_pattern,
        "tagPatternMatches": rule.tag_pattern_matches,
    }


def immutability_view(stored: Stored[ImmutabilityRule]) -> dict[str, Any]:
    return {
        "uuid": stored.uuid,
        "tagPattern": stored.rule.tag_pattern,
        "tagPatternMatches": stored.rule.tag_pattern_matches,
    }
