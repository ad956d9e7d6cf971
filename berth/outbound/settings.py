"""Settings of the outbound client, built from plain values by the composition root.

``build_outbound_settings`` is the one entry: it takes Quay's ``SSRF_ALLOWED_HOSTS`` list, a
proxy environment mapping (``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY``), the extra CA paths and
timeouts, validates them all and returns a frozen ``OutboundSettings``. Nothing here reads the
process environment or the file system; ``proxy_settings_from_env(os.environ)`` is how a
caller chooses to take proxies from the environment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from berth.outbound.errors import OutboundConfigError
from berth.outbound.guard import AllowList
from berth.outbound.proxy import split_no_proxy

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


@dataclass(frozen=True)
class Timeouts:
    """Seconds per phase; ``pool`` is the wait for a free connection."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 10.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of idempotent requests (others opt in per call).

    A request is retried after a connection failure or a ``statuses`` response, at most
    ``max_retries`` times, waiting ``backoff`` * 2**n seconds (with jitter, at most
    ``backoff_max``) or what ``Retry-After`` asks. A ``Retry-After`` above
    ``retry_after_max`` is not waited for: the response goes back to the caller. No retry
    starts when its wait would end more than ``total`` seconds after the first attempt.
    """

    max_retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 10.0
    retry_after_max: float = 60.0
    total: float = 120.0
    statuses: frozenset[int] = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class ProxySettings:
    """Proxy URLs per destination scheme and the ``NO_PROXY`` entries."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundSettings:
    allowed: AllowList = field(default_factory=AllowList)
    proxies: ProxySettings = field(default_factory=ProxySettings)
    extra_ca_paths: tuple[Path, ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_redirects: int = 5
    max_connections: int = 100
    max_keepalive_connections: int = 20
    user_agent: str = "Berth"


def proxy_settings_from_env(env: Mapping[str, str]) -> ProxySettings:
    """Proxies from an environment mapping; the lower-case name wins over the upper-case one
    (curl's rule). Empty values count as unset."""

    def get(name: str) -> str | None:
        return env.get(name.lower()) or env.get(name.upper()) or None

    return ProxySettings(
        http=get("http_proxy"),
        https=get("https_proxy"),
        no_proxy=split_no_proxy(get("no_proxy")),
    )


def _proxy_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    url = value.strip()
    if "://" not in url:
        url = "http://" + url
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise OutboundConfigError(f"{name} {value!r} is not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundConfigError(
            f"{name} {value!r} must be an http:// or https:// proxy URL with a host"
        )
    return url


def build_outbound_settings(
    *,
    allowed_hosts: Iterable[str] = (),
    proxy_env: Mapping[str, str] | None = None,
    extra_ca_paths: Iterable[str | Path] = (),
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    user_agent: str = "Berth",
) -> OutboundSettings:
    """Validated ``OutboundSettings``; raises ``OutboundConfigError`` naming a bad value.

    ``allowed_hosts`` is ``SSRF_ALLOWED_HOSTS``; ``proxy_env`` a mapping with any of
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY`` (either case), e.g. ``os.environ``, or None
    for no proxy; ``extra_ca_paths`` files or directories of PEM CA certificates (checked when
    a client is made, see ``tls.build_ssl_context``).
    """
    proxies = proxy_settings_from_env(proxy_env or {})
    proxies = ProxySettings(
        http=_proxy_url("HTTP_PROXY", proxies.http),
        https=_proxy_url("HTTPS_PROXY", proxies.https),
        no_proxy=proxies.no_proxy,
    )
    return OutboundSettings(
        allowed=AllowList.parse(allowed_hosts),
        proxies=proxies,
        extra_ca_paths=tuple(Path(p) for p in extra_ca_paths),
        timeouts=timeouts or Timeouts(),
        retry=retry or RetryPolicy(),
        user_agent=user_agent,
    )
