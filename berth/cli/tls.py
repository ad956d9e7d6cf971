"""TLS for ``berth serve``: which certificate, and whether it can be served.

As Quay does, ``ssl.cert`` and ``ssl.key`` beside ``config.yaml`` turn TLS on; ``--ssl-cert``
and ``--ssl-key`` name them elsewhere. Before anything starts, the pair is checked: both
readable PEM, the key the certificate's, and the certificate valid now (an expired one is
refused with its date, not served to clients that would all fail).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsError", "TlsFiles", "check_tls", "find_tls"]


class TlsError(Exception):
    """A certificate or key that cannot be served; the message says which and why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    not_after: dt.datetime


def find_tls(
    config_path: Path | None, cert: str | None, key: str | None
) -> tuple[Path, Path] | None:
    """The certificate and key to serve, or None (plain HTTP)."""
    if cert or key:
        if not (cert and key):
            raise TlsError("--ssl-cert and --ssl-key go together: give both")
        return Path(cert), Path(key)
    if config_path is None:
        return None
    found = [config_path.parent / "ssl.cert", config_path.parent / "ssl.key"]
    present = [p.exists() for p in found]
    if all(present):
        return found[0], found[1]
    if any(present):
        missing = found[present.index(False)]
        raise TlsError(f"{missing} is missing: ssl.cert and ssl.key go together")
    return None


def check_tls(cert: Path, key: Path, *, now: dt.datetime | None = None) -> TlsFiles:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    now = now or dt.datetime.now(dt.UTC)
    try:
        certs = x509.load_pem_x509_certificates(cert.read_bytes())
    except OSError as e:
        raise TlsError(f"the TLS certificate {cert} cannot be read: {e.strerror}") from e
    except ValueError as e:
        raise TlsError(f"the TLS certificate {cert} is not a PEM certificate") from e
    try:
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except OSError as e:
        raise TlsError(f"the TLS key {key} cannot be read: {e.strerror}") from e
    except (ValueError, TypeError) as e:
        raise TlsError(f"the TLS key {key} is not an unencrypted PEM private key ({e})") from e
    leaf = certs[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if leaf.public_key().public_bytes(pem, spki) != private.public_key().public_bytes(pem, spki):
        raise TlsError(f"the TLS key {key} does not belong to the certificate {cert}")
    if leaf.not_valid_after_utc <= now:
        raise TlsError(
            f"the TLS certificate {cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} "
            "UTC: renew it (or replace ssl.cert and ssl.key) and start again"
        )
    if leaf.not_valid_before_utc > now:
        raise TlsError(
            f"the TLS certificate {cert} is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC (is this machine's clock right?)"
        )
    return TlsFiles(cert, key, leaf.not_valid_after_utc)
