"""Robot accounts (``ns+short``) of users and organizations, their tokens and the
credential formats the UI offers (docker login, config.json, Kubernetes secret, rkt, Mesos)."""

from __future__ import annotations

import base64
import builtins  # annotations after a service's ``list`` method name builtins.list
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer, record
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.errors import (
    InvalidDescription,
    InvalidRobotName,
    RobotExists,
    RobotNotFound,
    RobotsDisabled,
)
from berth.identity.models import (
    RepositoryPermission,
    RobotAccount,
    RobotFederation,
    Team,
    TeamMember,
    User,
)
from berth.identity.orgs import find_user, get_namespace, performer_of
from berth.namespaces.models import Namespace
from berth.oci.names import is_valid_namespace
from berth.registry.models import Repository

TOKEN_ALPHABET = string.ascii_uppercase + string.digits
TOKEN_LENGTH = 64
MAX_DESCRIPTION = 255


def generate_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def robot_username(namespace: str, short: str) -> str:
    return f"{namespace}+{short}"


def split_robot_username(name: str) -> tuple[str, str] | None:
    namespace, sep, short = name.partition("+")
    return (namespace, short) if sep and namespace and short else None


@dataclass(frozen=True)
class RobotRepoPermission:
    repository: str  # name within the namespace
    is_public: bool
    role: str


@dataclass(frozen=True)
class RobotInfo:
    id: int
    name: str  # ns+short
    namespace: str
    short_name: str
    description: str
    created_at: int
    last_accessed: int | None
    token: str | None = None
    unstructured_metadata: dict[str, Any] = field(default_factory=dict)
    teams: list[str] = field(default_factory=list)
    permissions: list[RobotRepoPermission] = field(default_factory=list)


@dataclass(frozen=True)
class VerifiedRobot:
    user_id: int
    name: str
    enabled: bool


class RobotService:
    def __init__(self, db: Database, fernet: Fernet, *, disallow: bool = False) -> None:
        self.db = db
        self.fernet = fernet
        self.disallow = disallow  # ROBOTS_DISALLOW: no new robot accounts

    def _encrypt(self, token: str) -> bytes:
        return self.fernet.encrypt(token.encode())

    def _decrypt(self, data: bytes) -> str:
        return self.fernet.decrypt(data).decode()

    async def _get(
        self, s: AsyncSession, namespace: str, short: str
    ) -> tuple[User, RobotAccount, Namespace]:
        ns = await get_namespace(s, namespace)
        name = robot_username(namespace, short)
        row = (
            await s.execute(
                select(User, RobotAccount)
                .join(RobotAccount, RobotAccount.user_id == User.id)
                .where(User.username == name, RobotAccount.namespace_id == ns.id)
            )
        ).first()
        if row is None:
            raise RobotNotFound(name)
        return row[0], row[1], ns

    def _info(self, user: User, robot: RobotAccount, namespace: str, *, token: bool) -> RobotInfo:
        return RobotInfo(
            id=user.id,
            name=user.username,
            namespace=namespace,
            short_name=user.username.partition("+")[2],
            description=robot.description,
            created_at=robot.created_at,
            last_accessed=user.last_accessed,
            token=self._decrypt(robot.token_encrypted) if token else None,
            unstructured_metadata=dict(robot.unstructured_metadata or {}),
        )

    async def create(
        self,
        namespace: str,
        short: str,
        *,
        description: str = "",
        unstructured_metadata: dict[str, Any] | None = None,
        performer: str | None = None,
        ip: str | None = None,
    ) -> RobotInfo:
        if self.disallow:
            raise RobotsDisabled()
        if not is_valid_namespace(short):
            raise InvalidRobotName(short)
        description = description or ""
        if len(description) > MAX_DESCRIPTION:
            raise InvalidDescription()
        name = robot_username(namespace, short)
        token = generate_token()
        async with self.db.write() as s:
            ns = await get_namespace(s, namespace)
            if await find_user(s, name) is not None:
                raise RobotExists(name)
            user = User(username=name, kind="robot", enabled=True, created_at=now_ms())
            s.add(user)
            await s.flush()
            robot = RobotAccount(
                user_id=user.id,
                namespace_id=ns.id,
                description=description,
                unstructured_metadata=dict(unstructured_metadata or {}),
                token_sha256=token_digest(token),
                token_encrypted=self._encrypt(token),
                created_at=now_ms(),
            )
            s.add(robot)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "create_robot", namespace, who,
                metadata={"robot": short, "description": description,
                          "unstructured_metadata": dict(unstructured_metadata or {})},
                namespace_id=ns.id,
            )  # fmt: skip
            await s.flush()
            return self._info(user, robot, namespace, token=True)

    async def get(self, namespace: str, short: str, *, with_token: bool = True) -> RobotInfo:
        async with self.db.read() as s:
            user, robot, _ = await self._get(s, namespace, short)
            return self._info(user, robot, namespace, token=with_token)

    async def regenerate(
        self, namespace: str, short: str, *, performer: str | None = None, ip: str | None = None
    ) -> RobotInfo:
        """A new token; the old one stops working at once (logins compare the stored hash)."""
        token = generate_token()
        async with self.db.write() as s:
            user, robot, ns = await self._get(s, namespace, short)
            robot.token_sha256 = token_digest(token)
            robot.token_encrypted = self._encrypt(token)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "regenerate_robot_token", namespace, who, metadata={"robot": short},
                namespace_id=ns.id,
            )  # fmt: skip
            await s.flush()
            return self._info(user, robot, namespace, token=True)

    # ---- identity federation (Quay 3.13+) ----------------------------------------------
    async def federation(self, namespace: str, short: str) -> builtins.list[dict[str, str]]:
        """The robot's federation entries ``[{issuer, subject}]``."""
        async with self.db.read() as s:
            user, _robot, _ns = await self._get(s, namespace, short)
            row = await s.get(RobotFederation, user.id)
            return _federation_view(row.config if row else [])

    async def set_federation(
        self,
        namespace: str,
        short: str,
        entries: builtins.list[dict[str, str]],
        *,
        performer: str | None = None,
        ip: str | None = None,
    ) -> builtins.list[dict[str, str]]:
        """Replace the entries (validated by the caller: ``parse_federation``)."""
        config = _federation_view(entries)
        async with self.db.write() as s:
            user, _robot, ns = await self._get(s, namespace, short)
            row = await s.get(RobotFederation, user.id)
            if row is None:
                s.add(RobotFederation(robot_id=user.id, config=config))
            else:
                row.config = config
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "create_robot_federation", namespace, who,
                metadata={"config": config, "robot": short}, namespace_id=ns.id,
            )  # fmt: skip
        return config

    async def delete_federation(
        self, namespace: str, short: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            user, _robot, ns = await self._get(s, namespace, short)
            row = await s.get(RobotFederation, user.id)
            if row is not None:
                await s.delete(row)
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(
                s, "delete_robot_federation", namespace, who, metadata={"robot": short},
                namespace_id=ns.id,
            )  # fmt: skip

    async def federation_of(
        self, username: str
    ) -> tuple[VerifiedRobot, builtins.list[dict[str, str]]] | None:
        """The robot ``ns+short`` (of an enabled namespace) and its federation entries."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(User.id, User.username, User.enabled, RobotFederation.config)
                    .join(RobotAccount, RobotAccount.user_id == User.id)
                    .join(Namespace, Namespace.id == RobotAccount.namespace_id)
                    .outerjoin(RobotFederation, RobotFederation.robot_id == User.id)
                    .where(User.username == username, User.kind == "robot", Namespace.enabled)
                )
            ).first()
        if row is None:
            return None
        robot = VerifiedRobot(row.id, row.username, bool(row.enabled))
        return robot, _federation_view(row.config or [])

    async def federated_login(
        self, username: str, *, issuer: str, subject: str, ip: str | None = None
    ) -> None:
        """Log a token exchange (``federated_robot_token_exchange``) in the robot's
        namespace."""
        namespace, _, short = username.partition("+")
        async with self.db.write() as s:
            ns = await get_namespace(s, namespace)
            record(
                s, "federated_robot_token_exchange", namespace, Performer(username, None, ip),
                metadata={"robot": short, "issuer": issuer, "subject": subject},
                namespace_id=ns.id,
            )  # fmt: skip

    async def delete(
        self, namespace: str, short: str, *, performer: str | None = None, ip: str | None = None
    ) -> None:
        async with self.db.write() as s:
            user, _robot, ns = await self._get(s, namespace, short)
            await s.delete(user)  # cascades: robot row, team memberships, permissions
            who = performer_of(await find_user(s, performer) if performer else None, ip)
            record(s, "delete_robot", namespace, who, metadata={"robot": short}, namespace_id=ns.id)

    async def list(
        self,
        namespace: str,
        *,
        with_token: bool = False,
        with_permissions: bool = False,
        limit: int | None = None,
    ) -> list[RobotInfo]:
        """The namespace's robots by name (the first ``limit``); with ``with_permissions``
        their teams and direct repository permissions too (three queries in all)."""
        async with self.db.read() as s:
            ns = await get_namespace(s, namespace)
            stmt = (
                select(User, RobotAccount)
                .join(RobotAccount, RobotAccount.user_id == User.id)
                .where(RobotAccount.namespace_id == ns.id)
                .order_by(User.username)
            )
            if limit is not None:
                stmt = stmt.limit(max(limit, 0))
            rows = (await s.execute(stmt)).all()
            out = [self._info(user, robot, namespace, token=with_token) for user, robot in rows]
            if with_permissions and out:
                by_id = {info.id: info for info in out}
                teams = await s.execute(
                    select(TeamMember.user_id, Team.name)
                    .join(Team, Team.id == TeamMember.team_id)
                    .where(TeamMember.user_id.in_(by_id))
                    .order_by(Team.name)
                )
                for user_id, team in teams:
                    by_id[user_id].teams.append(team)
                perms = await s.execute(_direct_permissions(list(by_id)))
                for holder_id, repository, is_public, role in perms:
                    assert holder_id is not None  # selected by user id
                    by_id[holder_id].permissions.append(
                        RobotRepoPermission(repository, is_public, role)
                    )
            return out

    async def permissions(self, namespace: str, short: str) -> builtins.list[RobotRepoPermission]:
        """Direct repository permissions of the robot (Quay's robot permissions view)."""
        async with self.db.read() as s:
            user, _robot, _ = await self._get(s, namespace, short)
            rows = await s.execute(_direct_permissions([user.id]))
            return [
                RobotRepoPermission(repository, is_public, role)
                for _user_id, repository, is_public, role in rows
            ]


def _direct_permissions(user_ids: list[int]) -> Select[int | None, str, bool, str]:
    """(user id, repository name, is_public, role) of the users' direct permissions."""
    return (
        select(
            RepositoryPermission.user_id,
            Repository.name,
            Repository.is_public,
            RepositoryPermission.role,
        )
        .join(Repository, Repository.id == RepositoryPermission.repository_id)
        .where(RepositoryPermission.user_id.in_(user_ids))
        .order_by(Repository.name)
    )


async def verify_robot_token(s: AsyncSession, username: str, token: str) -> VerifiedRobot | None:
    """The robot ``ns+short`` when ``token`` is its current token (constant-time compare)."""
    row = (
        await s.execute(
            select(User.id, User.username, User.enabled, RobotAccount.token_sha256)
            .join(RobotAccount, RobotAccount.user_id == User.id)
            .join(Namespace, Namespace.id == RobotAccount.namespace_id)
            .where(User.username == username, User.kind == "robot", Namespace.enabled)
        )
    ).first()
    if row is None:
        return None
    if not hmac.compare_digest(row.token_sha256, token_digest(token)):
        return None
    return VerifiedRobot(row.id, row.username, bool(row.enabled))


class InvalidFederation(ValueError):
    """A federation body Quay refuses; ``str`` is Quay's message."""


def parse_federation(body: Any) -> builtins.list[dict[str, str]]:
    """Quay's validation of a federation body: a JSON array of ``{issuer, subject}`` (other
    keys, such as the UI's ``isExpanded``, are dropped); the issuer an http(s) URL; no entry
    twice."""
    if not isinstance(body, builtins.list):
        raise InvalidFederation("Missing one or more required fields (issuer, subject)")
    out: builtins.list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for item in body:
        if not item or not isinstance(item, dict):
            raise InvalidFederation("Missing one or more required fields (issuer, subject)")
        issuer, subject = item.get("issuer"), item.get("subject")
        if not issuer or not subject or not isinstance(issuer, str) or not isinstance(subject, str):
            raise InvalidFederation("Missing one or more required fields (issuer, subject)")
        if not issuer.startswith(("http://", "https://")):
            raise InvalidFederation("Issuer must be a URL (http:// or https://)")
        if (issuer, subject) in seen:
            raise InvalidFederation("Duplicate federation config entry")
        seen.add((issuer, subject))
        out.append({"issuer": issuer, "subject": subject})
    return out


def _federation_view(config: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, str]]:
    return [{"issuer": str(e["issuer"]), "subject": str(e["subject"])} for e in config]


# ---- credential formats for the UI -----------------------------------------------------
def credential_formats(name: str, token: str, server_hostname: str) -> dict[str, str]:
    """The ways Quay's UI offers to use a robot's credentials, as text to copy."""
    auth = base64.b64encode(f"{name}:{token}".encode()).decode()
    config = {"auths": {server_hostname: {"auth": auth, "email": ""}}}
    config_json = json.dumps(config, indent=2)
    secret_name = name.replace("+", "-").replace("_", "-").lower() + "-pull-secret"
    dockerconfig_b64 = base64.b64encode(json.dumps(config).encode()).decode()
    kubernetes = (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        f"  name: {secret_name}\n"
        "data:\n"
        f"  .dockerconfigjson: {dockerconfig_b64}\n"
        "type: kubernetes.io/dockerconfigjson\n"
    )
    rkt = (
        "{\n"
        '  "rktKind": "auth",\n'
        '  "rktVersion": "v1",\n'
        f'  "domains": ["{server_hostname}"],\n'
        '  "type": "basic",\n'
        '  "credentials": {\n'
        f'    "user": "{name}",\n'
        f'    "password": "{token}"\n'
        "  }\n"
        "}\n"
    )
    mesos = (
        f"{config_json}\n"
        "# Mesos: put this file in a tarball as .docker/config.json and fetch it with the task:\n"
        "#   tar czf docker.tar.gz .docker\n"
        '#   "uris": ["file:///etc/docker.tar.gz"]\n'
    )
    return {
        "docker_login": f"docker login -u='{name}' -p='{token}' {server_hostname}",
        "podman_login": f"podman login -u='{name}' -p='{token}' {server_hostname}",
        "docker_config": config_json + "\n",
        "kubernetes_secret": kubernetes,
        "rkt": rkt,
        "mesos": mesos,
    }
