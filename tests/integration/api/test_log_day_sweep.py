"""The hourly count of closed days (``count_action_log_days``): after it, a month's
aggregate of any namespace, repository, the user's own view (some kinds hidden) and the
superuser's reads kept counts — and answers exactly what counting the entries answers;
a performer filter still counts; a day swept once is not swept again."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from berth.usagelogs.services import LogScope, date_range
from tests.integration.api.test_usage_logs import DAY_MS, add_entries
from tests.integration.conftest import Berth


def _day(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).strftime("%m/%d/%Y")


async def _aggregates(b: Berth) -> dict[str, Any]:
    svc = b.services.usage_logs
    span = date_range(_day(-20), _day(0))
    return {
        "alice": await svc.aggregate(LogScope.of_namespace("alice"), span),
        "alice-own": await svc.aggregate(LogScope.of_namespace("alice", own=True), span),
        "bob": await svc.aggregate(LogScope.of_namespace("bob"), span),
        "repo": await svc.aggregate(LogScope.of_repository("alice", "app"), span),
        "all": await svc.aggregate(LogScope.everything(), span),
        "by-alice": await svc.aggregate(LogScope.everything(), span, performer="alice"),
    }


async def _forget(b: Berth) -> None:
    async with b.services.db.write() as s:
        await s.execute(text("DELETE FROM log_day_counts"))


async def test_swept_days_answer_what_the_entries_answer(registry: Berth) -> None:
    await registry.services.runner.stop()
    await registry.client("alice").push_image("alice/app", "v1")
    now = int(time.time() * 1000)
    for days_ago, kind, n in ((3, "create_tag", 4), (3, "move_tag", 2), (9, "delete_tag", 5)):
        await add_entries(registry, "alice", n, kind=kind, at_ms=now - days_ago * DAY_MS)
    await add_entries(
        registry, "bob", 3, kind="create_tag", performer="bob", at_ms=now - 5 * DAY_MS
    )
    counted = await _aggregates(registry)  # from the entries (and kept per filter)
    await _forget(registry)
    assert await registry.services.usage_logs.sweep_days() == 32
    async with registry.services.db.read() as s:
        kept = (await s.execute(text("SELECT count(*) FROM log_day_counts"))).scalar_one()
    # No entry is read for a swept day: remove them, the answers stay.
    async with registry.services.db.write() as s:
        await s.execute(
            text("DELETE FROM log_entries WHERE created_at < :t"), {"t": now - 2 * DAY_MS}
        )
    swept = await _aggregates(registry)
    for name in ("alice", "alice-own", "bob", "repo", "all"):
        assert _past(swept[name], now) == _past(counted[name], now), name
    assert ("delete_tag", _weekday(-9) + " 00:00:00 -0000", 5) in _past(swept["alice"], now)
    # A performer filter is not swept: it counts what the entries hold now (nothing past).
    assert _past(swept["by-alice"], now) == []
    # Swept once: not again.
    assert await registry.services.usage_logs.sweep_days() == 0
    assert kept > 32


def _weekday(offset: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset)).strftime("%a, %d %b %Y")


def _past(aggregated: list[dict[str, Any]], now: int) -> list[tuple[str, str, int]]:
    """The entries of days before yesterday (closed and swept), as comparable tuples."""
    today = _weekday(0)
    yesterday = _weekday(-1)
    return sorted(
        (a["kind"], a["datetime"], a["count"])
        for a in aggregated
        if not a["datetime"].startswith((today, yesterday))
    )
