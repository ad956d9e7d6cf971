"""Template filters and helpers (registered on the environment in ``WebApp``)."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request


def human_bytes(n: int | None) -> str:
    """``1.5 MiB``: sizes as Quay's UI shows them (binary units)."""
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def seconds_date(s: int | float | None) -> str:
    if not s:
        return "—"
    return datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%d %H:%M UTC")


def ms_date(ms: int | None) -> str:
    return seconds_date(ms / 1000) if ms else "—"


def query_with(request: Request, **changes: Any) -> str:
    """The request's query string with ``changes`` applied (None removes a key): links for
    paging and sorting that keep the other parameters."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return urllib.parse.urlencode(params)
