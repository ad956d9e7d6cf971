"""Registry logins with OAuth tokens and app-specific tokens (``$oauthtoken``, ``$app``).

The token's scopes cap the user's roles, as in Quay: ``repo:read`` pulls, ``repo:write``
pushes, ``repo:admin`` deletes, ``repo:create`` creates repositories; superuser powers need
``super:user``. An app-specific token acts with the user's full roles.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cryptography.fernet import Fernet
from sqlalchemy import select

from berth.auth.errors import InvalidCredentials
from berth.authz import Principal, repo_role_cap
from berth.db.session import Database
from berth.identity.models import User
from berth.oauth.services import (
    APP_TOKEN_USERNAME,
    OAUTHTOKEN_USERNAME,
    validate_app_password,
    validate_oauthtoken_password,
)

SpecialLogin = Callable[[str], Awaitable[Principal]]


async def _superuser(
    db: Database, user_id: int, super_users: frozenset[str], readonly: frozenset[str]
) -> tuple[bool, bool]:
    """(superuser, global read-only superuser): the stored flags or the configured lists."""
    async with db.read() as s:
        row = (
            await s.execute(
                select(User.username, User.superuser, User.readonly_superuser).where(
                    User.id == user_id
                )
            )
        ).first()
    if row is None:
        return False, False
    return (
        bool(row.superuser or row.username in super_users),
        bool(row.readonly_superuser or row.username in readonly),
    )


def registry_logins(
    db: Database,
    fernet: Fernet,
    super_users: frozenset[str],
    readonly_super_users: frozenset[str] = frozenset(),
) -> dict[str, SpecialLogin]:
    async def oauth(password: str) -> Principal:
        grant = await validate_oauthtoken_password(db, OAUTHTOKEN_USERNAME, password)
        if grant is None:
            raise InvalidCredentials("Invalid OAuth access token")
        superuser, readonly = await _superuser(db, grant.user_id, super_users, readonly_super_users)
        return Principal(
            kind="user",
            name=grant.username,
            user_id=grant.user_id,
            is_superuser="super:user" in grant.scopes and superuser,
            readonly_superuser="super:user" in grant.scopes and readonly,
            role_cap=repo_role_cap(grant.scopes),
            may_create_repos="repo:create" in grant.scopes,
        )

    async def app_token(password: str) -> Principal:
        grant = await validate_app_password(db, fernet, APP_TOKEN_USERNAME, password)
        if grant is None:
            raise InvalidCredentials("Invalid app-specific token")
        superuser, readonly = await _superuser(db, grant.user_id, super_users, readonly_super_users)
        return Principal(
            kind="user",
            name=grant.username,
            user_id=grant.user_id,
            is_superuser=superuser,
            readonly_superuser=readonly,
        )

    return {OAUTHTOKEN_USERNAME: oauth, APP_TOKEN_USERNAME: app_token}
