"""Errors of the upstream registry client: what a proxy cache or a mirror has to tell apart.

``UpstreamError`` is the base. ``UpstreamUnavailable`` means "the upstream could not answer
now" (unreachable, timed out, 5xx, rate limited): a proxy cache serves what it has. The
others are answers: the content does not exist, the credentials were refused, or what came
back is not what was asked for (nothing of it may be stored).
"""

from __future__ import annotations


class UpstreamError(Exception):
    """A call to an upstream registry did not give a usable answer."""


class UpstreamUnavailable(UpstreamError):
    """Unreachable, timed out, or an error status (5xx, 429, an unexpected answer)."""


class UpstreamRefused(UpstreamError):
    """The SSRF guard refused the upstream's address (nothing was sent)."""


class UpstreamNotFound(UpstreamError):
    """The upstream answered 404: no such repository, tag, manifest or blob."""


class UpstreamAuthFailed(UpstreamError):
    """The upstream refused the credentials (or anonymous access) with 401/403."""


class UpstreamContentInvalid(UpstreamError):
    """The upstream's bytes are not what was asked for: a digest mismatch, a body over the
    size limit, or a manifest that is not one. Nothing of it may be stored."""
