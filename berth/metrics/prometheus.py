"""The ``Recorder`` behind ``/metrics``: prometheus-client, correct across processes.

``berth serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any worker
starts (``prepare_multiprocess_dir``); each process then writes its values to its own files
there and ``/metrics``, in whichever worker answers, adds up every process's files
(prometheus-client's multiprocess mode). Without the variable (tests, an app built in
process) the values live in this recorder's own registry.

Requests are added to plain per-process totals (a dict update, well under a microsecond)
and handed to prometheus-client once a second by ``run`` and before every scrape
(``flush``): a prometheus-client update in multiprocess mode writes a memory-mapped file
under a lock (2 to 4 microseconds), too much for every request.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from berth.metrics import MULTIPROC_ENV

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "PrometheusRecorder",
    "Sample",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PULL_KINDS = frozenset({"blob", "manifest"})
PUSH_KINDS = frozenset({"upload", "manifest"})


@dataclass(frozen=True)
class Sample:
    """A gauge computed at scrape time (job queue depth, uploads in flight)."""

    name: str
    help: str
    value: float
    labels: Mapping[str, str] | None = None


class _Totals:
    __slots__ = ("buckets", "count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)


class PrometheusRecorder:
    """``pool`` and ``cache`` are read at every flush: the database pool's
    ``{"size", "in_use", "idle", "overflow"}`` and the read cache's ``(hits, misses)``."""

    def __init__(
        self,
        *,
        pool: Callable[[], Mapping[str, int]] | None = None,
        cache: Callable[[], tuple[int, int]] | None = None,
        flush_every_s: float = 1.0,
    ) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # Multiprocess values are files, collected from the directory; a registry of our own
        # otherwise (several apps in one test process must not share metrics).
        self.registry: CollectorRegistry | None = None if self.multiprocess else CollectorRegistry()
        self._pool = pool
        self._cache = cache
        self._cache_seen = (0, 0)
        self._flush_every_s = flush_every_s
        self._requests: dict[tuple[str, str, int], _Totals] = {}
        self._pushed = 0
        self._pulled = 0
        self._task: asyncio.Task[None] | None = None
        reg = self.registry
        live = {"multiprocess_mode": "livesum"}
        self.requests_total = Counter(
            "berth_http_requests",
            "HTTP requests by route kind, method and status.",
            ["kind", "method", "status"],
            registry=reg,
        )
        self.request_seconds = Histogram(
            "berth_http_request_duration_seconds",
            "Time to answer an HTTP request, by route kind and status.",
            ["kind", "status"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.bytes_pushed = Counter(
            "berth_bytes_pushed", "Blob and manifest bytes received by pushes.", registry=reg
        )
        self.bytes_pulled = Counter(
            "berth_bytes_pulled", "Blob and manifest bytes sent to pulls.", registry=reg
        )
        self.gc_passes = Counter("berth_gc_passes", "Garbage-collection passes.", registry=reg)
        self.gc_bytes_freed = Counter(
            "berth_gc_bytes_freed", "Bytes freed from storage by garbage collection.", registry=reg
        )
        self.gc_blobs_freed = Counter(
            "berth_gc_blobs_freed",
            "Blobs deleted from storage by garbage collection.",
            registry=reg,
        )
        self.cache_requests = Counter(
            "berth_cache_requests",
            "Lookups in the read cache (manifests, tag lists, blob sizes) by result.",
            ["result"],
            registry=reg,
        )
        self.pool_connections = Gauge(
            "berth_db_pool_connections",
            "Database connections of the server processes' pools, by state.",
            ["state"],
            registry=reg,
            **live,  # type: ignore[arg-type]
        )

    # ---- the hot path ------------------------------------------------------------------
    def request(
        self, kind: str, method: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        key = (kind, method, status)
        totals = self._requests.get(key)
        if totals is None:
            totals = self._requests[key] = _Totals()
        totals.count += 1
        totals.seconds += seconds
        totals.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        if status < 400:
            if sent and method == "GET" and kind in PULL_KINDS:
                self._pulled += sent
            elif received and kind in PUSH_KINDS:
                self._pushed += received

    def gc_pass(self, *, blobs_freed: int, bytes_freed: int) -> None:
        self.gc_passes.inc()
        self.gc_blobs_freed.inc(blobs_freed)
        self.gc_bytes_freed.inc(bytes_freed)

    # ---- off the hot path --------------------------------------------------------------
    def flush(self) -> None:
        """Hand this process's totals since the last flush to prometheus-client."""
        requests, self._requests = self._requests, {}
        for (kind, method, status), t in requests.items():
            self.requests_total.labels(kind, method, str(status)).inc(t.count)
            hist = self.request_seconds.labels(kind, str(status))
            # Histogram.observe takes one value; a batch goes to its buckets and sum directly
            # (prometheus-client keeps per-bucket counts, cumulated when collected).
            for i, n in enumerate(t.buckets):
                if n:
                    hist._buckets[i].inc(n)
            hist._sum.inc(t.seconds)
        if self._pushed:
            self.bytes_pushed.inc(self._pushed)
            self._pushed = 0
        if self._pulled:
            self.bytes_pulled.inc(self._pulled)
            self._pulled = 0
        if self._cache is not None:
            hits, misses = self._cache()
            seen_hits, seen_misses = self._cache_seen
            if hits > seen_hits:
                self.cache_requests.labels("hit").inc(hits - seen_hits)
            if misses > seen_misses:
                self.cache_requests.labels("miss").inc(misses - seen_misses)
            self._cache_seen = (hits, misses)
        if self._pool is not None:
            for state, n in self._pool().items():
                self.pool_connections.labels(state).set(n)

    async def run(self) -> None:
        """Flush every ``flush_every_s`` until cancelled (then once more)."""
        try:
            while True:
                await asyncio.sleep(self._flush_every_s)
                self.flush()
        finally:
            self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="berth-metrics")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def render(self, samples: Iterable[Sample] = ()) -> bytes:
        """The Prometheus text exposition of every process's values plus ``samples``."""
        self.flush()
        registry = CollectorRegistry()
        if self.multiprocess:
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            assert self.registry is not None
            registry.register(_Forward(self.registry))
        registry.register(_Samples(list(samples)))
        return generate_latest(registry)


class _Forward:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


class _Samples:
    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for s in self.samples:
            labels = dict(s.labels or {})
            family = families.get(s.name)
            if family is None:
                family = families[s.name] = GaugeMetricFamily(s.name, s.help, labels=list(labels))
            family.add_metric(list(labels.values()), s.value)
        return iter(families.values())
