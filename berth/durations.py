"""Quay's duration strings (``30s``, ``2d``, ``3w``): a pure leaf every layer may use."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^(\d+)\s*([smhdw])$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int) -> int:
    """Quay duration strings (``30s``, ``2d``, ``3w``) to seconds; ints pass through."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _DURATION_RE.match(str(value).strip())
    if not m:
        raise ValueError(f"invalid duration {value!r} (expected e.g. 30s, 1h, 2d, 3w)")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)]
