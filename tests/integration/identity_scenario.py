"""The organization every identity integration test starts from (built over the services).

acme (org, created by ``orgadmin``):
  teams    owners (admin): orgadmin;  devs (member): member;  builders (creator): creator
  robots   acme+reader (read on acme/app), acme+writer (write on acme/app)
  repos    acme/app (private; an image tagged v1), acme/pub (public; tagged v1)
  perms    reader: read, writer: write, repoadmin: admin (direct); team devs: write
"""

from __future__ import annotations

from dataclasses import dataclass, field

from argon2 import PasswordHasher

from berth.identity.models import User
from berth.namespaces.models import Namespace
from berth.registry.repositories import RepoName
from tests.integration.conftest import Berth, Pushed

PASSWORD = "identity-password"
USERS = ("reader", "writer", "repoadmin", "member", "creator", "orgadmin")
APP = RepoName("acme", "app")
PUB = RepoName("acme", "pub")


@dataclass
class Scenario:
    tokens: dict[str, str] = field(default_factory=dict)  # robot name -> token
    app: Pushed | None = None
    pub: Pushed | None = None

    def password(self, who: str) -> str:
        return self.tokens.get(who, PASSWORD)


async def add_users(registry: Berth, *names: str) -> None:
    """Users with their namespaces (cheap argon2 cost: hashing is not what is tested)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    async with registry.services.db.write() as s:
        for name in names:
            ns = Namespace(name=name, kind="user")
            s.add(ns)
            await s.flush()
            s.add(User(username=name, namespace_id=ns.id, password_hash=cheap))


async def build(registry: Berth) -> Scenario:
    svc = registry.services
    await add_users(registry, *USERS)
    await svc.orgs.create("acme", creator="orgadmin")
    await svc.teams.create_or_update("acme", "devs", role="member")
    await svc.teams.create_or_update("acme", "builders", role="creator")
    # Existing org members join directly; the others accept their invitation.
    for team, user in (("devs", "member"), ("builders", "creator")):
        added = await svc.teams.add_member("acme", team, user, performer="orgadmin")
        if added.invited:
            await svc.teams.accept_invite(added.code, user)
    sc = Scenario()
    for short in ("reader", "writer"):
        robot = await svc.robots.create("acme", short, performer="orgadmin")
        sc.tokens[robot.name] = robot.token
    pusher = registry.client("orgadmin", password=PASSWORD)
    sc.app = await pusher.push_image(APP.full, "v1")
    sc.pub = await pusher.push_image(PUB.full, "v1")
    await svc.permissions.set_visibility(PUB, True, performer="orgadmin")
    perms = svc.permissions
    await perms.set_user_permission(APP, "reader", "read")
    await perms.set_user_permission(APP, "writer", "write")
    await perms.set_user_permission(APP, "repoadmin", "admin")
    await perms.set_user_permission(APP, "acme+reader", "read")
    await perms.set_user_permission(APP, "acme+writer", "write")
    await perms.set_team_permission(APP, "devs", "write")
    return sc
