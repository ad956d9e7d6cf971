"""The usage-logs check: a page of logs at a small and a large ``log_entries`` table, and a
month's aggregate, timed in-process through the service the logs API calls.

Rows are made by the database itself (a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL) so that ten million of them take minutes, not hours: ``NAMESPACES`` namespaces,
one repository each, ``PERFORMERS`` performers, timestamps spread evenly over the last
30 days. Each page is measured twice per question (first page, and a page reached by
walking ``DEEP`` pages of ``next_page`` tokens), and the figure is the best of repeated
calls (the machine is shared). ``ratio`` is the large table's time over the small one's:
keyset paging keeps it near 1. The aggregate counts one namespace's entries per kind and day
over 30 days: the first call counts every closed day (and keeps the counts), the figure is a
later call's.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from berth.config import load_settings
from berth.schema import migrate
from berth.services import create_services
from berth.usagelogs.services import DateRange, LogScope
from berth.usagelogs.store import LogFilter

NAMESPACES = 10
PERFORMERS = 50
SPAN_MS = 30 * 86_400_000
DEEP = 25
KINDS = ("pull_repo", "push_repo", "create_tag", "delete_tag", "move_tag")
FULL_ROWS = (10_000, 10_000_000)
QUICK_ROWS = (10_000, 1_000_000)
CHUNK = 1_000_000


def _log(msg: str) -> None:
    print(f"[logs] {msg}", flush=True)


async def _seed_names(svc: Any) -> None:
    async with svc.db.write() as s:
        for i in range(NAMESPACES):
            await s.execute(
                text(
                    "INSERT INTO namespaces (name, kind, enabled, tag_expiration_s, created_at, "
                    "size_bytes) VALUES (:n, 'org', true, 1209600, 0, 0)"
                ),
                {"n": f"ns{i}"},
            )
        for i in range(PERFORMERS):
            await s.execute(
                text(
                    "INSERT INTO users (id, username, email, enabled, kind, superuser, "
                    "created_at, invalid_login_attempts) VALUES (:id, :n, :e, true, 'user', "
                    "false, 0, 0)"
                ),
                {"id": 1_000_000 + i, "n": f"user{i}", "e": f"user{i}@bench.example"},
            )
        await s.execute(
            text(
                "INSERT INTO repositories (namespace_id, name, full_name, is_public, state, kind,"
                " created_at, size_bytes) SELECT id, 'app', name || '/app', false, 'NORMAL',"
                " 'image', 0, 0 FROM namespaces WHERE name LIKE 'ns%'"
            )
        )


async def _ids(svc: Any) -> tuple[list[int], list[int]]:
    async with svc.db.read() as s:
        ns = list(
            (
                await s.execute(text("SELECT id FROM namespaces WHERE name LIKE 'ns%' ORDER BY id"))
            ).scalars()
        )
        repos = list(
            (
                await s.execute(
                    text(
                        "SELECT r.id FROM repositories r JOIN namespaces n ON n.id = "
                        "r.namespace_id WHERE n.name LIKE 'ns%' ORDER BY n.id"
                    )
                )
            ).scalars()
        )
    return ns, repos


async def _fill(svc: Any, start: int, stop: int, now_ms: int, total: int) -> None:
    """Rows ``start`` .. ``stop - 1`` of a table that will hold ``total`` rows."""
    ns, repos = await _ids(svc)
    step = max(1, SPAN_MS // total)
    kinds = "CASE x % 5 " + " ".join(f"WHEN {i} THEN '{k}'" for i, k in enumerate(KINDS)) + " END"
    ns_case = "CASE x % 10 " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(ns)) + " END"
    repo_case = (
        "CASE x % 10 " + " ".join(f"WHEN {i} THEN {v}" for i, v in enumerate(repos)) + " END"
    )
    ns_name = "'ns' || (x % 10)"
    columns = (
        "kind, namespace_id, namespace, repository_id, repository, performer_id, performer,"
        " ip, metadata, created_at"
    )
    meta = '\'{"tag": "latest"}\'' + ("" if svc.db.is_sqlite else "::json")
    values = (
        f"{kinds}, {ns_case}, {ns_name}, {repo_case}, 'app', 1000000 + x % {PERFORMERS},"
        f" 'user' || (x % {PERFORMERS}), '10.0.0.1', {meta}, {now_ms - SPAN_MS} + x * {step}"
    )
    for lo in range(start, stop, CHUNK):
        hi = min(stop, lo + CHUNK)
        if svc.db.is_sqlite:
            # Integers and constants of this module only, nothing from outside.
            head = f"WITH RECURSIVE c(x) AS (SELECT {lo} UNION ALL SELECT x + 1 FROM c "  # noqa: S608
            sql = head + f"WHERE x < {hi - 1}) INSERT INTO log_entries ({columns}) SELECT "
            sql += values + " FROM c"
        else:
            sql = f"INSERT INTO log_entries ({columns}) SELECT "
            sql += values + f" FROM generate_series({lo}::bigint, {hi - 1}::bigint) AS x"
        async with svc.db.write() as s:
            await s.execute(text(sql))
        _log(f"  {hi:,} rows")
    if not svc.db.is_sqlite:
        async with svc.db.write() as s:
            await s.execute(text("ANALYZE log_entries"))


async def _time(call: Any, min_samples: int, min_time: float) -> float:
    """Best-of milliseconds of ``call()``: the machine is shared, and the fastest run is
    the one least disturbed by others (a warm-up call first)."""
    await call()
    samples: list[float] = []
    t_end = time.perf_counter() + min_time
    while len(samples) < min_samples or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - t0) * 1000)
        if len(samples) >= 200:
            break
    return min(samples)


async def _pages(svc: Any, now: datetime, min_samples: int, min_time: float) -> dict[str, float]:
    usage = svc.usage_logs
    span = DateRange(now - timedelta(days=31), now + timedelta(days=1))
    scopes = {
        "namespace": (LogScope.of_namespace("ns3"), None),
        "repository": (LogScope.of_repository("ns3", "app"), None),
        "namespace+performer": (LogScope.of_namespace("ns3"), "user13"),
        "everything (superuser)": (LogScope.everything(), None),
    }
    out: dict[str, float] = {}
    for label, (scope, performer) in scopes.items():
        # The first page, and a deep page reached through DEEP next_page tokens.
        token = None
        for _ in range(DEEP):
            token = (await usage.page(scope, span, performer=performer, next_page=token)).next_page

        def first(scope: Any = scope, performer: Any = performer) -> Any:
            return usage.page(scope, span, performer=performer)

        def deep(scope: Any = scope, performer: Any = performer, token: Any = token) -> Any:
            return usage.page(scope, span, performer=performer, next_page=token)

        out[f"{label}, first page"] = await _time(first, min_samples, min_time)
        out[f"{label}, page {DEEP + 1}"] = await _time(deep, min_samples, min_time)
    return out


async def _run(config_path: Path, sizes: tuple[int, int], quick: bool) -> dict[str, Any]:
    settings = load_settings(config_path, env={})
    await migrate.upgrade(settings.db_url)
    svc = create_services(settings)
    min_samples, min_time = (5, 0.3) if quick else (9, 1.0)
    try:
        await _seed_names(svc)
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        small, large = sizes
        t0 = time.monotonic()
        await _fill(svc, 0, small, now_ms, small)
        fill_small = time.monotonic() - t0
        _log(f"{small:,} rows: timing pages")
        at_small = await _pages(svc, now, min_samples, min_time)
        # Rebuild at the large size (same spread over 30 days).
        async with svc.db.write() as s:
            await s.execute(text("DELETE FROM log_entries"))
            await s.execute(text("DELETE FROM log_day_counts"))
        t0 = time.monotonic()
        _log(f"filling {large:,} rows")
        await _fill(svc, 0, large, now_ms, large)
        fill_large = time.monotonic() - t0
        _log(f"{large:,} rows: timing pages")
        at_large = await _pages(svc, now, min_samples, min_time)
        pages = [
            {
                "query": q,
                "small_ms": round(at_small[q], 3),
                "large_ms": round(at_large[q], 3),
                "ratio": round(at_large[q] / at_small[q], 3),
            }
            for q in at_small
        ]
        # A month's aggregate of one namespace (a tenth of the large table).
        ns, _ = await _ids(svc)
        where = LogFilter(now_ms - SPAN_MS - 86_400_000, now_ms + 1, namespace_id=ns[3])
        counted = await svc.usage_logs.store.count(where)
        _log(f"aggregating a month of {counted:,} entries")
        store = svc.usage_logs.store
        t0 = time.perf_counter()
        await store.aggregate(where)  # counts the closed days, and keeps their counts
        cold_ms = (time.perf_counter() - t0) * 1000
        agg_ms = await _time(lambda: store.aggregate(where), 3, 0.0 if quick else 1.0)
        return {
            "rows": [small, large],
            "fill_s": [round(fill_small, 1), round(fill_large, 1)],
            "pages": pages,
            "page_ratio_max": max(p["ratio"] for p in pages),
            "aggregate": {
                "rows": counted,
                "days": 30,
                "ms": round(agg_ms, 1),
                "first_ms": round(cold_ms, 1),
            },
        }
    finally:
        await svc.close()


def run_logs(config_path: Path, sizes: tuple[int, int], *, quick: bool) -> dict[str, Any]:
    """Run the check against a fresh Berth database described by ``config_path``."""
    return asyncio.run(_run(config_path, sizes, quick))
