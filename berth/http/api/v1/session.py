"""The browser session cookie: encrypted and authenticated with a key from SECRET_KEY.

The cookie holds the CSRF token, and after sign-in the user id, the user's session
generation (sign-out rotates it) and the login time (for fresh-login checks). Fernet gives
both secrecy and integrity, and its timestamp bounds the session's age.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

import orjson
from cryptography.fernet import Fernet, InvalidToken

from berth.auth.tokens import fernet_for


@dataclass(frozen=True)
class SessionData:
    csrf: str
    user_id: int | None = None
    generation: str | None = None
    login_at: float | None = None

    def with_login(self, user_id: int, generation: str) -> SessionData:
        return replace(
            self,
            user_id=user_id,
            generation=generation,
            login_at=time.time(),
            csrf=new_csrf_token(),
        )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class SessionCodec:
    def __init__(self, secret_key: str, *, max_age_s: int) -> None:
        self._fernet: Fernet = fernet_for("berth-session:" + secret_key)
        self.max_age_s = max_age_s

    def dump(self, data: SessionData) -> str:
        doc = {"c": data.csrf, "u": data.user_id, "g": data.generation, "t": data.login_at}
        return self._fernet.encrypt(orjson.dumps(doc)).decode()

    def load(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            raw = self._fernet.decrypt(cookie.encode(), ttl=self.max_age_s)
            doc = orjson.loads(raw)
            return SessionData(
                csrf=str(doc["c"]),
                user_id=doc.get("u"),
                generation=doc.get("g"),
                login_at=doc.get("t"),
            )
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None
