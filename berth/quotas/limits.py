"""Quay's human-readable sizes: ``10 GiB``, ``500MB``, ``2G`` in, ``9.3 GiB`` out.

Parsing follows bitmath's ``parse_string_unsafe`` as Quay calls it: a number, optional
spaces, then a unit from B/K/M/G/T/P/E/Z/Y; an ``i`` (``Ki``, ``KiB``) means powers of
1024, no ``i`` (``K``, ``KB``) powers of 1000; a bare number is bytes. Rendering is
bitmath's ``best_prefix()`` in binary units with one decimal, as Quay shows ``limit``.
"""

from __future__ import annotations

import re

from berth.quotas.errors import InvalidQuota

_PREFIXES = "KMGTPEZY"
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGTPEZYkmgtpezy])(i?)[Bb]?|[Bb])?\s*$")
_BINARY_UNITS = ["Byte", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def parse_limit(text: str) -> int:
    """Bytes of a limit string; ``InvalidQuota`` when it does not parse or is not positive."""
    match = _PATTERN.match(text)
    if match is None:
        raise InvalidQuota(f"Invalid quota size limit value: '{text}'")
    number, prefix, binary = match.groups()
    power = _PREFIXES.index(prefix.upper()) + 1 if prefix else 0
    base = 1024 if binary else 1000
    value = int(float(number) * base**power)
    if value <= 0:
        raise InvalidQuota(f"Invalid quota size limit value: '{text}'")
    return value


def format_bytes(n: int) -> str:
    """``976.6 KiB`` for 1000000 (bitmath's best binary prefix, one decimal)."""
    value = float(n)
    unit = 0
    while abs(value) >= 1024 and unit < len(_BINARY_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.1f} {_BINARY_UNITS[unit]}"
