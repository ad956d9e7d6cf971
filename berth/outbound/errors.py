"""Typed errors of the outbound client: every failure a caller has to tell apart.

``OutboundError`` is the base; callers that only need "the call did not work" catch it.
None of these carries an HTTP status of ours: a webhook job records the message, a proxy-cache
pull turns an ``OutboundError`` into its own upstream error. A response with an error status
(404, 500 ...) is not an exception: the caller gets the response.
"""

from __future__ import annotations


class OutboundError(Exception):
    """An outbound request failed before a usable response arrived."""


class OutboundConfigError(OutboundError, ValueError):
    """The outbound settings are unusable (a bad allow-list entry, proxy URL or CA file)."""


class DestinationRefused(OutboundError):
    """The SSRF guard refused the destination; no byte was sent to it.

    ``address`` is the resolved address that was refused (``None`` when the host name itself
    is refused, e.g. a cloud metadata name); ``reason`` completes "<address> is ..." (e.g.
    "a loopback address"); ``always`` is true when no configuration can allow it (link-local
    and cloud metadata destinations).
    """

    def __init__(self, host: str, address: str | None, reason: str, *, always: bool) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        self.always = always
        target = host if address is None or address == host else f"{host} ({address})"
        if always:
            advice = "this cannot be allowed"
        elif address is None or address == host:
            advice = f"to allow it, add {host!r} to SSRF_ALLOWED_HOSTS"
        else:
            advice = (
                f"to allow it, add {host!r}, {address!r} or a CIDR range containing it "
                "to SSRF_ALLOWED_HOSTS"
            )
        subject = address if address is not None else host
        super().__init__(f"outbound request to {target} refused: {subject} is {reason}; {advice}")


class InvalidDestination(OutboundError):
    """The URL cannot be requested at all (not http/https, no host)."""


class OutboundTimeout(OutboundError):
    """A timeout expired; ``phase`` is ``connect``, ``read``, ``write`` or ``pool``."""

    def __init__(self, message: str, *, phase: str) -> None:
        self.phase = phase
        super().__init__(message)


class OutboundConnectionError(OutboundError):
    """The host could not be resolved or reached, or the connection broke mid-exchange."""


class TLSVerificationError(OutboundConnectionError):
    """The server's certificate did not verify (unknown CA, wrong name, expired)."""


class TooManyRedirects(OutboundError):
    """Redirects were followed more than the configured maximum."""
