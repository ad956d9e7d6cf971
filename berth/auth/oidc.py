"""OpenID Connect login services (Quay's ``<NAME>_LOGIN_CONFIG`` blocks).

Each configured provider is an ``OidcService``: discovery (``OIDC_SERVER`` +
``/.well-known/openid-configuration``, cached), the authorization-code flow with PKCE
(S256), the code exchange (client_secret_basic), and ID-token validation: signature by the
provider's JWKS (fetched again when a token names a key id it does not know: key rotation;
the same unknown key id triggers that at most every ten seconds), issuer, audience (the
client id), expiry and the nonce. Every call out goes through ``berth.outbound`` (the SSRF
guard: a provider on a private address must be listed in SSRF_ALLOWED_HOSTS).

``OidcLogins`` turns a validated ID token into a Berth account: bound by (service, ``sub``)
in ``federated_logins``; created on first sign-in with the token's e-mail and a name from
``preferred_username`` (or the e-mail's local part), made unique if taken: a provider never
takes over an existing account by claiming its name.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt import PyJWKSet

from berth.auth.settings import OidcSettings
from berth.identity.federated import FederatedAccounts, LinkedUser
from berth.outbound import OutboundClients, OutboundError

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
_DISCOVERY_TTL_S = 3600.0
_UNKNOWN_KID_RETRY_S = 10.0
_LEEWAY_S = 30


class OidcError(Exception):
    """A sign-in through a provider failed; ``str`` says why (shown to the user)."""


@dataclass(frozen=True)
class PendingLogin:
    """What the browser carries (in an encrypted cookie) between the redirect to the provider
    and the callback."""

    service_id: str
    state: str
    nonce: str
    verifier: str
    redirect: str = "/"

    @staticmethod
    def new(service_id: str, redirect: str = "/") -> PendingLogin:
        return PendingLogin(
            service_id,
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(48),
            redirect,
        )

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class OidcService:
    settings: OidcSettings
    outbound: OutboundClients
    redirect_uri: str
    _metadata: dict[str, Any] | None = None
    _metadata_at: float = 0.0
    _jwks: PyJWKSet | None = None
    _jwks_at: float = 0.0
    _kids: set[str] = field(default_factory=set)
    _missed: dict[str, float] = field(default_factory=dict)  # unknown kid -> last refetch

    @property
    def issuer(self) -> str:
        return self.settings.issuer.rstrip("/")

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = await self.outbound.client().get(url, headers={"Accept": "application/json"})
        except OutboundError as e:
            raise OidcError(f"the identity provider could not be reached: {e}") from e
        if r.status_code != 200:
            raise OidcError(f"the identity provider answered {r.status_code} for {url}")
        try:
            data = r.json()
        except ValueError as e:
            raise OidcError(f"the identity provider sent no JSON for {url}") from e
        if not isinstance(data, dict):
            raise OidcError(f"the identity provider sent no JSON object for {url}")
        return data

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is None or now - self._metadata_at > _DISCOVERY_TTL_S:
            data = await self._get_json(self.issuer + "/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise OidcError("the provider's discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(key), str):
                    raise OidcError(f"the provider's discovery document has no {key}")
            self._metadata, self._metadata_at = data, now
        return self._metadata

    async def _keyset(self, kid: str | None) -> PyJWKSet:
        now = time.monotonic()
        refetch = self._jwks is None
        if not refetch and kid is not None and kid not in self._kids:
            refetch = now - self._missed.get(kid, float("-inf")) >= _UNKNOWN_KID_RETRY_S
            if refetch:
                if len(self._missed) > 1024:
                    self._missed.clear()
                self._missed[kid] = now
        if refetch:
            meta = await self.metadata()
            data = await self._get_json(meta["jwks_uri"])
            try:
                keyset = PyJWKSet.from_dict(data)
            except jwt.PyJWTError as e:
                raise OidcError(f"the provider's JWKS is unusable: {e}") from e
            self._jwks, self._jwks_at = keyset, now
            self._kids = {k.key_id for k in keyset.keys if k.key_id}
        assert self._jwks is not None
        return self._jwks

    async def authorization_url(self, pending: PendingLogin) -> str:
        meta = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(self.settings.scopes),
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.challenge,
            "code_challenge_method": "S256",
        }
        endpoint = str(meta["authorization_endpoint"])
        sep = "&" if "?" in endpoint else "?"
        return endpoint + sep + urllib.parse.urlencode(query)

    async def exchange(self, code: str, pending: PendingLogin) -> dict[str, Any]:
        """The provider's validated ID-token claims for an authorization code."""
        meta = await self.metadata()
        try:
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": pending.verifier,
            }
            # client_secret_basic (RFC 6749 2.3.1: each part form-encoded first)
            basic = ":".join(
                urllib.parse.quote_plus(v)
                for v in (self.settings.client_id, self.settings.client_secret)
            )
            r = await self.outbound.client().post(
                meta["token_endpoint"],
                content=urllib.parse.urlencode(form),
                headers={
                    "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": "Basic " + base64.b64encode(basic.encode()).decode(),
                },
                retry=False,  # a code is good once
            )
        except OutboundError as e:
            raise OidcError(f"the identity provider could not be reached: {e}") from e
        if r.status_code != 200:
            raise OidcError(f"the identity provider refused the code ({r.status_code})")
        try:
            tokens = r.json()
        except ValueError as e:
            raise OidcError("the identity provider's token answer is not JSON") from e
        id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
        if not isinstance(id_token, str):
            raise OidcError("the identity provider sent no ID token")
        return await self.verify(id_token, audience=self.settings.client_id, nonce=pending.nonce)

    async def verify(
        self, token: str, *, audience: str | None, nonce: str | None = None
    ) -> dict[str, Any]:
        """A JWT of this provider: signature (JWKS), issuer, audience, expiry (and nonce)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise OidcError(f"not a valid token: {e}") from e
        kid = header.get("kid")
        keyset = await self._keyset(kid if isinstance(kid, str) else None)
        try:
            key = keyset[kid] if isinstance(kid, str) else keyset.keys[0]
        except (KeyError, IndexError) as e:
            raise OidcError("the token is signed with a key the provider does not publish") from e
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=audience,
                issuer=self.issuer,
                leeway=_LEEWAY_S,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    "verify_aud": audience is not None,
                },
            )
        except jwt.ExpiredSignatureError as e:
            raise OidcError("the token has expired") from e
        except jwt.InvalidAudienceError as e:
            raise OidcError("the token is for another audience") from e
        except jwt.InvalidIssuerError as e:
            raise OidcError("the token is from another issuer") from e
        except jwt.InvalidSignatureError as e:
            raise OidcError("the token's signature is invalid") from e
        except jwt.PyJWTError as e:
            raise OidcError(f"the token is invalid: {e}") from e
        if nonce is not None and claims.get("nonce") != nonce:
            raise OidcError("the token's nonce does not match this sign-in")
        return claims


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a JWT claims (to pick the provider that must verify it), or None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    return iss.rstrip("/") if isinstance(iss, str) else None


def _username_hint(claims: dict[str, Any]) -> str:
    for candidate in (claims.get("preferred_username"), str(claims.get("email") or "")):
        if isinstance(candidate, str) and candidate:
            name = candidate.split("@", 1)[0].lower()
            cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name).strip("._-")
            if len(cleaned) >= 2:
                return cleaned[:200]
    return "user"


class OidcLogins:
    """The configured providers, and their users' Berth accounts."""

    def __init__(
        self,
        services: list[OidcService],
        accounts: FederatedAccounts,
        *,
        on_sign_in: Callable[[LinkedUser, list[str]], Awaitable[None]] | None = None,
    ) -> None:
        """``on_sign_in(user, groups)``: after each sign-in, with the group claim's values
        (team sync by ``group_name``)."""
        self.services = {s.settings.service_id: s for s in services}
        self.accounts = accounts
        self.on_sign_in = on_sign_in

    def get(self, service_id: str) -> OidcService | None:
        return self.services.get(service_id)

    def for_issuer(self, issuer: str) -> OidcService | None:
        return next((s for s in self.services.values() if s.issuer == issuer.rstrip("/")), None)

    async def account(
        self, service: OidcService, claims: dict[str, Any], *, ip: str | None = None
    ) -> LinkedUser:
        """The Berth user of the provider's ``sub``, created on first sign-in."""
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        raw_groups = claims.get(service.settings.group_claim or "groups") or []
        groups = [str(g) for g in raw_groups] if isinstance(raw_groups, list) else []
        superuser = None
        if service.settings.superuser_group and service.settings.group_claim:
            superuser = service.settings.superuser_group in groups
        user = await self.accounts.link(
            service.settings.service_id,
            str(claims["sub"]),
            _username_hint(claims),
            email=email,
            superuser=superuser,
            metadata={"issuer": service.issuer},
            ip=ip,
            bind_existing=False,
        )
        if self.on_sign_in is not None and user.enabled:
            await self.on_sign_in(user, groups)
        return user
