"""What a notification method is: a name, a config check and a ``deliver`` coroutine.

``check_config`` validates the config given at creation (raises ``InvalidMethodConfig``)
without I/O; checks that need the database (a confirmed e-mail address, an existing user or
team) are the service's. ``secret_keys`` are the config keys stored encrypted and never
shown in full. ``deliver`` sends one delivery and raises ``DeliveryFailed`` when the attempt
failed (the job retries it after a backoff).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from berth.notifications.errors import InvalidMethodConfig
from berth.notifications.events import Event
from berth.outbound import AddressPolicy, DestinationRefused, InvalidDestination, OutboundClient
from berth.outbound.guard import normalize_host, parse_ip


@dataclass(frozen=True)
class Delivery:
    """One event for one notification, as the job carries it."""

    delivery_id: str
    notification_uuid: str
    notification_title: str | None
    event: Event
    data: dict[str, Any]  # the event's payload, ``delivery_id`` included

    @property
    def summary(self) -> str:
        return self.event.summary(self.data)


class Method(Protocol):
    name: str
    secret_keys: tuple[str, ...]

    def check_config(self, config: Mapping[str, Any]) -> dict[str, Any]: ...

    async def deliver(
        self, delivery: Delivery, config: Mapping[str, Any], deps: DeliveryDeps
    ) -> None: ...


def check_http_url(
    value: object,
    *,
    field: str = "url",
    policy: AddressPolicy | None = None,
    blacklist: tuple[str, ...] = (),
) -> str:
    """An http(s) URL whose host is neither a cloud metadata name nor in
    WEBHOOK_HOSTNAME_BLACKLIST; a literal IP address is judged by the SSRF policy at once
    (link-local and metadata addresses always refused, private ones unless allowed). Host
    names are resolved only at delivery, where the guard checks every address again (DNS
    may have changed since)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidMethodConfig(f"Missing {field}")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidMethodConfig(f"Invalid {field}: must be an http:// or https:// URL")
    host = normalize_host(parts.hostname)
    if host in {normalize_host(h) for h in blacklist}:
        raise InvalidMethodConfig(f"Invalid {field}: host {host} is not allowed")
    policy = policy or AddressPolicy()
    try:
        policy.check_host_name(host)
        if parse_ip(host) is not None:
            policy.check(host, host)
    except (DestinationRefused, InvalidDestination) as e:
        raise InvalidMethodConfig(f"Invalid {field}: {e}") from e
    return url


def masked_url(url: str) -> str:
    """What the API shows of a stored URL: its origin, the rest hidden (tokens live there)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return origin + ("/…" if (parts.path not in ("", "/") or parts.query) else "/")


class InApp(Protocol):
    async def __call__(self, delivery: Delivery, target: Mapping[str, Any]) -> None: ...


class Mail(Protocol):
    async def send(self, to: str, template: str, context: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class DeliveryDeps:
    """What methods need at delivery: the outbound client (webhook, Slack), the mailer
    (e-mail), the writer of in-app notifications (Quay notification) and the registry's
    title."""

    client: OutboundClient
    mail: Mail
    inapp: InApp
    title: str
