"""Creating and looking up user accounts (enough for the registry core; see issue 3)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from berth.accounts.errors import InvalidPassword, InvalidUsername, NamespaceTaken
from berth.accounts.models import Namespace, User
from berth.auth.passwords import hash_password
from berth.db.base import now_ms
from berth.db.session import Database
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
