"""``OutboundClient``: the one way Berth calls out (webhooks, upstream registries, updaters).

Every request goes through the SSRF guard:

* direct connections: ``GuardedNetworkBackend`` resolves the host, checks every address and
  connects to the checked address (see ``backend.py``);
* through a proxy: the destination's addresses are resolved and checked here before the
  request is handed to the proxy (so a refused destination costs the proxy no connection),
  but the proxy then resolves and connects on its own: protection against DNS rebinding
  between our check and its connect depends on the proxy. A destination that does not
  resolve locally is not sent to the proxy. The proxy itself is trusted configuration and is
  not checked.

Redirects are not followed unless a call asks (``follow_redirects=True``); then each hop is
a new request through the same transport, so each hop's destination is checked, and httpx
drops ``Authorization`` when a redirect leaves the origin.

Retries (``RetryPolicy``): idempotent methods are retried after connection failures and
429/502/503/504 responses; other methods only with ``retry=True``; ``retry=False`` turns
retries off. A request body that is a stream is never retried. Timeouts, TLS verification
failures and refusals are not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import random
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from berth.outbound.backend import GuardedNetworkBackend, Resolver
from berth.outbound.errors import (
    InvalidDestination,
    OutboundConnectionError,
    OutboundError,
    OutboundTimeout,
    TLSVerificationError,
    TooManyRedirects,
)
from berth.outbound.guard import AddressPolicy
from berth.outbound.proxy import NoProxy
from berth.outbound.settings import IDEMPOTENT_METHODS, OutboundSettings, ProxySettings, Timeouts
from berth.outbound.tls import build_ssl_context


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool opened through the guarded backend.

    httpx 0.28 has no ``network_backend`` argument, so the pool it builds is replaced by an
    identical one that has it (the pool is the transport's only state; httpx is pinned).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class _RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request direct (guarded at connect) or, after a guard check, via a proxy."""

    def __init__(
        self,
        direct: httpx.AsyncBaseTransport,
        proxies: Mapping[str, httpx.AsyncBaseTransport],
        no_proxy: NoProxy,
        backend: GuardedNetworkBackend,
    ) -> None:
        self._direct = direct
        self._proxies = dict(proxies)
        self._no_proxy = no_proxy
        self._backend = backend

    def proxy_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport | None:
        proxy = self._proxies.get(url.scheme)
        if proxy is None or self._no_proxy.bypasses(url.host, url.port or _default_port(url)):
            return None
        return proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidDestination(f"cannot request {url}: only http and https URLs")
        proxy = self.proxy_for(url)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        timeout = request.extensions.get("timeout", {}).get("connect")
        with _httpcore_errors():
            await self._backend.resolve_checked(
                url.host, url.port or _default_port(url), connect_timeout=timeout
            )
        return await proxy.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for proxy in self._proxies.values():
            await proxy.aclose()


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


@contextlib.contextmanager
def _httpcore_errors() -> Iterator[None]:
    """httpcore's connect errors as httpx's, as httpx's own transport maps them."""
    try:
        yield
    except httpcore.ConnectTimeout as exc:
        raise httpx.ConnectTimeout(str(exc)) from exc
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc)) from exc


def _tls_verification_failed(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _translate(exc: httpx.HTTPError, method: str, url: httpx.URL) -> OutboundError:
    # Scheme, host and port only: paths and queries can hold secrets (Slack webhook tokens).
    what = f"{method} {url.scheme}://{url.netloc.decode('ascii')}"
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool",
        }.get(type(exc), "read")
        return OutboundTimeout(f"{what}: {phase} timeout", phase=phase)
    if isinstance(exc, httpx.TooManyRedirects):
        return TooManyRedirects(f"{what}: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return InvalidDestination(f"{what}: {exc}")
    verify_error = _tls_verification_failed(exc)
    if verify_error is not None:
        return TLSVerificationError(
            f"{what}: TLS certificate verification failed: {verify_error.verify_message}"
            " (add the CA to the extra CA certificates, or turn TLS verification off "
            "for this upstream)"
        )
    return OutboundConnectionError(f"{what}: {exc or type(exc).__name__}")


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class OutboundClient:
    """An httpx client whose every connection passes the SSRF guard.

    One instance per purpose and trust setting (``verify_tls=False`` for one lab upstream
    leaves every other client verifying). ``resolver`` replaces the system resolver and
    ``network_backend`` the socket layer under the guard (tests). Close with ``aclose()`` or
    use ``async with``.
    """

    def __init__(
        self,
        settings: OutboundSettings,
        *,
        verify_tls: bool = True,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.settings = settings
        self.verify_tls = verify_tls
        self.policy = AddressPolicy(settings.allowed)
        self._backend = GuardedNetworkBackend(self.policy, resolver=resolver, inner=network_backend)
        context = build_ssl_context(settings.extra_ca_paths, verify=verify_tls)
        # The proxy's own TLS (an https:// proxy URL) is always verified.
        proxy_context = context if verify_tls else build_ssl_context(settings.extra_ca_paths)
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_keepalive_connections,
        )
        proxies: dict[str, httpx.AsyncBaseTransport] = {}
        for scheme, proxy_url in (
            ("http", settings.proxies.http),
            ("https", settings.proxies.https),
        ):
            if proxy_url:
                proxies[scheme] = httpx.AsyncHTTPTransport(
                    verify=context,
                    trust_env=False,
                    limits=limits,
                    proxy=httpx.Proxy(
                        proxy_url,
                        ssl_context=proxy_context if proxy_url.startswith("https:") else None,
                    ),
                )
        self._transport = _RoutingTransport(
            _GuardedTransport(context, limits, self._backend),
            proxies,
            NoProxy(settings.proxies.no_proxy),
            self._backend,
        )
        self._http = httpx.AsyncClient(
            transport=self._transport,
            timeout=settings.timeouts.as_httpx(),
            follow_redirects=False,
            max_redirects=settings.max_redirects,
            trust_env=False,
            headers={"User-Agent": settings.user_agent},
        )

    async def __aenter__(self) -> OutboundClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | str | AsyncIterable[bytes] | None = None,
        json: Any = None,
        timeout: Timeouts | None = None,  # noqa: ASYNC109 (per-phase httpx timeouts)
        follow_redirects: bool = False,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send a request and read the whole response body.

        Returns the response whatever its status (after retries, the last one). Raises
        ``DestinationRefused``, ``OutboundTimeout``, ``OutboundConnectionError`` (and its
        ``TLSVerificationError``), ``TooManyRedirects`` or ``InvalidDestination``.
        """
        async with self.stream(
            method,
            url,
            headers=headers,
            params=params,
            content=content,
            json=json,
            timeout=timeout,
            follow_redirects=follow_redirects,
            retry=retry,
        ) as response:
            await response.aread()
        return response

    async def check_destination(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, once the SSRF guard passed all of them (for
        checking a destination when it is configured, before any request). Raises
        ``DestinationRefused``, or ``OutboundConnectionError`` when it does not resolve."""
        try:
            return await self._backend.resolve_checked(
                host, port, connect_timeout=self.settings.timeouts.connect
            )
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            raise OutboundConnectionError(str(exc)) from exc

    async def get(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | str | AsyncIterable[bytes] | None = None,
        json: Any = None,
        timeout: Timeouts | None = None,  # noqa: ASYNC109 (per-phase httpx timeouts)
        follow_redirects: bool = False,
        retry: bool | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send a request; the response body is read by the caller (``aiter_bytes``) inside
        the ``async with``. Retries happen before the response is handed over; errors while
        reading the body are translated but not retried. ``timeout`` replaces the settings'
        ``Timeouts`` as a whole for this call."""
        method = method.upper()
        try:
            request = self._http.build_request(
                method,
                url,
                headers=headers,
                params=params,
                content=content,
                json=json,
                timeout=(timeout or self.settings.timeouts).as_httpx(),
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InvalidDestination(f"cannot request {url!r}: {exc}") from exc
        replayable = content is None or isinstance(content, bytes | str)
        may_retry = replayable and (method in IDEMPOTENT_METHODS if retry is None else retry)
        response = await self._send(request, follow_redirects, may_retry)
        try:
            try:
                yield response
            except httpx.HTTPError as exc:
                raise _translate(exc, method, request.url) from exc
        finally:
            await response.aclose()

    async def _send(
        self, request: httpx.Request, follow_redirects: bool, may_retry: bool
    ) -> httpx.Response:
        policy = self.settings.retry
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = await self._http.send(
                    request, stream=True, follow_redirects=follow_redirects
                )
            except httpx.HTTPError as exc:
                error = _translate(exc, request.method, request.url)
                retryable = may_retry and (
                    isinstance(exc, httpx.ConnectTimeout)
                    or (
                        isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
                        and not isinstance(error, TLSVerificationError)
                    )
                )
                delay = self._delay(attempt, None, started) if retryable else None
                if delay is None:
                    raise error from exc
            else:
                if not (may_retry and response.status_code in policy.statuses):
                    return response
                delay = self._delay(attempt, response.headers.get("Retry-After"), started)
                if delay is None:
                    return response
                await response.aclose()
            attempt += 1
            await asyncio.sleep(delay)

    def _delay(self, attempt: int, retry_after: str | None, started: float) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying."""
        policy = self.settings.retry
        if attempt >= policy.max_retries:
            return None
        asked = _retry_after(retry_after)
        if asked is not None:
            if asked > policy.retry_after_max:
                return None
            delay = asked
        else:
            ceiling = min(policy.backoff_max, policy.backoff * 2**attempt)
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 (jitter, not crypto)
        if time.monotonic() + delay - started > policy.total:
            return None
        return delay


class OutboundClients:
    """A process's outbound clients, made on first use: one per TLS-verification choice.

    The composition root holds one; features ask it for a client (``client()``, or
    ``client(verify_tls=False)`` for an upstream configured as insecure) instead of making
    their own, so every call out shares the settings, the guard and the connection pools.
    """

    def __init__(self, settings: OutboundSettings) -> None:
        self.settings = settings
        self._clients: dict[tuple[bool, ProxySettings | None], OutboundClient] = {}

    def client(
        self, *, verify_tls: bool = True, proxies: ProxySettings | None = None
    ) -> OutboundClient:
        """``proxies``: HTTP(S) proxies of one configuration (a mirror's ``proxy``) in
        place of the process's; the guard, CAs and timeouts stay the same."""
        key = (verify_tls, proxies)
        if key not in self._clients:
            settings = self.settings
            if proxies is not None:
                settings = dataclasses.replace(settings, proxies=proxies)
            self._clients[key] = OutboundClient(settings, verify_tls=verify_tls)
        return self._clients[key]

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
