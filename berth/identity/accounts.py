"""Creating and looking up user accounts (enough for the registry core; see issue 3).

The account changes the API makes are usage-logged here, in their transaction, when the
caller says who acts (``performer``): Quay's ``user_*`` and ``login_*`` kinds, the target
user's name as the namespace. Bootstrap paths (first user, the CLI, sign-up) pass nobody.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.errors import InvalidPassword, InvalidUsername, NamespaceTaken
from berth.identity.models import User
from berth.identity.orgs import mark_namespace_deleted
from berth.identity.passwords import hash_password
from berth.namespaces.models import Namespace
from berth.oci.names import is_valid_namespace

MIN_PASSWORD = 8


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    email: str | None
    superuser: bool


class AccountService:
    def __init__(
        self,
        db: Database,
        *,
        default_tag_expiration_s: int = 1209600,
        audit_logins: bool = True,
        audit_login_failures: bool = False,
    ) -> None:
        """``audit_logins`` / ``audit_login_failures``: Quay's ACTION_LOG_AUDIT_LOGINS and
        ACTION_LOG_AUDIT_LOGIN_FAILURES (log sign-ins, and refused ones)."""
        self.db = db
        self.default_tag_expiration_s = default_tag_expiration_s
        self.audit_logins = audit_logins
        self.audit_login_failures = audit_login_failures

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        email: str | None = None,
        superuser: bool = False,
        performer: Performer | None = None,
    ) -> UserInfo:
        if not is_valid_namespace(username):
            raise InvalidUsername(username)
        if len(password) < MIN_PASSWORD:
            raise InvalidPassword(f"the password must have at least {MIN_PASSWORD} characters")
        password_hash = hash_password(password)  # slow: outside the transaction
        async with self.db.write() as s:
            user = await insert_user(
                s, username, email, password_hash, superuser, self.default_tag_expiration_s
            )
            if performer is not None:
                record(
                    s, "user_create", username, performer, metadata={"username": username},
                    namespace_id=user.namespace_id,
                )  # fmt: skip
            return UserInfo(user.id, username, email, superuser)

    async def count_users(self) -> int:
        async with self.db.read() as s:
            return int((await s.execute(select(func.count()).select_from(User))).scalar_one())

    # ---- user records for /api/v1 (issue 3, part B) ----------------------------------------
    async def get_user(self, username: str) -> UserRecord | None:
        async with self.db.read() as s:
            row = (await s.execute(_record_query().where(User.username == username))).first()
        return _record(row) if row else None

    async def get_user_by_id(self, user_id: int) -> UserRecord | None:
        async with self.db.read() as s:
            row = (await s.execute(_record_query().where(User.id == user_id))).first()
        return _record(row) if row else None

    async def list_users(
        self, *, include_disabled: bool = True, after_id: int = 0, limit: int | None = None
    ) -> list[UserRecord]:
        """Human users (no robots), by id."""
        q = _record_query().where(User.kind == "user", User.id > after_id)
        if not include_disabled:
            q = q.where(User.enabled.is_(True))
        q = q.order_by(User.id)
        if limit is not None:
            q = q.limit(limit)
        async with self.db.read() as s:
            return [_record(r) for r in (await s.execute(q)).all()]

    async def instance_is_empty(self) -> bool:
        """No user, robot or organization exists yet (``user/initialize`` only then)."""
        async with self.db.read() as s:
            users = (await s.execute(select(User.id).limit(1))).scalar()
            spaces = (await s.execute(select(Namespace.id).limit(1))).scalar()
        return users is None and spaces is None

    async def session_uuid(
        self, user_id: int, *, login: dict[str, Any] | None = None, ip: str | None = None
    ) -> str:
        """The user's current session generation (created on first sign-in). ``login``: a
        sign-in's metadata, logged as ``login_success`` in the same transaction."""
        async with self.db.write() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise LookupError(user_id)
            if not user.session_uuid:
                user.session_uuid = str(uuid.uuid4())
            if login is not None and self.audit_logins:
                record(
                    s, "login_success", user.username, Performer(user.username, user.id, ip),
                    metadata=login, namespace_id=user.namespace_id,
                )  # fmt: skip
            return user.session_uuid

    async def sign_in_failed(
        self, username: str, message: str, metadata: dict[str, Any], performer: Performer
    ) -> None:
        """Log a refused sign-in (``login_failure``; in the user's namespace if it is one),
        when ACTION_LOG_AUDIT_LOGIN_FAILURES asks."""
        if not self.audit_login_failures:
            return
        async with self.db.write() as s:
            user = (
                await s.execute(
                    select(User.kind, User.namespace_id).where(User.username == username)
                )
            ).first()
            known = user is not None and user.kind == "user"
            record(
                s, "login_failure", username if known else None, performer,
                metadata={**metadata, "username": username, "message": message},
                namespace_id=user.namespace_id if known and user else None,
            )  # fmt: skip

    async def end_sessions(self, user_id: int) -> None:
        """Sign-out: every browser session of the user stops working."""
        async with self.db.write() as s:
            await s.execute(
                update(User).where(User.id == user_id).values(session_uuid=str(uuid.uuid4()))
            )

    async def update_user(
        self,
        user_id: int,
        *,
        email: str | None = None,
        password: str | None = None,
        enabled: bool | None = None,
        superuser: bool | None = None,
        tag_expiration_s: int | None = None,
        performer: Performer | None = None,
    ) -> UserRecord:
        """Change what is given; with a ``performer`` each change is logged (Quay's
        ``user_enable``/``user_disable``, ``user_change_password``, ``user_change_email``,
        ``user_change_tag_expiration``)."""
        values: dict[str, object] = {}
        if superuser is not None:
            values["superuser"] = superuser
        if password is not None:
            check_password_rules(password)
            values["password_hash"] = hash_password(password)
            values["session_uuid"] = str(uuid.uuid4())  # every session signed in before ends
            values["invalid_login_attempts"] = 0  # a new password ends a login back-off
        if email is not None:
            values["email"] = email
        if enabled is not None:
            values["enabled"] = enabled
        async with self.db.write() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise LookupError(user_id)
            for key, value in values.items():
                setattr(user, key, value)
            ns_values: dict[str, object] = {}
            if enabled is not None:
                ns_values["enabled"] = enabled
            if tag_expiration_s is not None:
                ns_values["tag_expiration_s"] = tag_expiration_s
            if ns_values and user.namespace_id is not None:
                await s.execute(
                    update(Namespace).where(Namespace.id == user.namespace_id).values(**ns_values)
                )
            if performer is not None:
                changes: list[tuple[str, dict[str, Any]]] = []
                if enabled is not None:
                    changes.append(("user_enable" if enabled else "user_disable", {}))
                if password is not None:
                    changes.append(("user_change_password", {}))
                if email is not None:
                    changes.append(("user_change_email", {}))
                if tag_expiration_s is not None:
                    changes.append(
                        ("user_change_tag_expiration", {"tag_expiration": tag_expiration_s})
                    )
                for kind, more in changes:
                    record(
                        s, kind, user.username, performer,
                        metadata={"username": user.username, **more},
                        namespace_id=user.namespace_id,
                    )  # fmt: skip
        updated = await self.get_user_by_id(user_id)
        assert updated is not None
        return updated

    async def mark_user_for_deletion(
        self, username: str, *, performer: Performer | None = None
    ) -> int | None:
        """Disable and rename the user and its namespace, and queue the namespace cleanup.

        The name is free again at once (as in Quay); the ``delete_namespace`` job removes
        the rest. Returns the namespace id, None when there is no such user. With a
        ``performer`` (a superuser) it is logged as ``user_delete``.
        """
        async with self.db.write() as s:
            user = (await s.execute(select(User).where(User.username == username))).scalar()
            if user is None:
                return None
            user.username = f"deleted~{uuid.uuid4().hex}"
            user.enabled = False
            user.session_uuid = str(uuid.uuid4())
            ns_id = user.namespace_id
            ns = await s.get(Namespace, ns_id) if ns_id is not None else None
            if ns is not None:
                # renames it and its repositories, queues ``delete_namespace``
                await mark_namespace_deleted(s, ns)
            if performer is not None:
                record(
                    s, "user_delete", username, performer, metadata={"username": username},
                    namespace_id=ns_id,
                )  # fmt: skip
            return ns_id


@dataclass(frozen=True)
class UserRecord:
    """A user as /api/v1 shows it."""

    id: int
    username: str
    email: str | None
    kind: str  # "user" | "robot"
    enabled: bool
    superuser_flag: bool  # the stored flag; SUPER_USERS is the other source
    has_password: bool
    namespace_id: int | None
    tag_expiration_s: int | None
    created_at: int
    last_accessed: int | None
    session_uuid: str | None
    # the stored global read-only superuser flag; GLOBAL_READONLY_SUPER_USERS is the other
    # source
    readonly_superuser_flag: bool = False


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidPassword(f"the password must have at least {MIN_PASSWORD} characters")
    if any(c.isspace() for c in password):
        raise InvalidPassword("the password must not contain whitespace")


def _record_query() -> Select[*tuple[Any, ...]]:
    return select(
        User.id,
        User.username,
        User.email,
        User.kind,
        User.enabled,
        User.superuser,
        User.password_hash,
        User.namespace_id,
        Namespace.tag_expiration_s,
        User.created_at,
        User.last_accessed,
        User.session_uuid,
        User.readonly_superuser,
    ).outerjoin(Namespace, Namespace.id == User.namespace_id)


def _record(row: Row[*tuple[Any, ...]]) -> UserRecord:
    return UserRecord(
        row.id,
        row.username,
        row.email,
        row.kind,
        bool(row.enabled),
        bool(row.superuser),
        bool(row.password_hash),
        row.namespace_id,
        row.tag_expiration_s,
        row.created_at,
        row.last_accessed,
        row.session_uuid,
        bool(row.readonly_superuser),
    )


async def insert_user(
    s: AsyncSession,
    username: str,
    email: str | None,
    password_hash: str | None,
    superuser: bool,
    tag_expiration_s: int,
) -> User:
    """A user and its namespace, in ``s`` (NamespaceTaken when the name is in use); the
    caller logs ``user_create`` with its own metadata."""
    taken = (await s.execute(select(Namespace.id).where(Namespace.name == username))).scalar()
    if taken is not None:
        raise NamespaceTaken(username)
    ns = Namespace(
        name=username, kind="user", tag_expiration_s=tag_expiration_s, created_at=now_ms()
    )
    s.add(ns)
    await s.flush()
    user = User(
        username=username,
        namespace_id=ns.id,
        email=email,
        password_hash=password_hash,
        superuser=superuser,
        created_at=now_ms(),
    )
    s.add(user)
    await s.flush()
    return user
