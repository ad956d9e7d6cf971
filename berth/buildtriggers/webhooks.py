"""Who may fire a trigger's webhook: the checks of ``/webhooks/push/trigger/{uuid}``.

Every trigger has one secret, its webhook token, made when it is activated. The caller
proves it knows the token in any of these ways, and every proof it sends must hold:

* Quay's: HTTP Basic ``$token:<token>`` (the URL Berth shows,
  ``https://$token:<token>@host/webhooks/push/trigger/<uuid>``). Bitbucket is checked this
  way, as in Quay.
* GitHub: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body, keyed by the token>``
  (the token is the hook's secret); ``X-Hub-Signature: sha1=...`` / ``sha256=...`` also
  (older GitHub, Bitbucket Cloud's secret).
* GitLab: ``X-Gitlab-Token: <token>`` (the hook's secret token).

No proof, or a wrong one: ``WebhookRefused`` (a 403, and no build). Comparisons are
constant-time. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

TOKEN_USER = "$token"  # noqa: S105 (the user name of Quay's token logins, not a secret)


class WebhookRefused(Exception):
    pass


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _signature_ok(header: str, body: bytes, secret: str) -> bool:
    algorithm, _, sent = header.strip().partition("=")
    digest = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}.get(algorithm.lower())
    if digest is None or not sent:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return _same(expected, sent.lower())


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def authenticate(headers: Mapping[str, str], body: bytes, secret: str) -> str:
    """How the caller proved it knows ``secret`` (``basic``, ``signature``, ``token``), or
    WebhookRefused. ``headers``: lower-case names."""
    proofs: list[str] = []
    auth = headers.get("authorization")
    if auth:
        creds = _basic(auth)
        if creds is None or creds[0] != TOKEN_USER or not _same(creds[1], secret):
            raise WebhookRefused("Invalid credentials")
        proofs.append("basic")
    for name in ("x-hub-signature-256", "x-hub-signature"):
        sent = headers.get(name)
        if sent is not None:
            if not _signature_ok(sent, body, secret):
                raise WebhookRefused(f"Invalid signature ({name})")
            proofs.append("signature")
    token = headers.get("x-gitlab-token")
    if token is not None:
        if not _same(token, secret):
            raise WebhookRefused("Invalid X-Gitlab-Token")
        proofs.append("token")
    if not proofs:
        raise WebhookRefused("Missing credentials")
    return proofs[0]
