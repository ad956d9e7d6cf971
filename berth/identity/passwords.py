"""Password hashing (argon2id) with a small verified-credentials cache.

argon2 is deliberately slow (~50 ms); registry clients that use HTTP Basic on every request
would pay that per blob. A verified (user, password) pair is remembered, keyed by a salted
hash of the pair, for a short time; a password change clears the entry on the next miss.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: OWASP's recommended argon2id configuration (19 MiB, 2 passes, 1 lane): ~50 ms per hash
#: here. argon2-cffi's default (64 MiB, 3 passes, 4 lanes) took ~165 ms on two cores, on
#: the first-run admin and on every uncached Basic login, and 64 MiB of memory each time.
#: Hashes made with other parameters still verify: they are stored in the hash.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_and_upgrade(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """``verify_password``, and for a right password whose hash was made with other
    parameters (argon2-cffi's old defaults, before Berth chose OWASP's), a new hash to
    store so later logins cost ~50 ms instead of ~165 ms. Slow: run it off the event loop."""
    if not verify_password(password_hash, password):
        return False, None
    assert password_hash is not None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None)


class VerifiedCache:
    def __init__(self, secret: str, ttl_s: float = 60.0, max_entries: int = 4096) -> None:
        self._key = secret.encode()
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[bytes, tuple[float, str]] = {}

    def _k(self, username: str, password: str, password_hash: str) -> bytes:
        msg = f"{username}\0{password}\0{password_hash}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).digest()

    def hit(self, username: str, password: str, password_hash: str) -> bool:
        k = self._k(username, password, password_hash)
        entry = self._entries.get(k)
        return entry is not None and entry[0] > time.monotonic()

    def remember(self, username: str, password: str, password_hash: str) -> None:
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[self._k(username, password, password_hash)] = (
            time.monotonic() + self._ttl,
            username,
        )
