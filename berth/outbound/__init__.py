"""Outbound HTTP: the one client every feature uses to call out, behind an SSRF guard.

A core package: it imports the standard library and httpx/httpcore only, nothing else of
Berth's. The composition root builds ``OutboundSettings`` with ``build_outbound_settings``
and holds one ``OutboundClients``; features that call out get their ``OutboundClient`` from it.
"""

from berth.outbound.client import OutboundClient, OutboundClients
from berth.outbound.errors import (
    DestinationRefused,
    InvalidDestination,
    OutboundConfigError,
    OutboundConnectionError,
    OutboundError,
    OutboundTimeout,
    TLSVerificationError,
    TooManyRedirects,
)
from berth.outbound.guard import AddressPolicy, AllowList
from berth.outbound.settings import (
    OutboundSettings,
    ProxySettings,
    RetryPolicy,
    Timeouts,
    build_outbound_settings,
    proxy_settings_from_env,
)

__all__ = [
    "AddressPolicy",
    "AllowList",
    "DestinationRefused",
    "InvalidDestination",
    "OutboundClient",
    "OutboundClients",
    "OutboundConfigError",
    "OutboundConnectionError",
    "OutboundError",
    "OutboundSettings",
    "OutboundTimeout",
    "ProxySettings",
    "RetryPolicy",
    "TLSVerificationError",
    "Timeouts",
    "TooManyRedirects",
    "build_outbound_settings",
    "proxy_settings_from_env",
]
