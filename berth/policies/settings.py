"""The policies' configuration section (auto-prune and tag immutability) and its validator.

Built once by ``berth.config.load_settings``; this package never reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.policies.errors import InvalidPolicy
from berth.policies.rules import PruneRule, prune_rule_from_config


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """FEATURE_AUTO_PRUNE (routes and the worker's sweep), DEFAULT_NAMESPACE_AUTOPRUNE_POLICY
    (the rule of namespaces without policies of their own), BERTH_AUTOPRUNE_INTERVAL (seconds
    between sweeps) and FEATURE_IMMUTABLE_TAGS (the immutability policy routes)."""

    auto_prune: bool = False
    default_prune_rule: PruneRule | None = None
    autoprune_interval_s: int = 3600
    immutable_tags: bool = False


def default_prune_rule(value: object) -> PruneRule | None:
    """DEFAULT_NAMESPACE_AUTOPRUNE_POLICY, validated: ``{method, value}`` like a policy body
    (None: no default). Raises ValueError with the policy's own message."""
    if value is None:
        return None
    try:
        return prune_rule_from_config(value)
    except InvalidPolicy as e:
        raise ValueError(e.message) from e
