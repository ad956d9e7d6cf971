"""Where an upstream registry is and how a local path maps to its repositories.

Quay's ``upstream_registry`` is a host, an optional port and an optional namespace:
``quay.io``, ``registry.lab:5000``, ``docker.io/library``. Docker Hub's rules:

* ``docker.io`` (and ``index.docker.io``) is served by ``registry-1.docker.io``;
* an official image has one path component on the command line (``busybox``) and lives in
  ``library/busybox``: with no namespace in the upstream, a one-component path gets
  ``library/`` in front (Docker Hub only).

A path under a namespaced upstream is prefixed with it: ``docker.io/library`` + ``busybox``
is ``library/busybox``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DOCKER_HUB_API = "registry-1.docker.io"

_HOST_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}"
    r"[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


class InvalidUpstream(ValueError):
    """The upstream registry string is not ``host[:port][/namespace...]``."""


@dataclass(frozen=True, slots=True)
class UpstreamRegistry:
    """A parsed ``upstream_registry``: where to connect and the namespace to prefix."""

    host: str  # as configured, with its port (``registry.lab:5000``)
    api_host: str  # where requests go (``registry-1.docker.io`` for Docker Hub)
    namespace: str  # "" or ``library`` / ``org/team``
    scheme: str = "https"

    @classmethod
    def parse(cls, value: str, *, insecure: bool = False) -> UpstreamRegistry:
        """``insecure`` (Quay's proxy-cache flag): talk plain HTTP to the upstream. An
        explicit ``http://`` or ``https://`` in front of the host wins."""
        raw = value.strip()
        scheme = "http" if insecure else "https"
        for prefix in ("https://", "http://"):
            if raw.lower().startswith(prefix):
                scheme, raw = prefix[:-3], raw[len(prefix) :]
                break
        raw = raw.strip("/")
        host, _, namespace = raw.partition("/")
        if not host or not _HOST_RE.match(host):
            raise InvalidUpstream(f"{value!r} is not a registry host[:port][/namespace]")
        if namespace and not all(_PATH_COMPONENT.match(p) for p in namespace.split("/")):
            raise InvalidUpstream(f"{value!r}: {namespace!r} is not a repository namespace")
        host = host.lower()
        api_host = DOCKER_HUB_API if host in DOCKER_HUB_NAMES else host
        return cls(host=host, api_host=api_host, namespace=namespace, scheme=scheme)

    @property
    def is_docker_hub(self) -> bool:
        return self.api_host == DOCKER_HUB_API

    @property
    def hostname(self) -> str:
        """The host without its port (what the SSRF guard resolves)."""
        if self.api_host.startswith("["):
            return self.api_host[1 : self.api_host.index("]")]
        return self.api_host.rsplit(":", 1)[0] if ":" in self.api_host else self.api_host

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.api_host}"

    def repository(self, path: str) -> str:
        """The upstream repository for a local path (the part after the organization)."""
        path = path.strip("/")
        if self.namespace:
            return f"{self.namespace}/{path}"
        if self.is_docker_hub and "/" not in path:
            return f"library/{path}"
        return path
