"""Pull-through: repositories whose content comes from an upstream registry on first pull.

The registry core does not know where such content comes from (proxy-cache organizations,
``berth.proxycache``); the composition root hands ``Registry`` a ``PullThrough`` built by
that feature, or None when the feature is off. The /v2 edge asks ``proxies(namespace)``
only when one is given, so with the feature off a pull costs one attribute test, and with
it on a repository outside proxy-cache organizations costs one in-process lookup (the set
of proxy namespaces is held in the read cache).

For a proxied namespace the edge serves manifests and blobs from ``PullThrough`` instead of
the local services, and refuses pushes with ``refuse_push``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from berth.audit.services import Performer
from berth.registry.manifests import ManifestData
from berth.registry.repositories import RepoName

# What a proxied answer says about its source (the ``X-Proxy-Cache`` response header):
HIT = "HIT"  # served from the cache without asking the upstream (fresh)
REVALIDATED = "REVALIDATED"  # the upstream confirmed the cached digest
MISS = "MISS"  # fetched from the upstream (and cached)
STALE = "STALE"  # the upstream failed: the cached copy was served


@dataclass(frozen=True, slots=True)
class PulledManifest:
    data: ManifestData
    source: str  # HIT, REVALIDATED, MISS or STALE
    upstream_error: str | None = None  # why STALE


@dataclass(frozen=True, slots=True)
class PulledBlob:
    """A blob of a proxied repository: ``local`` when it is stored (serve it as any other
    blob), otherwise ``chunks`` streams it while it is being fetched and stored (``size``
    may be None when the upstream did not say)."""

    digest: str
    size: int | None
    local: bool
    chunks: AsyncIterator[bytes] | None = None
    source: str = HIT


class PullThrough(Protocol):
    async def proxies(self, namespace: str) -> bool:
        """Is ``namespace`` served through an upstream? (No I/O when cached.)"""
        ...

    async def manifest(
        self,
        repo: RepoName,
        reference: str,
        *,
        pull_by: Performer | None = None,
        log_meta: dict[str, Any] | None = None,
    ) -> PulledManifest:
        """The manifest, from the cache or the upstream (``log_meta``: a GET, logged)."""
        ...

    async def blob(self, repo: RepoName, digest: str, *, head: bool = False) -> PulledBlob:
        """The blob, stored or on its way (``head``: only its size is needed)."""
        ...

    async def refuse_push(self, repo: RepoName) -> None:
        """Raise ``Denied`` naming the proxy cache (pushes into it; deleting cached tags
        stays allowed)."""
        ...
