"""TLS trust for outbound requests: httpx's default store plus Quay-style extra CAs.

The base trust store is the one httpx uses by default, certifi's copy of the Mozilla CA
bundle (``httpx.create_ssl_context()``), not the operating system's. Berth then trusts the
same public CAs on every host and container image, as httpx (and Quay, which appends its
``extra_ca_certs`` to certifi's bundle) would; a private CA is trusted only when it is listed
in the extra CA paths, never because it happened to be installed on the host.

Extra CA paths are files or directories. A directory (Quay's ``conf/stack/extra_ca_certs/``)
contributes every regular, non-hidden file in it; each file holds one or more PEM
certificates. A file that holds no certificate is an error naming it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

import httpx

from berth.outbound.errors import OutboundConfigError


def ca_files(paths: Iterable[str | Path]) -> list[Path]:
    """The certificate files the extra CA paths name, directories expanded, sorted."""
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(
                p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            files.append(path)
        else:
            raise OutboundConfigError(f"extra CA certificate path {str(path)!r} does not exist")
    return files


def build_ssl_context(
    extra_ca_paths: Iterable[str | Path] = (), *, verify: bool = True
) -> ssl.SSLContext:
    """A client context: certifi's bundle plus the extra CAs, verifying the peer's chain and
    host name; with ``verify=False`` one that checks nothing (for one lab upstream)."""
    if not verify:
        return httpx.create_ssl_context(verify=False, trust_env=False)
    context = httpx.create_ssl_context(verify=True, trust_env=False)
    for path in ca_files(extra_ca_paths):
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise OutboundConfigError(
                f"extra CA certificate file {str(path)!r} is not a readable PEM file: {exc}"
            ) from exc
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise OutboundConfigError(
                f"extra CA certificate file {str(path)!r} holds no PEM certificate"
            )
        try:
            context.load_verify_locations(cadata=text)
        except ssl.SSLError as exc:
            raise OutboundConfigError(
                f"extra CA certificate file {str(path)!r} is not a valid PEM certificate: {exc}"
            ) from exc
    return context
