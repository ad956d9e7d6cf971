"""OAuth applications and tokens, app-specific tokens, and the password validators for /v2.

Token formats (Quay's):
* OAuth access token: 40 characters of ``[A-Za-z0-9]``; the first 20 find the row, the
  other 20 are compared against a stored SHA-256 (they carry ~119 bits: a fast hash is
  enough, and the check stays cheap on every API call).
* App-specific token code: 120 characters; the first 60 find the row, the rest is the
  secret (stored encrypted so the owner can see it again).

Scopes cap roles (see ``SCOPES``); a scope string with any unknown name is treated as
granting nothing, as Quay does.

Application and app-specific token changes the API makes are usage-logged in their
transaction when the caller says who acts (``performer``); set-up code passes nobody.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import uuid as uuidlib
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.models import User
from berth.namespaces.models import Namespace
from berth.oauth.errors import ApplicationNotFound, AppTokenNotFound, InvalidScopes
from berth.oauth.models import (
    AppSpecificToken,
    OAuthAccessToken,
    OAuthApplication,
    OAuthAssignedToken,
)

SCOPES: dict[str, str] = {
    "repo:read": "View all visible repositories",
    "repo:write": "Read/Write to any accessible repositories",
    "repo:admin": "Administer Repositories",
    "repo:create": "Create Repositories",
    "user:read": "Read User Information",
    "user:admin": "Administer User",
    "org:admin": "Administer Organization",
    "super:user": "Super User Access",
}
ALL_SCOPES = frozenset(SCOPES)
_IMPLIED = {
    "repo:admin": {"repo:write", "repo:read"},
    "repo:write": {"repo:read"},
    "user:admin": {"user:read"},
}
_ALPHANUM = string.ascii_letters + string.digits
ACCESS_TOKEN_LENGTH = 40
APP_TOKEN_LENGTH = 120
OAUTHTOKEN_USERNAME = "$oauthtoken"
APP_TOKEN_USERNAME = "$app"  # noqa: S105 (a username)


def random_code(length: int, alphabet: str = _ALPHANUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def parse_scopes(scope: str | None) -> frozenset[str]:
    """Split on spaces or commas; any unknown name makes the whole set empty."""
    names = frozenset(p for p in re.split(r"[\s,]+", scope or "") if p)
    if not names or not names <= ALL_SCOPES:
        return frozenset()
    return names


def validate_scope_string(scope: str) -> frozenset[str]:
    names = parse_scopes(scope)
    if not names:
        raise InvalidScopes(scope)
    return names


def expand_scopes(scopes: frozenset[str]) -> frozenset[str]:
    """The scopes with their implications (repo:admin ⊃ repo:write ⊃ repo:read)."""
    out = set(scopes)
    for s in scopes:
        out |= _IMPLIED.get(s, set())
    return frozenset(out)


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Application:
    id: int
    namespace: str
    name: str
    client_id: str
    client_secret: str
    redirect_uri: str
    application_uri: str
    description: str
    avatar_email: str | None


@dataclass(frozen=True)
class Grant:
    """What a valid OAuth token stands for: a user and the scopes capping its roles."""

    user_id: int
    username: str
    scopes: frozenset[str]
    client_id: str
    token_uuid: str
    expires_at: int | None  # epoch ms


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    uuid: str
    expires_at: int | None


@dataclass(frozen=True)
class AppToken:
    uuid: str
    title: str
    created_at: int
    expires_at: int | None
    last_accessed: int | None
    token_code: str | None = None


@dataclass(frozen=True)
class AppTokenGrant:
    user_id: int
    username: str
    token_uuid: str


def _app(row: OAuthApplication, namespace: str) -> Application:
    return Application(
        row.id,
        namespace,
        row.name,
        row.client_id,
        row.client_secret,
        row.redirect_uri,
        row.application_uri,
        row.description,
        row.avatar_email,
    )


@dataclass(frozen=True)
class AssignedToken:
    """A token an organization admin assigned to a user, waiting for the user."""

    uuid: str
    application: Application
    user_id: int
    redirect_uri: str
    scope: str
    response_type: str


def _client_secret() -> str:
    return random_code(40, string.ascii_uppercase + string.digits)


async def _application_row(s: AsyncSession, client_id: str) -> tuple[OAuthApplication, str]:
    found = (
        await s.execute(
            select(OAuthApplication, Namespace.name)
            .join(Namespace, Namespace.id == OAuthApplication.namespace_id)
            .where(OAuthApplication.client_id == client_id)
        )
    ).first()
    if found is None:
        raise ApplicationNotFound(client_id)
    return found[0], found[1]


@dataclass(frozen=True)
class AuthorizedGrant:
    """An access token a user granted an application (the account's "authorized
    applications")."""

    uuid: str
    application: str
    namespace: str
    scopes: tuple[str, ...]
    created_at: int
    expires_at: int | None


class OAuthService:
    def __init__(self, db: Database, fernet: Fernet) -> None:
        self.db = db
        self.fernet = fernet

    # ---- applications ------------------------------------------------------------------
    async def create_application(
        self,
        namespace: str,
        name: str,
        *,
        client_id: str | None = None,
        redirect_uri: str = "",
        application_uri: str = "",
        description: str = "",
        avatar_email: str | None = None,
        performer: Performer | None = None,
    ) -> Application:
        async with self.db.write() as s:
            ns_id = (
                await s.execute(select(Namespace.id).where(Namespace.name == namespace))
            ).scalar()
            if ns_id is None:
                raise LookupError(namespace)
            row = OAuthApplication(
                namespace_id=ns_id,
                name=name,
                client_id=client_id or random_code(20, string.ascii_uppercase + string.digits),
                client_secret=_client_secret(),
                redirect_uri=redirect_uri,
                application_uri=application_uri,
                description=description,
                avatar_email=avatar_email,
                created_at=now_ms(),
            )
            s.add(row)
            await s.flush()
            app = _app(row, namespace)
            _log_app(s, "create_application", app, ns_id, performer, with_details=True)
            return app

    async def get_application(self, client_id: str) -> Application:
        async with self.db.read() as s:
            return _app(*await _application_row(s, client_id))

    # ---- FEATURE_ASSIGN_OAUTH_TOKEN ------------------------------------------------------
    async def assign_token(
        self, app: Application, user_id: int, *, redirect_uri: str, scope: str, response_type: str
    ) -> AssignedToken:
        assigned = AssignedToken(
            str(uuidlib.uuid4()), app, user_id, redirect_uri, scope, response_type
        )
        async with self.db.write() as s:
            s.add(
                OAuthAssignedToken(
                    uuid=assigned.uuid,
                    application_id=app.id,
                    user_id=user_id,
                    redirect_uri=redirect_uri,
                    scope=scope,
                    response_type=response_type,
                )
            )
        return assigned

    async def assigned_tokens(self, user_id: int) -> list[AssignedToken]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(OAuthAssignedToken, OAuthApplication, Namespace.name)
                    .join(
                        OAuthApplication, OAuthApplication.id == OAuthAssignedToken.application_id
                    )
                    .join(Namespace, Namespace.id == OAuthApplication.namespace_id)
                    .where(OAuthAssignedToken.user_id == user_id)
                    .order_by(OAuthAssignedToken.id)
                )
            ).all()
        return [
            AssignedToken(t.uuid, _app(a, ns), t.user_id, t.redirect_uri, t.scope, t.response_type)
            for t, a, ns in rows
        ]

    async def delete_assigned_token(self, user_id: int, assignment_uuid: str) -> bool:
        async with self.db.write() as s:
            result = await s.execute(
                delete(OAuthAssignedToken).where(
                    OAuthAssignedToken.uuid == assignment_uuid,
                    OAuthAssignedToken.user_id == user_id,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def list_applications(self, namespace: str) -> list[Application]:
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(OAuthApplication)
                    .join(Namespace, Namespace.id == OAuthApplication.namespace_id)
                    .where(Namespace.name == namespace)
                    .order_by(OAuthApplication.id)
                )
            ).scalars()
            return [_app(r, namespace) for r in rows]

    async def update_application(
        self,
        client_id: str,
        *,
        name: str,
        redirect_uri: str,
        application_uri: str,
        description: str = "",
        avatar_email: str | None = None,
        performer: Performer | None = None,
    ) -> Application:
        """Replace the application's details (its client id and secret stay)."""
        async with self.db.write() as s:
            row, namespace = await _application_row(s, client_id)
            row.name = name
            row.redirect_uri = redirect_uri
            row.application_uri = application_uri
            row.description = description
            row.avatar_email = avatar_email
            app = _app(row, namespace)
            _log_app(s, "update_application", app, row.namespace_id, performer, with_details=True)
            return app

    async def reset_client_secret(
        self, client_id: str, *, performer: Performer | None = None
    ) -> Application:
        """A new client secret; the old one stops working."""
        async with self.db.write() as s:
            row, namespace = await _application_row(s, client_id)
            row.client_secret = _client_secret()
            app = _app(row, namespace)
            _log_app(s, "reset_application_client_secret", app, row.namespace_id, performer)
            return app

    async def delete_application(
        self, client_id: str, *, performer: Performer | None = None
    ) -> None:
        async with self.db.write() as s:
            row, namespace = await _application_row(s, client_id)
            _log_app(s, "delete_application", _app(row, namespace), row.namespace_id, performer)
            await s.delete(row)

    # ---- access tokens -----------------------------------------------------------------
    async def issue_token(
        self,
        app: Application,
        user_id: int,
        scopes: frozenset[str],
        expires_in_s: int | None,
        *,
        name: str = "",
    ) -> IssuedToken:
        token = random_code(ACCESS_TOKEN_LENGTH)
        expires = now_ms() + expires_in_s * 1000 if expires_in_s is not None else None
        row = OAuthAccessToken(
            uuid=str(uuidlib.uuid4()),
            application_id=app.id,
            user_id=user_id,
            name=name,
            token_name=token[:20],
            token_code_hash=_sha(token[20:]),
            scope=" ".join(sorted(scopes)),
            expires_at=expires,
            created_at=now_ms(),
        )
        async with self.db.write() as s:
            s.add(row)
        return IssuedToken(token, row.uuid, expires)

    async def validate_token(self, token: str) -> Grant | None:
        """The grant behind a bearer token, or None (unknown, expired, disabled user)."""
        return await validate_access_token(self.db, token)

    async def revoke_token(self, token_uuid: str) -> bool:
        async with self.db.write() as s:
            row = (
                await s.execute(select(OAuthAccessToken).where(OAuthAccessToken.uuid == token_uuid))
            ).scalar()
            if row is None:
                return False
            await s.delete(row)
            return True

    async def user_grants(self, user_id: int) -> list[AuthorizedGrant]:
        """The user's unexpired access tokens with their applications, newest first."""
        stmt = (
            select(OAuthAccessToken, OAuthApplication.name, Namespace.name)
            .join(OAuthApplication, OAuthApplication.id == OAuthAccessToken.application_id)
            .join(Namespace, Namespace.id == OAuthApplication.namespace_id)
            .where(OAuthAccessToken.user_id == user_id)
            .order_by(OAuthAccessToken.created_at.desc(), OAuthAccessToken.id.desc())
        )
        now = now_ms()
        async with self.db.read() as s:
            return [
                AuthorizedGrant(t.uuid, app, ns, tuple(t.scope.split()), t.created_at, t.expires_at)
                for t, app, ns in (await s.execute(stmt)).all()
                if t.expires_at is None or t.expires_at > now
            ]

    async def revoke_user_grant(self, user_id: int, token_uuid: str) -> bool:
        """Revoke one of the user's access tokens (False: not the user's, or unknown)."""
        async with self.db.write() as s:
            row = (
                await s.execute(
                    select(OAuthAccessToken).where(
                        OAuthAccessToken.uuid == token_uuid, OAuthAccessToken.user_id == user_id
                    )
                )
            ).scalar()
            if row is None:
                return False
            await s.delete(row)
            return True

    # ---- app-specific tokens -----------------------------------------------------------
    async def create_app_token(
        self,
        user_id: int,
        title: str,
        *,
        expires_in_s: int | None = None,
        performer: Performer | None = None,
    ) -> AppToken:
        code = random_code(APP_TOKEN_LENGTH)
        now = now_ms()
        row = AppSpecificToken(
            uuid=str(uuidlib.uuid4()),
            user_id=user_id,
            title=title,
            token_name=code[:60],
            token_secret=self.fernet.encrypt(code[60:].encode()),
            created_at=now,
            expires_at=now + expires_in_s * 1000 if expires_in_s else None,
        )
        async with self.db.write() as s:
            s.add(row)
            await _log_app_token(
                s, "create_app_specific_token", user_id, title, row.uuid, performer
            )
        return AppToken(row.uuid, title, now, row.expires_at, None, code)

    def _code(self, row: AppSpecificToken) -> str:
        return row.token_name + self.fernet.decrypt(row.token_secret).decode()

    async def list_app_tokens(
        self, user_id: int, *, expiring_within_s: int | None = None
    ) -> list[AppToken]:
        async with self.db.read() as s:
            q = select(AppSpecificToken).where(AppSpecificToken.user_id == user_id)
            if expiring_within_s is not None:
                q = q.where(
                    AppSpecificToken.expires_at.is_not(None),
                    AppSpecificToken.expires_at <= now_ms() + expiring_within_s * 1000,
                )
            rows = (await s.execute(q.order_by(AppSpecificToken.id))).scalars().all()
        return [
            AppToken(r.uuid, r.title, r.created_at, r.expires_at, r.last_accessed) for r in rows
        ]

    async def list_all_app_tokens(
        self, *, expiring_within_s: int | None = None
    ) -> list[tuple[AppToken, str]]:
        """Every user's app-specific tokens with their owner's name (the superuser's
        ``GET /superuser/apptokens``), oldest first; never their codes."""
        async with self.db.read() as s:
            q = select(AppSpecificToken, User.username).join(
                User, User.id == AppSpecificToken.user_id
            )
            if expiring_within_s is not None:
                q = q.where(
                    AppSpecificToken.expires_at.is_not(None),
                    AppSpecificToken.expires_at <= now_ms() + expiring_within_s * 1000,
                )
            rows = (await s.execute(q.order_by(AppSpecificToken.id))).all()
        return [
            (AppToken(r.uuid, r.title, r.created_at, r.expires_at, r.last_accessed), name)
            for r, name in rows
        ]

    async def get_app_token(self, user_id: int, token_uuid: str) -> AppToken:
        async with self.db.read() as s:
            r = (
                await s.execute(
                    select(AppSpecificToken).where(
                        AppSpecificToken.uuid == token_uuid, AppSpecificToken.user_id == user_id
                    )
                )
            ).scalar()
        if r is None:
            raise AppTokenNotFound(token_uuid)
        return AppToken(r.uuid, r.title, r.created_at, r.expires_at, r.last_accessed, self._code(r))

    async def revoke_app_token(
        self, user_id: int, token_uuid: str, *, performer: Performer | None = None
    ) -> AppToken:
        async with self.db.write() as s:
            r = (
                await s.execute(
                    select(AppSpecificToken).where(
                        AppSpecificToken.uuid == token_uuid, AppSpecificToken.user_id == user_id
                    )
                )
            ).scalar()
            if r is None:
                raise AppTokenNotFound(token_uuid)
            out = AppToken(r.uuid, r.title, r.created_at, r.expires_at, r.last_accessed)
            await s.delete(r)
            await _log_app_token(
                s, "revoke_app_specific_token", user_id, r.title, r.uuid, performer
            )
            return out


def _log_app(
    s: AsyncSession,
    kind: str,
    app: Application,
    namespace_id: int,
    performer: Performer | None,
    *,
    with_details: bool = False,
) -> None:
    """An application's usage-log entry in its organization (Quay: the details given, then
    ``application_name`` and ``client_id``). Without a performer (set-up code, not the API)
    nothing is logged."""
    if performer is None:
        return
    details = (
        {
            "name": app.name,
            "redirect_uri": app.redirect_uri,
            "application_uri": app.application_uri,
            "description": app.description,
            "avatar_email": app.avatar_email,
        }
        if with_details
        else {}
    )
    meta = {**details, "application_name": app.name, "client_id": app.client_id}
    record(s, kind, app.namespace, performer, metadata=meta, namespace_id=namespace_id)


async def _log_app_token(
    s: AsyncSession,
    kind: str,
    user_id: int,
    title: str,
    token_uuid: str,
    performer: Performer | None,
) -> None:
    """An app-specific token's entry, in its user's namespace (none without a performer)."""
    if performer is None:
        return
    owner = (
        await s.execute(select(User.username, User.namespace_id).where(User.id == user_id))
    ).first()
    record(
        s, kind, owner.username if owner else None, performer,
        metadata={"app_specific_token_title": title, "app_specific_token": token_uuid},
        namespace_id=owner.namespace_id if owner else None,
    )  # fmt: skip


# ---- validators (plain functions: /v2 login wires them into Basic auth) -------------------


async def validate_access_token(db: Database, token: str) -> Grant | None:
    if len(token) != ACCESS_TOKEN_LENGTH or not token.isalnum():
        return None
    async with db.read() as s:
        found = (
            await s.execute(
                select(
                    OAuthAccessToken.id,
                    OAuthAccessToken.uuid,
                    OAuthAccessToken.token_code_hash,
                    OAuthAccessToken.scope,
                    OAuthAccessToken.expires_at,
                    OAuthAccessToken.last_accessed,
                    User.id.label("user_id"),
                    User.username,
                    User.enabled,
                    OAuthApplication.client_id,
                )
                .join(User, User.id == OAuthAccessToken.user_id)
                .join(OAuthApplication, OAuthApplication.id == OAuthAccessToken.application_id)
                .where(OAuthAccessToken.token_name == token[:20])
            )
        ).first()
    if found is None or not hmac.compare_digest(found.token_code_hash, _sha(token[20:])):
        return None
    now = now_ms()
    if found.expires_at is not None and found.expires_at <= now:
        return None
    if not found.enabled:
        return None
    if found.last_accessed is None or now - found.last_accessed > 60_000:
        async with db.write() as s:
            await s.execute(
                update(OAuthAccessToken)
                .where(OAuthAccessToken.id == found.id)
                .values(last_accessed=now)
            )
    return Grant(
        found.user_id,
        found.username,
        parse_scopes(found.scope),
        found.client_id,
        found.uuid,
        found.expires_at,
    )


async def validate_oauthtoken_password(db: Database, username: str, password: str) -> Grant | None:
    """``docker login -u '$oauthtoken' -p <OAuth token>``: the grant, or None."""
    if username != OAUTHTOKEN_USERNAME:
        return None
    return await validate_access_token(db, password)


async def validate_app_password(
    db: Database, fernet: Fernet, username: str, password: str
) -> AppTokenGrant | None:
    """``docker login -u '$app' -p <app-specific token code>``: the owner, or None."""
    if username != APP_TOKEN_USERNAME or len(password) != APP_TOKEN_LENGTH:
        return None
    async with db.read() as s:
        found = (
            await s.execute(
                select(AppSpecificToken, User.username, User.enabled)
                .join(User, User.id == AppSpecificToken.user_id)
                .where(AppSpecificToken.token_name == password[:60])
            )
        ).first()
    if found is None:
        return None
    row, name, enabled = found
    try:
        secret = fernet.decrypt(row.token_secret).decode()
    except InvalidToken:
        return None
    if not hmac.compare_digest(secret, password[60:]) or not enabled:
        return None
    now = now_ms()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    async with db.write() as s:
        await s.execute(
            update(AppSpecificToken).where(AppSpecificToken.id == row.id).values(last_accessed=now)
        )
    return AppTokenGrant(row.user_id, name, row.uuid)
