"""Formats every /api/v1 serializer shares: Quay's dates and avatars."""

from __future__ import annotations

from email.utils import formatdate

from berth.identity.avatars import avatar

__all__ = ["avatar", "format_date"]


def format_date(ms: int | None) -> str | None:
    """RFC 2822 as Quay writes it: ``Thu, 30 Sep 2021 06:10:24 -0000``."""
    if ms is None:
        return None
    return formatdate(ms / 1000)
