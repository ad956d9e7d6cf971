"""BERTH_RATE_LIMITS, validated: the limits of /v2 and of /api/v1 (off by default).

```yaml
BERTH_RATE_LIMITS:
  v2:  {caller: 1200, namespace: 12000, window: 60}
  api: {caller: 300, window: 60}
```

``caller``: requests per window of each caller (a user, a robot, an OAuth or app token, an
anonymous client address); ``namespace``: requests per window into one namespace, all
callers together; ``window``: seconds. A missing surface or figure is not limited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SURFACES = ("v2", "api")


@dataclass(frozen=True, slots=True)
class RateLimit:
    caller: int | None = None
    namespace: int | None = None
    window_s: int = 60


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """``enabled`` when BERTH_RATE_LIMITS is in the config (``{}``: only the superusers'
    per-namespace limits); off, no request is counted."""

    limits: dict[str, RateLimit] = field(default_factory=dict)  # surface -> limit
    redis: dict[str, Any] | None = None  # shared counters across replicas (BERTH_REDIS ...)
    enabled: bool = False


def _positive(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer")
    return value


def rate_limit(value: object, where: str) -> RateLimit:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping with caller, namespace and window")
    unknown = sorted(set(value) - {"caller", "namespace", "window"})
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(unknown)}")
    window = _positive(value.get("window", 60), f"{where}.window")
    assert window is not None
    return RateLimit(
        _positive(value.get("caller"), f"{where}.caller"),
        _positive(value.get("namespace"), f"{where}.namespace"),
        window,
    )


def rate_limits(value: object) -> dict[str, RateLimit]:
    """BERTH_RATE_LIMITS -> surface -> limit (ValueError with the key's path)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of v2 and api to limits")
    unknown = sorted(set(value) - set(SURFACES))
    if unknown:
        raise ValueError(f"unknown surface {', '.join(unknown)}: surfaces are v2, api")
    return {surface: rate_limit(v, surface) for surface, v in value.items() if v is not None}
