"""The proxy cache's configuration section (FEATURE_PROXY_CACHE and Berth's own keys).

Built once by ``berth.config.load_settings``; this package never reads the config file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProxyCacheSettings:
    """FEATURE_PROXY_CACHE: the ``proxycache`` routes and pull-through of proxy-cache
    organizations. BERTH_PROXY_CACHE_REVALIDATE (seconds): how long after the upstream last
    confirmed a cached tag it is served without asking again (0: a HEAD on every pull, as
    Quay does). BERTH_PROXY_CACHE_MAX_BLOB_BYTES: the largest blob fetched (None: no limit)."""

    enabled: bool = False
    revalidate_after_s: int = 60
    max_blob_bytes: int | None = None
