"""Authentication for /v2: HTTP Basic, registry bearer tokens and the token endpoint."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from cryptography.fernet import InvalidToken as NotFernet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.auth.errors import (
    IdentityProviderUnavailable,
    InvalidCredentials,
    InvalidScope,
    InvalidToken,
    TooManyAttempts,
)
from berth.auth.limits import IpFailureLimiter, backoff_remaining_s
from berth.auth.models import SigningKey
from berth.auth.providers import DatabaseProvider, IdentityProvider
from berth.auth.tokens import KeyMaterial, KeyRing, TokenClaims, fernet_for, generate_key
from berth.authz import ALL_ACTIONS, ANONYMOUS, AccessPolicy, Decision, Principal
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.models import User
from berth.identity.passwords import VerifiedCache, verify_and_upgrade
from berth.identity.permissions import (
    access_facts,
    live_repositories,
    repository_created,
    visible_repositories,
)
from berth.identity.robots import verify_robot_token
from berth.registry.errors import NameInvalid
from berth.registry.manifests import CatalogScope
from berth.registry.repositories import (
    RepoName,
    RepoRow,
    create_repository,
    parse_repo_name,
)

# A special Basic username (``$oauthtoken``, ``$app``, ``$token``) -> a validator that takes
# the password and returns the principal or raises InvalidCredentials.
SpecialLogin = Callable[[str], Awaitable[Principal]]

_SCOPE_RE = re.compile(
    r"^repository:(?P<name>[a-zA-Z0-9._/:-]+?)"
    r":(?P<actions>(?:push|pull|delete|\*)(?:,(?:push|pull|delete|\*))*)$"
)


@dataclass(frozen=True)
class Caller:
    """Who is calling /v2 and how: a principal, plus token claims when a bearer was sent."""

    principal: Principal
    claims: TokenClaims | None = None

    @property
    def via_token(self) -> bool:
        return self.claims is not None


@dataclass(frozen=True)
class ScopeRequest:
    raw_name: str
    repo: RepoName
    actions: frozenset[str]


ENCRYPTED_REQUIRED = (
    "Client login with unencrypted passwords is disabled. Please generate an encrypted "
    "password in the user admin panel for use here."
)
_FERNET_PREFIX = "gAAAAA"  # every Fernet token: version byte 0x80, then a timestamp


class AuthService:
    def __init__(
        self,
        db: Database,
        *,
        server_hostname: str,
        issuer: str,
        secret_key: str,
        database_secret_key: str,
        super_users: frozenset[str],
        policy: AccessPolicy,
        readonly_super_users: frozenset[str] = frozenset(),
        library_namespace: str | None,
        token_ttl_s: int,
        create_private: bool,
        create_namespace_on_push: bool,
        default_tag_expiration_s: int,
        allow_catalog_scope: bool = False,
        robots_disallow: bool = False,
        robots_whitelist: frozenset[str] = frozenset(),
        require_encrypted_basic_auth: bool = False,
        is_restricted_user: Callable[[str], bool] = lambda _name: False,
        provider: IdentityProvider | None = None,
        proxy_namespaces: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.db = db
        self.server_hostname = server_hostname
        self.keyring = KeyRing(issuer=issuer, audience=server_hostname)
        self.fernet = fernet_for(database_secret_key)
        self.super_users = super_users
        self.readonly_super_users = readonly_super_users  # GLOBAL_READONLY_SUPER_USERS
        self.policy = policy
        self.library = library_namespace
        self.token_ttl_s = token_ttl_s
        self.create_private = create_private
        self.create_namespace_on_push = create_namespace_on_push
        self.default_tag_expiration_s = default_tag_expiration_s
        self.verified = VerifiedCache(secret_key)
        # Quay answers 400 to ``registry:catalog:*``; BERTH_ALLOW_CATALOG_SCOPE accepts it
        # (crane and other go-containerregistry clients ask for it).
        self.allow_catalog_scope = allow_catalog_scope
        # ROBOTS_DISALLOW: robot logins refused, except those in ROBOTS_WHITELIST.
        self.robots_disallow = robots_disallow
        self.robots_whitelist = robots_whitelist
        # FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH: registry logins of users must use the
        # encrypted password (``POST /api/v1/user/clientkey``), not the password itself.
        self.require_encrypted_basic_auth = require_encrypted_basic_auth
        self.is_restricted_user = is_restricted_user
        # FEATURE_PROXY_CACHE: is a namespace a proxy-cache organization (its members pull
        # through it, nobody pushes)? None when the feature is off.
        self.proxy_namespaces = proxy_namespaces
        self._last_reload = 0.0
        self.special_logins: dict[str, SpecialLogin] = {}
        self.ip_limiter = IpFailureLimiter()
        # AUTHENTICATION_TYPE: who checks users' passwords (Database: _authenticate_user).
        self.provider: IdentityProvider = provider or DatabaseProvider(self._authenticate_user)

    def register_special_login(self, username: str, validator: SpecialLogin) -> None:
        """Plug in a validator for a special username (e.g. ``$oauthtoken``, ``$app``)."""
        self.special_logins[username] = validator

    # ---- signing keys ------------------------------------------------------------------
    async def load_keys(self, *, create: bool = True) -> None:
        async with self.db.read() as s:
            rows = (
                (
                    await s.execute(
                        select(SigningKey)
                        .where(SigningKey.retired_at.is_(None))
                        .order_by(SigningKey.created_at.desc())
                    )
                )
                .scalars()
                .all()
            )
        if not rows and create:
            await self.rotate_keys()
            return
        self.keyring.install(
            [KeyMaterial(r.kid, self.fernet.decrypt(r.private_key), r.public_key) for r in rows]
        )
        self._last_reload = time.monotonic()

    async def rotate_keys(self) -> str:
        """Add a new signing key; older keys keep verifying tokens until retired."""
        key = generate_key()
        assert key.private_pem is not None
        async with self.db.write() as s:
            s.add(
                SigningKey(
                    kid=key.kid,
                    private_key=self.fernet.encrypt(key.private_pem),
                    public_key=key.public_pem,
                    created_at=now_ms(),
                )
            )
        await self.load_keys(create=False)
        return key.kid

    # ---- callers -----------------------------------------------------------------------
    async def authenticate_basic(
        self, username: str, password: str, *, ip: str | None = None, registry: bool = True
    ) -> Principal:
        """Quay's credential rules: ``ns+robot`` with its token, special usernames
        (``special_logins``: ``$oauthtoken``, ``$app`` ...), else a user and its password or
        its encrypted password, refused while the login backoff of that user or the failure
        limit of ``ip`` runs. ``registry``: a registry (/v2) login rather than a browser
        sign-in, where FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH applies."""
        self.ip_limiter.check(ip)
        special = self.special_logins.get(username)
        if special is not None:
            try:
                principal = await special(password)
            except InvalidCredentials:
                self.ip_limiter.failed(ip)
                raise
        elif "+" in username:
            return await self._authenticate_robot(username, password, ip)
        else:
            plain = self.decrypt_client_key(password)
            if plain is None and registry and self.require_encrypted_basic_auth:
                raise InvalidCredentials(ENCRYPTED_REQUIRED)
            try:
                principal = await self.provider.authenticate(username, plain or password, ip=ip)
            except IdentityProviderUnavailable:
                raise
            except InvalidCredentials:
                if self.provider.federated:  # Database counts its own failures
                    self.ip_limiter.failed(ip)
                raise
        if principal.kind == "user" and principal.name and self.is_restricted_user(principal.name):
            principal = dataclasses.replace(principal, restricted=True)
        return principal

    def client_key(self, password: str) -> str:
        """Quay's encrypted password: the password sealed with DATABASE_SECRET_KEY, usable
        wherever the password is (``docker login``), and revealing nothing by itself."""
        return self.fernet.encrypt(password.encode()).decode()

    def decrypt_client_key(self, value: str) -> str | None:
        """The password inside an encrypted password, or None when ``value`` isn't one."""
        if not value.startswith(_FERNET_PREFIX):
            return None
        try:
            return self.fernet.decrypt(value.encode()).decode()
        except (NotFernet, UnicodeDecodeError):
            return None

    async def _authenticate_robot(self, username: str, token: str, ip: str | None) -> Principal:
        if self.robots_disallow and username not in self.robots_whitelist:
            raise InvalidCredentials(
                "Robot account have been disabled. Please contact your administrator."
            )
        if token.count(".") == 2:  # a token from robot identity federation
            return await self._authenticate_federated_robot(username, token, ip)
        async with self.db.read() as s:
            robot = await verify_robot_token(s, username, token)
        if robot is None:
            self.ip_limiter.failed(ip)
            raise InvalidCredentials("Invalid robot account or token")
        if not robot.enabled:
            raise InvalidCredentials("Robot account is disabled")
        return Principal(kind="robot", name=robot.name, user_id=robot.user_id)

    def issue_federated_robot_token(
        self, username: str, context: dict[str, object], ttl_s: int
    ) -> str:
        """A short-lived robot token (robot identity federation): a registry JWT with no
        access of its own, marked as federated, accepted as the robot's password."""
        return self.keyring.issue(
            username, [], audience=self.server_hostname, ttl_s=ttl_s, context=dict(context)
        )

    async def _authenticate_federated_robot(
        self, username: str, token: str, ip: str | None
    ) -> Principal:
        try:
            claims = await self.verify_token(token)
        except InvalidToken as e:
            self.ip_limiter.failed(ip)
            raise InvalidCredentials("Invalid robot account or token") from e
        if claims.subject != username or claims.context.get("kind") != "federated_robot":
            self.ip_limiter.failed(ip)
            raise InvalidCredentials("Invalid robot account or token")
        async with self.db.read() as s:
            user = (
                await s.execute(
                    select(User.id, User.enabled).where(
                        User.username == username, User.kind == "robot"
                    )
                )
            ).first()
        if user is None:
            raise InvalidCredentials("Invalid robot account or token")
        if not user.enabled:
            raise InvalidCredentials("Robot account is disabled")
        return Principal(kind="robot", name=username, user_id=user.id)

    async def _authenticate_user(self, username: str, password: str, ip: str | None) -> Principal:
        async with self.db.read() as s:
            user = (
                await s.execute(
                    select(
                        User.id,
                        User.username,
                        User.password_hash,
                        User.enabled,
                        User.kind,
                        User.superuser,
                        User.readonly_superuser,
                        User.invalid_login_attempts,
                        User.last_invalid_login,
                    ).where(User.username == username, User.kind == "user")
                )
            ).first()
        if user is None or not user.password_hash:
            self.ip_limiter.failed(ip)
            raise InvalidCredentials()
        retry = backoff_remaining_s(user.invalid_login_attempts, user.last_invalid_login)
        if retry > 0:
            raise TooManyAttempts(math.ceil(retry))
        if not self.verified.hit(username, password, user.password_hash):
            ok, upgraded = await anyio.to_thread.run_sync(
                verify_and_upgrade, user.password_hash, password
            )
            if not ok:
                self.ip_limiter.failed(ip)
                await self._login_failed(user.id)
                raise InvalidCredentials()
            if upgraded is not None:
                await self._store_upgraded_hash(user.id, user.password_hash, upgraded)
            self.verified.remember(username, password, upgraded or user.password_hash)
        if user.invalid_login_attempts:
            await self._login_succeeded(user.id)
        if not user.enabled:
            raise InvalidCredentials("User account is disabled")
        return Principal(
            kind=user.kind,
            name=user.username,
            is_superuser=user.superuser or user.username in self.super_users,
            user_id=user.id,
            readonly_superuser=user.readonly_superuser
            or user.username in self.readonly_super_users,
        )

    async def _store_upgraded_hash(self, user_id: int, old: str, new: str) -> None:
        """Replace a hash made with other argon2 parameters, unless the password changed
        meanwhile (compare-and-set on the old hash)."""
        async with self.db.write() as s:
            await s.execute(
                update(User)
                .where(User.id == user_id, User.password_hash == old)
                .values(password_hash=new)
            )

    async def _login_failed(self, user_id: int) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(User)
                .where(User.id == user_id)
                .values(
                    invalid_login_attempts=User.invalid_login_attempts + 1,
                    last_invalid_login=now_ms(),
                )
            )

    async def _login_succeeded(self, user_id: int) -> None:
        async with self.db.write() as s:
            await s.execute(
                update(User)
                .where(User.id == user_id)
                .values(invalid_login_attempts=0, last_invalid_login=None)
            )

    def parse_basic(self, header: str) -> tuple[str, str]:
        try:
            raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
        except (IndexError, binascii.Error, UnicodeDecodeError) as e:
            raise InvalidCredentials("Invalid Basic credentials") from e
        username, sep, password = raw.partition(":")
        if not sep:
            raise InvalidCredentials("Invalid Basic credentials")
        return username, password

    async def caller(self, authorization: str | None, *, ip: str | None = None) -> Caller:
        """Resolve the Authorization header of a /v2 request."""
        if not authorization:
            return Caller(ANONYMOUS)
        scheme = authorization.split(" ", 1)[0].lower()
        if scheme == "bearer":
            token = authorization[7:].strip()
            claims = await self.verify_token(token)
            principal = self._principal_from_claims(claims)
            return Caller(principal, claims)
        if scheme == "basic":
            username, password = self.parse_basic(authorization)
            return Caller(await self.authenticate_basic(username, password, ip=ip))
        raise InvalidToken("Unsupported authorization scheme")

    async def verify_token(self, token: str) -> TokenClaims:
        cached = self.keyring.cached(token)  # the hot path: a token seen before
        if cached is not None:
            return cached
        kid = KeyRing.kid_of(token)
        if not self.keyring.knows(kid) and time.monotonic() - self._last_reload > 1.0:
            await self.load_keys(create=False)  # a key made by another replica
        return self.keyring.verify(token)

    def _principal_from_claims(self, claims: TokenClaims) -> Principal:
        subject = claims.subject
        if subject == "(anonymous)":
            return ANONYMOUS
        kind = "robot" if "+" in subject else "user"
        superuser = bool(claims.context.get("superuser")) or subject in self.super_users
        readonly = bool(claims.context.get("readonly_superuser")) or (
            subject in self.readonly_super_users
        )
        return Principal(
            kind=kind, name=subject, is_superuser=superuser, readonly_superuser=readonly
        )

    # ---- decisions ---------------------------------------------------------------------
    async def decide(
        self, principal: Principal, repo: RepoName, wanted: frozenset[str]
    ) -> Decision:
        async with self.db.read() as s:
            facts = await access_facts(s, repo, principal)
        if (
            self.proxy_namespaces is not None
            and facts.namespace_kind == "org"
            and await self.proxy_namespaces(repo.namespace)
        ):
            facts = dataclasses.replace(facts, is_proxy_cache=True)
        return self.policy.decide(principal, facts, wanted)

    async def allowed(self, caller: Caller, repo: RepoName, action: str) -> bool:
        """May ``caller`` perform ``action`` on ``repo`` (the only check /v2 handlers make)."""
        if caller.claims is not None:
            return action in caller.claims.actions_for(repo.full)
        decision = await self.decide(caller.principal, repo, frozenset({action}))
        if decision.create and action == "push":
            # HTTP Basic on /v2: create the repository now, as the token endpoint would,
            # so the creator's permissions and the default permissions apply.
            await self.create_repository(caller.principal, repo)
        return action in decision.actions

    async def create_repository(self, principal: Principal, repo: RepoName) -> None:
        """Create a repository for a push by ``principal`` (its creator)."""

        async def created(session: AsyncSession, row: RepoRow) -> None:
            await repository_created(session, row.id, principal)

        async with self.db.write() as s:
            await create_repository(
                s,
                repo,
                is_public=not self.create_private,
                create_namespace=principal.is_superuser
                or self.create_namespace_on_push
                or self.policy.open_registry,
                namespace_expiration_s=self.default_tag_expiration_s,
                on_create=created,
            )

    def catalog_scope(self, principal: Principal, *, public: bool) -> CatalogScope:
        """The repositories ``principal`` sees in /v2/_catalog."""
        if principal.is_superuser or principal.readonly_superuser or self.policy.open_registry:
            return CatalogScope(visible=live_repositories())
        visible = None if principal.is_anonymous else visible_repositories(principal.subject)
        return CatalogScope(public=public, visible=visible)

    # ---- token endpoint ----------------------------------------------------------------
    def parse_scopes(self, scopes: list[str]) -> list[ScopeRequest]:
        out = []
        for scope in scopes:
            for part in scope.split(" "):
                if not part:
                    continue
                if part == "registry:catalog:*" and self.allow_catalog_scope:
                    continue  # the catalog is filtered by identity; nothing to grant
                m = _SCOPE_RE.match(part)
                if not m:
                    raise InvalidScope(part)
                raw = m.group("name")
                name = raw
                if name.startswith(self.server_hostname + "/"):
                    name = name[len(self.server_hostname) + 1 :]
                try:
                    repo = parse_repo_name(name, library=self.library)
                except NameInvalid as e:
                    raise InvalidScope(part) from e
                actions = frozenset(m.group("actions").split(","))
                if "delete" in actions:  # distribution's spelling of Quay's "*"
                    actions = (actions - {"delete"}) | {"*"}
                out.append(ScopeRequest(raw, repo, actions & ALL_ACTIONS))
        return out

    async def issue_token(
        self, principal: Principal, *, service: str | None, scopes: list[ScopeRequest]
    ) -> str:
        access = []
        for req in scopes:
            decision = await self.decide(principal, req.repo, req.actions)
            if decision.create:
                await self.create_repository(principal, req.repo)
                # Now its admin: pull (and delete) as well, as Quay grants in one token.
                decision = await self.decide(principal, req.repo, req.actions)
            prefix = self.server_hostname + "/"
            access.append(
                {
                    "type": "repository",
                    # A scope given with the server's hostname is echoed so (as Quay does);
                    # the registry strips the prefix again when it reads the token.
                    "name": prefix + req.repo.full
                    if req.raw_name.startswith(prefix)
                    else req.repo.full,
                    "actions": sorted(decision.actions),
                }
            )
        context: dict[str, object] = {
            "version": 2,
            "entity_kind": principal.kind if not principal.is_anonymous else "anonymous",
            "entity_reference": principal.name,
            "superuser": principal.is_superuser,
        }
        if principal.readonly_superuser:
            context["readonly_superuser"] = True
        return self.keyring.issue(
            principal.subject,
            access,
            audience=service or self.server_hostname,
            ttl_s=self.token_ttl_s,
            context=context,
        )
