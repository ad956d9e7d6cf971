"""Registry bearer tokens (Docker token auth, as Quay issues them).

RS256 JWTs with a ``kid`` header. Claims: ``iss`` (INSTANCE_SERVICE_KEY_SERVICE), ``aud``
(the ``service`` parameter), ``sub``, ``iat``/``nbf``/``exp`` and ``access`` =
``[{"type": "repository", "name": "ns/repo", "actions": [...]}]``. Verification needs no
database round trip: public keys are held in memory and reloaded only for an unknown kid.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from berth.auth.errors import InvalidToken

MAX_FRESH_S = 3660
LEEWAY_S = 30


def fernet_for(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


@dataclass
class KeyMaterial:
    kid: str
    private_pem: bytes | None
    public_pem: bytes


def generate_key() -> KeyMaterial:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = hashlib.sha256(public_pem).hexdigest()[:32]
    return KeyMaterial(kid=kid, private_pem=private_pem, public_pem=public_pem)


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    access: dict[str, frozenset[str]]  # repository name -> actions
    expires_at: float
    context: dict[str, Any] = field(default_factory=dict)

    def actions_for(self, repository: str) -> frozenset[str]:
        return self.access.get(repository, frozenset())


class KeyRing:
    """Signing key (newest) and every verification key, by kid."""

    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self._signing: KeyMaterial | None = None
        self._signing_key: Any = None
        self._public: dict[str, Any] = {}
        self._cache: dict[str, TokenClaims] = {}

    def install(self, keys: list[KeyMaterial]) -> None:
        """Keys newest first; the first one with a private part signs."""
        self._public = {k.kid: serialization.load_pem_public_key(k.public_pem) for k in keys}
        signing = next((k for k in keys if k.private_pem), None)
        self._signing = signing
        # Our own key, stored Fernet-encrypted (authenticated): re-validating the RSA
        # parameters would only cost ~60 ms at every start.
        self._signing_key = (
            serialization.load_pem_private_key(
                signing.private_pem, password=None, unsafe_skip_rsa_key_validation=True
            )
            if signing and signing.private_pem
            else None
        )
        self._cache.clear()

    @property
    def can_sign(self) -> bool:
        """Is a signing key loaded (``install``)?"""
        return self._signing_key is not None

    def knows(self, kid: str) -> bool:
        return kid in self._public

    def issue(
        self,
        subject: str,
        access: list[dict[str, Any]],
        *,
        audience: str,
        ttl_s: int,
        context: dict[str, Any] | None = None,
    ) -> str:
        if self._signing is None:
            raise RuntimeError("no signing key installed")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": secrets.token_urlsafe(12),
            "access": access,
            "context": context or {},
        }
        return jwt.encode(
            claims, self._signing_key, algorithm="RS256", headers={"kid": self._signing.kid}
        )

    @staticmethod
    def kid_of(token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise InvalidToken("Invalid bearer token") from e
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("Token has no key id")
        return kid

    def cached(self, token: str) -> TokenClaims | None:
        """Claims of a token verified before and not yet expired (no parsing at all)."""
        claims = self._cache.get(token)
        if claims is not None and claims.expires_at + LEEWAY_S <= time.time():
            self._cache.pop(token, None)
            return None
        return claims

    def verify(self, token: str) -> TokenClaims:
        cached = self.cached(token)
        if cached is not None:
            return cached
        now = time.time()
        kid = self.kid_of(token)
        key = self._public.get(kid)
        if key is None:
            raise InvalidToken("Token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "nbf", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise InvalidToken("Token has expired") from e
        except jwt.PyJWTError as e:
            raise InvalidToken(f"Invalid bearer token: {e}") from e
        if claims["exp"] - now > MAX_FRESH_S + LEEWAY_S:
            raise InvalidToken("Token lifetime is too long")
        access: dict[str, frozenset[str]] = {}
        for entry in claims.get("access") or []:
            if isinstance(entry, dict) and entry.get("type") == "repository":
                name = str(entry.get("name", ""))
                if name.startswith(self.audience + "/"):
                    name = name[len(self.audience) + 1 :]
                actions = frozenset(str(a) for a in entry.get("actions") or [])
                access[name] = access.get(name, frozenset()) | actions
        result = TokenClaims(
            subject=str(claims["sub"]),
            access=access,
            expires_at=float(claims["exp"]),
            context=claims.get("context") or {},
        )
        if len(self._cache) > 10000:
            self._cache.clear()
        self._cache[token] = result
        return result
