"""A real SQLite database with every model, and the identity services over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import update

from berth.config import load_settings
from berth.db.session import Database
from berth.identity.accounts import AccountService
from berth.identity.models import User
from berth.identity.orgs import OrgService
from berth.identity.permissions import PermissionService
from berth.identity.robots import RobotService
from berth.identity.teams import TeamService
from berth.namespaces.models import Namespace
from berth.schema.models import metadata
from berth.services import create_services

CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("password-123")


@dataclass
class Identity:
    db: Database
    accounts: AccountService
    orgs: OrgService
    teams: TeamService
    robots: RobotService
    permissions: PermissionService

    async def user(self, name: str, *, email: str | None = None) -> int:
        """A user with its namespace and password ``password-123`` (cheap argon2 cost: the
        hashing cost is not what these tests are about)."""
        async with self.db.write() as s:
            ns = Namespace(name=name, kind="user")
            s.add(ns)
            await s.flush()
            user = User(username=name, namespace_id=ns.id, email=email, password_hash=CHEAP_HASH)
            s.add(user)
            await s.flush()
            return user.id

    async def disable(self, name: str) -> None:
        async with self.db.write() as s:
            await s.execute(update(User).where(User.username == name).values(enabled=False))


@pytest.fixture
async def identity(tmp_path: Path) -> AsyncIterator[Identity]:
    """The identity services of the composition root, over an embedded data directory."""
    svc = create_services(load_settings(None, data_dir=tmp_path, env={}))
    async with svc.db.write_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield Identity(svc.db, svc.accounts, svc.orgs, svc.teams, svc.robots, svc.permissions)
    finally:
        await svc.close()
