"""The usage-logs check: a page of logs at a small and a large ``log_entries`` table, and a
month's aggregate, timed in-process through the service the logs API calls.

Rows are made by the database itself (a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL) so that ten million of them take minutes, not hours: ``NAMESPACES`` namespaces,
one repository each, ``PERFORMERS`` performers, timestamps spread evenly over the last
30 days, in two databases: one small, one large. Each page question (first page, and a
page reached by walking ``DEEP`` pages of ``next_page`` tokens) is asked of both
alternately, round after round, so the shared machine's noise falls on both; ``ratio`` is
the median of the per-round ratios large/small (keyset paging keeps it near 1), the times
are the medians. The aggregate counts one namespace's entries per kind and day
over 30 days: the first call counts every closed day (and keeps the counts), the figure is a
later call's; then the hourly sweep counts each closed day once for every filter without a
performer (``sweep_s``), and the first call for another namespace reads those counts
(``first_after_sweep_ms``).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import replace
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
    """Best-of milliseconds of ``call()`` (a warm-up call first)."""
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


async def _paired(calls: tuple[Any, Any], rounds: int) -> tuple[float, float, float]:
    """The two calls alternately, ``rounds`` times each: (median ms of the first, of the
    second, median of the per-round ratios second/first). Both see the same machine: the
    shared machine's noise falls on both sides of each ratio."""
    for call in calls:
        await call()
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        for call, out in ((calls[0], a), (calls[1], b)):
            t0 = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t0) * 1000)
    ratios = [y / x for x, y in zip(a, b, strict=True)]
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def _questions(svc: Any, now: datetime) -> dict[str, Any]:
    """label -> (scope, performer, token walker) for the page questions."""
    return {
        "namespace": (LogScope.of_namespace("ns3"), None),
        "repository": (LogScope.of_repository("ns3", "app"), None),
        "namespace+performer": (LogScope.of_namespace("ns3"), "user13"),
        "everything (superuser)": (LogScope.everything(), None),
    }


async def _page_calls(svc: Any, now: datetime) -> dict[str, Any]:
    """label -> a call that reads one page (first pages, and pages DEEP tokens in)."""
    usage = svc.usage_logs
    span = DateRange(now - timedelta(days=31), now + timedelta(days=1))
    calls: dict[str, Any] = {}
    for label, (scope, performer) in _questions(svc, now).items():
        token = None
        for _ in range(DEEP):
            token = (await usage.page(scope, span, performer=performer, next_page=token)).next_page

        def first(scope: Any = scope, performer: Any = performer) -> Any:
            return usage.page(scope, span, performer=performer)

        def deep(scope: Any = scope, performer: Any = performer, token: Any = token) -> Any:
            return usage.page(scope, span, performer=performer, next_page=token)

        calls[f"{label}, first page"] = first
        calls[f"{label}, page {DEEP + 1}"] = deep
    return calls


async def _open(config_path: Path) -> Any:
    settings = load_settings(config_path, env={})
    await migrate.upgrade(settings.db_url)
    svc = create_services(settings)
    await _seed_names(svc)
    return svc


async def _run(configs: tuple[Path, Path], sizes: tuple[int, int], quick: bool) -> dict[str, Any]:
    small_svc = await _open(configs[0])
    large_svc = await _open(configs[1])
    rounds = 15 if quick else 41
    try:
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        small, large = sizes
        fills = []
        for svc, n in ((small_svc, small), (large_svc, large)):
            _log(f"filling {n:,} rows")
            t0 = time.monotonic()
            await _fill(svc, 0, n, now_ms, n)
            fills.append(round(time.monotonic() - t0, 1))
        _log(f"timing pages, {small:,} and {large:,} rows alternately ({rounds} rounds)")
        small_calls = await _page_calls(small_svc, now)
        large_calls = await _page_calls(large_svc, now)
        pages = []
        for q in small_calls:
            a, b, ratio = await _paired((small_calls[q], large_calls[q]), rounds)
            pages.append(
                {
                    "query": q,
                    "small_ms": round(a, 3),
                    "large_ms": round(b, 3),
                    "ratio": round(ratio, 3),
                }
            )
        # A month's aggregate of one namespace (a tenth of the large table).
        ns, _ = await _ids(large_svc)
        where = LogFilter(now_ms - SPAN_MS - 86_400_000, now_ms + 1, namespace_id=ns[3])
        store = large_svc.usage_logs.store
        counted = await store.count(where)
        _log(f"aggregating a month of {counted:,} entries")
        t0 = time.perf_counter()
        await store.aggregate(where)  # counts the closed days, and keeps their counts
        cold_ms = (time.perf_counter() - t0) * 1000
        agg_ms = await _time(lambda: store.aggregate(where), 5, 0.0 if quick else 1.0)
        # What a running registry does every hour: count each closed day once for every
        # filter without a performer. Then the first aggregate of another namespace (never
        # asked before) reads the kept counts, not its month of entries.
        _log("counting the closed days (the hourly sweep)")
        t0 = time.perf_counter()
        swept_days = await large_svc.usage_logs.sweep_days()
        sweep_s = time.perf_counter() - t0
        other = replace(where, namespace_id=ns[4])
        t0 = time.perf_counter()
        await store.aggregate(other)
        swept_first_ms = (time.perf_counter() - t0) * 1000
        return {
            "rows": [small, large],
            "fill_s": fills,
            "pages": pages,
            "page_ratio_max": max(p["ratio"] for p in pages),
            "aggregate": {
                "rows": counted,
                "days": 30,
                "ms": round(agg_ms, 1),
                "first_ms": round(cold_ms, 1),
                "sweep_s": round(sweep_s, 1),
                "swept_days": swept_days,
                "first_after_sweep_ms": round(swept_first_ms, 1),
            },
        }
    finally:
        await small_svc.close()
        await large_svc.close()


def run_logs(configs: tuple[Path, Path], sizes: tuple[int, int], *, quick: bool) -> dict[str, Any]:
    """Run the check against two fresh Berth databases (small, large) described by the
    config files ``configs``."""
    return asyncio.run(_run(configs, sizes, quick))
