"""Accounts that come from an identity provider (LDAP today; OpenID Connect later).

A provider's user is bound to a Berth user by a ``FederatedLogin`` row (the service and the
provider's identifier). On first sign-in the user is created, without a password, with the
provider's e-mail address; a Berth user of the same name that no provider claims yet is
bound instead (with AUTHENTICATION_TYPE: LDAP the directory is the authority on who a name
is). A name taken by an organization is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.accounts import insert_user
from berth.identity.errors import InvalidUsername, NamespaceTaken
from berth.identity.models import FederatedLogin, User
from berth.namespaces.models import Namespace
from berth.oci.names import is_valid_namespace


@dataclass(frozen=True)
class LinkedUser:
    id: int
    username: str
    email: str | None
    enabled: bool
    superuser_flag: bool
    created: bool
    readonly_superuser_flag: bool = False


@dataclass(frozen=True)
class ExternalLogin:
    service: str  # "ldap" or an OIDC login service's id
    ident: str  # the provider's identifier of the user (LDAP uid, OIDC sub)
    metadata: dict[str, Any]
    created_at: int  # ms


class FederatedAccounts:
    def __init__(self, db: Database, *, default_tag_expiration_s: int = 1209600) -> None:
        self.db = db
        self.default_tag_expiration_s = default_tag_expiration_s

    async def find(self, service: str, ident: str) -> LinkedUser | None:
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(User)
                    .join(FederatedLogin, FederatedLogin.user_id == User.id)
                    .where(FederatedLogin.service == service, FederatedLogin.service_ident == ident)
                )
            ).scalar()
            return None if row is None else _linked(row, created=False)

    async def link(
        self,
        service: str,
        ident: str,
        username: str,
        *,
        email: str | None,
        superuser: bool | None = None,
        readonly_superuser: bool | None = None,
        metadata: dict[str, Any] | None = None,
        ip: str | None = None,
        bind_existing: bool = True,
    ) -> LinkedUser:
        """The Berth user of the provider's account ``ident``, created or bound now if there
        is none. ``superuser``: the provider's verdict (its superuser filter), stored on the
        user; None leaves the stored flag alone; ``readonly_superuser`` likewise (its global
        read-only superuser filter). Creation is logged as ``user_create``.
        ``bind_existing`` (LDAP): a Berth user named ``username`` that the provider does not
        claim yet becomes this account; without it (OpenID Connect) a new user is created
        under the first free name ``username``, ``username1``, ``username2`` ..."""
        async with self.db.write() as s:
            user = (
                await s.execute(
                    select(User)
                    .join(FederatedLogin, FederatedLogin.user_id == User.id)
                    .where(FederatedLogin.service == service, FederatedLogin.service_ident == ident)
                )
            ).scalar()
            created = False
            if user is None and not bind_existing:
                username = await _free_name(s, username)
            if user is None:
                if not is_valid_namespace(username):
                    raise InvalidUsername(username)
                user = (
                    await s.execute(
                        select(User).where(User.username == username, User.kind == "user")
                    )
                ).scalar()
                if user is not None:
                    claimed = (
                        await s.execute(
                            select(FederatedLogin.id).where(
                                FederatedLogin.user_id == user.id, FederatedLogin.service == service
                            )
                        )
                    ).scalar()
                    if claimed is not None:  # another account of the provider has this name
                        raise NamespaceTaken(username)
                else:
                    user = await insert_user(
                        s, username, email, None, bool(superuser), self.default_tag_expiration_s
                    )
                    created = True
                    record(
                        s, "user_create", username, Performer(username, user.id, ip),
                        metadata={"username": username, "service": service},
                        namespace_id=user.namespace_id,
                    )  # fmt: skip
                s.add(
                    FederatedLogin(
                        user_id=user.id,
                        service=service,
                        service_ident=ident,
                        metadata_json=metadata or {},
                        created_at=now_ms(),
                    )
                )
            if superuser is not None and user.superuser != superuser:
                user.superuser = superuser
            if readonly_superuser is not None and user.readonly_superuser != readonly_superuser:
                user.readonly_superuser = readonly_superuser
            if email and not user.email:
                user.email = email
            await s.flush()
            return _linked(user, created=created)

    async def logins_of(self, user_id: int) -> list[ExternalLogin]:
        """The provider accounts bound to ``user_id``, oldest first."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(FederatedLogin)
                    .where(FederatedLogin.user_id == user_id)
                    .order_by(FederatedLogin.id)
                )
            ).scalars()
            return [
                ExternalLogin(r.service, r.service_ident, dict(r.metadata_json or {}), r.created_at)
                for r in rows
            ]

    async def services_of(self, user_id: int) -> dict[str, str]:
        """The providers ``user_id`` is bound to: service -> the provider's identifier."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(FederatedLogin.service, FederatedLogin.service_ident).where(
                        FederatedLogin.user_id == user_id
                    )
                )
            ).all()
        return {r.service: r.service_ident for r in rows}


async def _free_name(s: Any, wanted: str) -> str:
    for n in range(1000):
        name = wanted if n == 0 else f"{wanted}{n}"
        if (await s.execute(select(Namespace.id).where(Namespace.name == name))).scalar() is None:
            return name
    raise NamespaceTaken(wanted)


def _linked(user: User, *, created: bool) -> LinkedUser:
    return LinkedUser(
        user.id,
        user.username,
        user.email,
        bool(user.enabled),
        bool(user.superuser),
        created,
        bool(user.readonly_superuser),
    )
