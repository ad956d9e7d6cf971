"""Quay's opaque ``next_page`` tokens: a small JSON payload sealed with the secret key.

A token lives two days; one that cannot be opened (tampered, expired, from another server)
is read as "the first page", as in Quay. Clients echo it back unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

from berth.auth.tokens import fernet_for
from berth.http.api.v1.framework import ApiApp

PAGE_TOKEN_TTL_S = 2 * 86400


def _fernet(api: ApiApp) -> Fernet:
    return fernet_for("berth-page:" + api.settings.secret_key)


def page_token(api: ApiApp, after_id: int) -> str:
    """A token for the page that starts after row ``after_id``."""
    return _fernet(api).encrypt(orjson.dumps({"after": after_id})).decode()


def page_start(api: ApiApp, token: str | None) -> int:
    """The row id the page of ``token`` starts after (0: the first page)."""
    if not token:
        return 0
    try:
        payload: Any = orjson.loads(_fernet(api).decrypt(token.encode(), ttl=PAGE_TOKEN_TTL_S))
        return int(payload["after"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        return 0
