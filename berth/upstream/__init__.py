"""The upstream registry client used by the proxy cache (and mirroring): see ``client.py``.

A core package: it imports ``berth.outbound`` (every request passes its SSRF guard),
``berth.oci`` and httpx, nothing else of Berth's.
"""

from berth.upstream.client import (
    ACCEPT_MANIFESTS,
    Credentials,
    ManifestHead,
    UpstreamBlob,
    UpstreamClient,
    UpstreamManifest,
)
from berth.upstream.errors import (
    UpstreamAuthFailed,
    UpstreamContentInvalid,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRefused,
    UpstreamUnavailable,
)
from berth.upstream.registry import InvalidUpstream, UpstreamRegistry

__all__ = [
    "ACCEPT_MANIFESTS",
    "Credentials",
    "InvalidUpstream",
    "ManifestHead",
    "UpstreamAuthFailed",
    "UpstreamBlob",
    "UpstreamClient",
    "UpstreamContentInvalid",
    "UpstreamError",
    "UpstreamManifest",
    "UpstreamNotFound",
    "UpstreamRefused",
    "UpstreamRegistry",
    "UpstreamUnavailable",
]
