"""Creating and looking up user accounts (enough for the registry core; see issue 3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update

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
    def __init__(self, db: Database, *, default_tag_expiration_s: int = 1209600) -> None:
        self.db = db
        self.default_tag_expiration_s = default_tag_expiration_s

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        email: str | None = None,
        superuser: bool = False,
    ) -> UserInfo:
        if not is_valid_namespace(username):
            raise InvalidUsername(username)
        if len(password) < MIN_PASSWORD:
            raise InvalidPassword(f"the password must have at least {MIN_PASSWORD} characters")
        password_hash = hash_password(password)  # slow: outside the transaction
        async with self.db.write() as s:
            taken = (
                await s.execute(select(Namespace.id).where(Namespace.name == username))
            ).scalar()
            if taken is not None:
                raise NamespaceTaken(username)
            ns = Namespace(
                name=username,
                kind="user",
                tag_expiration_s=self.default_tag_expiration_s,
                created_at=now_ms(),
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

    async def session_uuid(self, user_id: int) -> str:
        """The user's current session generation (created on first sign-in)."""
        async with self.db.write() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise LookupError(user_id)
            if not user.session_uuid:
                user.session_uuid = str(uuid.uuid4())
            return user.session_uuid

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
    ) -> UserRecord:
        values: dict[str, object] = {}
        if superuser is not None:
            values["superuser"] = superuser
        if password is not None:
            check_password_rules(password)
            values["password_hash"] = hash_password(password)
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
        record = await self.get_user_by_id(user_id)
        assert record is not None
        return record

    async def mark_user_for_deletion(self, username: str) -> int | None:
        """Disable and rename the user and its namespace, and queue the namespace cleanup.

        The name is free again at once (as in Quay); the ``delete_namespace`` job removes
        the rest. Returns the namespace id, None when there is no such user.
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


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidPassword(f"the password must have at least {MIN_PASSWORD} characters")
    if any(c.isspace() for c in password):
        raise InvalidPassword("the password must not contain whitespace")


def _record_query():  # type: ignore[no-untyped-def]
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
    ).outerjoin(Namespace, Namespace.id == User.namespace_id)


def _record(row) -> UserRecord:  # type: ignore[no-untyped-def]
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
    )
