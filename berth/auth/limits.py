"""Login throttling: Quay's per-user backoff and a per-address failure limit."""

from __future__ import annotations

import time
from collections import deque

from berth.auth.errors import TooManyAttempts
from berth.db.base import now_ms


def backoff_s(failures: int) -> float:
    """After ``failures`` consecutive wrong passwords: 0.5 * (2**n - 1) seconds."""
    if failures <= 0:
        return 0.0
    return 0.5 * ((1 << min(failures, 40)) - 1)


def backoff_remaining_s(
    failures: int, last_failure_ms: int | None, now: int | None = None
) -> float:
    if not failures or last_failure_ms is None:
        return 0.0
    now = now_ms() if now is None else now
    return max(0.0, last_failure_ms / 1000 + backoff_s(failures) - now / 1000)


class IpFailureLimiter:
    """At most ``max_failures`` failed logins per address within ``window_s``; further
    attempts from that address are refused until the oldest failure leaves the window.
    Kept per process (each replica counts its own). Behind a reverse proxy the address
    must be the client's (X-Forwarded-For handled at the edge), or the proxy's address
    would share one budget; the default budget is generous for that reason."""

    def __init__(
        self, *, max_failures: int = 100, window_s: float = 60.0, max_addresses: int = 10000
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, ip: str, now: float) -> deque[float]:
        q = self._failures.get(ip)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if not q:
            del self._failures[ip]
        return q

    def check(self, ip: str | None) -> None:
        if not ip:
            return
        now = time.monotonic()
        q = self._recent(ip, now)
        if len(q) >= self.max_failures:
            raise TooManyAttempts(max(1, int(q[0] + self.window_s - now + 0.999)))

    def failed(self, ip: str | None) -> None:
        if not ip:
            return
        if len(self._failures) >= self.max_addresses and ip not in self._failures:
            self._failures.clear()
        self._failures.setdefault(ip, deque()).append(time.monotonic())
