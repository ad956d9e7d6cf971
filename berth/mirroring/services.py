"""Repository mirror configurations: create, read, change, sync-now, sync-cancel.

Quay's rules (``quay/endpoints/api/mirror.py``): one configuration per repository; creating
it puts the repository in ``MIRROR`` state (only the mirror writes it) and gives the robot
write permission on it; the robot must belong to the repository's namespace. Credentials are
encrypted with DATABASE_SECRET_KEY and never returned (the username is, as in Quay). The
upstream host is checked when configured (the SSRF guard: it must resolve, to addresses
``SSRF_ALLOWED_HOSTS`` allows) and again at every connection (the outbound client).

Every change writes its usage-log entry in its transaction (``repo_mirror_enabled``,
``repo_mirror_disabled``, ``repo_mirror_config_changed`` with ``changed``/``to``, Quay's
kinds); ``sync-now`` enqueues the sync job in the same transaction.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select, update

from berth.audit.services import Performer, record
from berth.authz.states import RepositoryState
from berth.db.base import now_ms
from berth.db.session import Database
from berth.identity.models import RepositoryPermission, RobotAccount, User
from berth.jobs import enqueue
from berth.mirroring.errors import (
    InvalidMirrorConfig,
    InvalidRobot,
    MirrorExists,
    MirrorNotFound,
    SyncNotAllowed,
)
from berth.mirroring.models import RepoMirrorConfig
from berth.mirroring.tasks import SYNC_MIRROR, SyncMirror
from berth.namespaces.models import Namespace
from berth.outbound import DestinationRefused, OutboundClients, OutboundError
from berth.registry.cache import NoCache, ReadCache
from berth.registry.models import Repository
from berth.registry.repositories import RepoName
from berth.upstream import InvalidUpstream, UpstreamRegistry

MAX_SYNC_RETRIES = 3  # Quay's
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NEVER_RUN, SYNC_NOW, SYNCING, SUCCESS, FAIL, CANCEL = (
    "NEVER_RUN", "SYNC_NOW", "SYNCING", "SUCCESS", "FAIL", "CANCEL",
)  # fmt: skip
MASK = "********"


def parse_date(value: str) -> int:
    """Quay's strict ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) as epoch milliseconds."""
    try:
        parsed = datetime.datetime.strptime(value, DATE_FORMAT)
    except (TypeError, ValueError) as e:
        raise InvalidMirrorConfig("Incorrect DateTime format for sync_start_date.") from e
    return int(parsed.replace(tzinfo=datetime.UTC).timestamp() * 1000)


def format_date(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime(DATE_FORMAT)


@dataclass(frozen=True, slots=True)
class ExternalReference:
    """``host[:port]/path/to/repo``: where the upstream is and its repository there."""

    registry: UpstreamRegistry
    repository: str

    @classmethod
    def parse(cls, value: str, *, insecure: bool = False) -> ExternalReference:
        raw = value.strip()
        host, _, path = raw.partition("/")
        if not path:
            raise InvalidMirrorConfig("external_reference must be host/repository")
        try:
            registry = UpstreamRegistry.parse(host, insecure=insecure)
            repo = registry.repository(path)
            UpstreamRegistry.parse(f"{host}/{repo}")  # the path's grammar
        except InvalidUpstream as e:
            raise InvalidMirrorConfig(f"Invalid external_reference: {value}") from e
        return cls(registry, repo)


@dataclass(frozen=True, slots=True)
class MirrorView:
    """A configuration as the routes and the syncer see it (credentials decrypted, in
    memory only; the routes never show the password)."""

    id: int
    repository_id: int
    namespace: str
    repository: str
    namespace_id: int
    is_enabled: bool
    external_reference: str
    username: str | None
    password: str | None = field(repr=False)
    verify_tls: bool
    unsigned_images: bool
    proxy: dict[str, Any]
    root_rule: list[str]
    architecture_filter: list[str]
    sync_interval: int
    sync_start_ms: int
    sync_expiration_ms: int | None
    sync_retries_remaining: int
    sync_status: str
    skopeo_timeout_interval: int
    robot_username: str | None
    robot_id: int | None
    last_result: dict[str, Any] | None
    last_message: str | None

    @property
    def repo(self) -> RepoName:
        return RepoName(self.namespace, self.repository)


@dataclass(frozen=True, slots=True)
class MirrorInput:
    """A POST/PUT body, validated by the route's schema; None: not given (PUT)."""

    is_enabled: bool | None = None
    external_reference: str | None = None
    username: str | None = None
    username_given: bool = False
    password: str | None = field(default=None, repr=False)
    password_given: bool = False
    sync_start_date: str | None = None
    sync_interval: int | None = None
    robot_username: str | None = None
    root_rule: list[str] | None = None
    verify_tls: bool | None = None
    unsigned_images: bool | None = None
    proxy: dict[str, Any] | None = None
    skopeo_timeout_interval: int | None = None
    architecture_filter: list[str] | None = None


def next_start_ms(start_ms: int, interval_s: int, now: int) -> int:
    """Quay's next start after a sync: the next multiple of the interval after ``start``
    that is after now (the schedule keeps its phase)."""
    if interval_s <= 0:
        return now
    interval_ms = interval_s * 1000
    if start_ms > now:
        return start_ms
    elapsed = now - start_ms
    return now + interval_ms - (elapsed % interval_ms)


class MirrorService:
    """The ``mirror`` routes' operations, each one unit of work with its usage-log entry."""

    def __init__(
        self,
        db: Database,
        fernet: Fernet,
        outbound: OutboundClients,
        *,
        cache: ReadCache[Any] | None = None,
    ) -> None:
        self.db = db
        self.fernet = fernet
        self.outbound = outbound
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()

    # ---- reading -----------------------------------------------------------------------
    def _decrypt(self, data: bytes | None) -> str | None:
        return self.fernet.decrypt(data).decode() if data else None

    def _encrypt(self, value: str | None) -> bytes | None:
        return self.fernet.encrypt(value.encode()) if value else None

    async def _load(self, s: Any, *where: Any) -> MirrorView | None:
        stmt = (
            select(RepoMirrorConfig, Repository.name, Namespace.name, Namespace.id, User.username)
            .join(Repository, Repository.id == RepoMirrorConfig.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .outerjoin(User, User.id == RepoMirrorConfig.robot_id)
            .where(*where)
        )
        row = (await s.execute(stmt)).first()
        if row is None:
            return None
        c, repo_name, ns_name, ns_id, robot = row
        return MirrorView(
            id=c.id,
            repository_id=c.repository_id,
            namespace=ns_name,
            repository=repo_name,
            namespace_id=ns_id,
            is_enabled=c.is_enabled,
            external_reference=c.external_reference,
            username=self._decrypt(c.username_encrypted),
            password=self._decrypt(c.password_encrypted),
            verify_tls=c.verify_tls,
            unsigned_images=c.unsigned_images,
            proxy=dict(c.proxy or {}),
            root_rule=list(c.root_rule or []),
            architecture_filter=list(c.architecture_filter or []),
            sync_interval=c.sync_interval,
            sync_start_ms=c.sync_start_ms,
            sync_expiration_ms=c.sync_expiration_ms,
            sync_retries_remaining=c.sync_retries_remaining,
            sync_status=c.sync_status,
            skopeo_timeout_interval=c.skopeo_timeout_interval,
            robot_username=robot,
            robot_id=c.robot_id,
            last_result=c.last_result,
            last_message=c.last_message,
        )

    @staticmethod
    def _by_repo(repo: RepoName) -> tuple[Any, ...]:
        return (Namespace.name == repo.namespace, Repository.name == repo.name)

    async def get(self, repo: RepoName) -> MirrorView:
        async with self.db.read() as s:
            view = await self._load(s, *self._by_repo(repo))
        if view is None:
            raise MirrorNotFound(f"No mirror configuration found for {repo.full}")
        return view

    async def get_by_id(self, config_id: int) -> MirrorView | None:
        async with self.db.read() as s:
            return await self._load(s, RepoMirrorConfig.id == config_id)

    # ---- checks ------------------------------------------------------------------------
    async def check_reference(self, value: str, *, verify_tls: bool) -> ExternalReference:
        """The reference parses and its host passes the SSRF guard (it resolves, to
        allowed addresses)."""
        ref = ExternalReference.parse(value, insecure=not verify_tls)
        upstream = ref.registry
        port = 443
        if ":" in upstream.api_host.rsplit("]", 1)[-1]:
            port = int(upstream.api_host.rsplit(":", 1)[1])
        try:
            await self.outbound.client().check_destination(upstream.hostname, port)
        except DestinationRefused as e:
            raise InvalidMirrorConfig("The provided registry URL is not allowed") from e
        except OutboundError as e:
            raise InvalidMirrorConfig(f"Cannot resolve hostname '{upstream.hostname}'") from e
        return ref

    @staticmethod
    async def _robot(s: Any, username: str, namespace: str) -> int:
        """The robot's user id; Quay's DataModelException messages (400 ``{message}``)."""
        row = (
            await s.execute(
                select(User.id, Namespace.name)
                .join(RobotAccount, RobotAccount.user_id == User.id)
                .join(Namespace, Namespace.id == RobotAccount.namespace_id)
                .where(User.username == username, User.kind == "robot")
            )
        ).first()
        if row is None:
            raise InvalidRobot("Could not find robot with specified username")
        if row[1] != namespace or username.partition("+")[0] != namespace:
            raise InvalidRobot("Invalid robot")
        return int(row[0])

    @staticmethod
    async def _grant_write(
        s: Any, repo: RepoName, repo_id: int, ns_id: int, robot_id: int, robot: str, by: Any
    ) -> None:
        """Quay's mirror setup: the robot gets write unless it has write or admin."""
        current = (
            await s.execute(
                select(RepositoryPermission.id, RepositoryPermission.role).where(
                    RepositoryPermission.repository_id == repo_id,
                    RepositoryPermission.user_id == robot_id,
                )
            )
        ).first()
        if current is not None and current[1] in ("write", "admin"):
            return
        if current is None:
            s.add(RepositoryPermission(repository_id=repo_id, user_id=robot_id, role="write"))
            kind = "add_repo_permission"
        else:
            await s.execute(
                update(RepositoryPermission)
                .where(RepositoryPermission.id == current[0])
                .values(role="write")
            )
            kind = "change_repo_permission"
        record(
            s, kind, repo.namespace, by, repo.name,
            {"username": robot, "role": "write", "repo": repo.name, "namespace": repo.namespace},
            namespace_id=ns_id, repository_id=repo_id,
        )  # fmt: skip

    @staticmethod
    def _check_values(data: MirrorInput) -> None:
        if data.skopeo_timeout_interval is not None and data.skopeo_timeout_interval < 300:
            raise InvalidMirrorConfig("skopeo_timeout_interval must be at least 300 seconds")
        if data.sync_interval is not None and data.sync_interval < 0:
            raise InvalidMirrorConfig("sync_interval must be at least 0")

    # ---- create / update ---------------------------------------------------------------
    async def create(
        self, repo: RepoName, data: MirrorInput, *, performer: Performer | None
    ) -> None:
        assert data.external_reference is not None
        assert data.sync_start_date is not None
        self._check_values(data)
        start_ms = parse_date(data.sync_start_date)
        if data.password and not data.username:
            raise InvalidMirrorConfig("Username is required when a password is given")
        async with self.db.read() as s:
            exists = await self._load(s, *self._by_repo(repo))
        if exists is not None:
            raise MirrorExists(f"Mirror configuration already exits for repository {repo.full}")
        verify = True if data.verify_tls is None else data.verify_tls
        await self.check_reference(data.external_reference, verify_tls=verify)
        async with self.db.write() as s:
            target = (
                await s.execute(
                    select(Repository.id, Namespace.id)
                    .join(Namespace, Namespace.id == Repository.namespace_id)
                    .where(*self._by_repo(repo))
                    .with_for_update()
                )
            ).first()
            if target is None:
                raise MirrorNotFound(f"Repository {repo.full} not found")
            repo_id, ns_id = target
            taken = (
                await s.execute(
                    select(RepoMirrorConfig.id).where(RepoMirrorConfig.repository_id == repo_id)
                )
            ).scalar()
            if taken is not None:
                raise MirrorExists(f"Mirror configuration already exits for repository {repo.full}")
            robot_id = None
            if data.robot_username:
                robot_id = await self._robot(s, data.robot_username, repo.namespace)
                await self._grant_write(
                    s, repo, repo_id, ns_id, robot_id, data.robot_username, performer
                )
            enabled = True if data.is_enabled is None else data.is_enabled
            s.add(
                RepoMirrorConfig(
                    repository_id=repo_id,
                    robot_id=robot_id,
                    is_enabled=enabled,
                    external_reference=data.external_reference.strip(),
                    username_encrypted=self._encrypt(data.username),
                    password_encrypted=self._encrypt(data.password),
                    verify_tls=verify,
                    unsigned_images=bool(data.unsigned_images),
                    proxy=_proxy(data.proxy),
                    root_rule=list(data.root_rule or []),
                    architecture_filter=list(data.architecture_filter or []),
                    sync_interval=data.sync_interval or 0,
                    sync_start_ms=start_ms,
                    sync_expiration_ms=None,
                    sync_retries_remaining=MAX_SYNC_RETRIES,
                    sync_status=NEVER_RUN,
                    skopeo_timeout_interval=data.skopeo_timeout_interval or 300,
                )
            )
            await s.execute(
                update(Repository)
                .where(Repository.id == repo_id)
                .values(state=RepositoryState.MIRROR.value)
            )
            meta = {"repo": repo.name, "namespace": repo.namespace}
            record(
                s, "repo_mirror_config_changed", repo.namespace, performer, repo.name,
                {**meta, "changed": "external_reference", "to": data.external_reference},
                namespace_id=ns_id, repository_id=repo_id,
            )  # fmt: skip
            if enabled:
                record(
                    s, "repo_mirror_enabled", repo.namespace, performer, repo.name, meta,
                    namespace_id=ns_id, repository_id=repo_id,
                )  # fmt: skip
        self.cache.invalidate(repo.full)

    async def update(
        self, repo: RepoName, data: MirrorInput, *, performer: Performer | None
    ) -> None:
        """Quay's PUT: only the fields given change; one log entry per changed field."""
        self._check_values(data)
        start_ms = parse_date(data.sync_start_date) if data.sync_start_date is not None else None
        current = await self.get(repo)
        username = data.username if data.username_given else current.username
        password = data.password if data.password_given else current.password
        if password and not username:
            raise InvalidMirrorConfig("Username is required when a password is given")
        verify = current.verify_tls if data.verify_tls is None else data.verify_tls
        if data.external_reference is not None:
            await self.check_reference(data.external_reference, verify_tls=verify)
        values: dict[str, Any] = {}
        changes: list[tuple[str, Any]] = []

        def change(column: str, key: str, new: Any, old: Any, shown: Any = None) -> None:
            if new is not None and new != old:
                values[column] = new
                changes.append((key, new if shown is None else shown))

        change("external_reference", "external_reference", data.external_reference,
               current.external_reference)  # fmt: skip
        change("sync_interval", "sync_interval", data.sync_interval, current.sync_interval)
        change("sync_start_ms", "sync_start_date", start_ms, current.sync_start_ms,
               data.sync_start_date)  # fmt: skip
        change("root_rule", "root_rule", data.root_rule, current.root_rule)
        change("verify_tls", "verify_tls", data.verify_tls, current.verify_tls)
        change("unsigned_images", "unsigned_images", data.unsigned_images,
               current.unsigned_images)  # fmt: skip
        if data.proxy is not None:
            change("proxy", "external_registry_config.proxy", _proxy(data.proxy), current.proxy)
        change("skopeo_timeout_interval", "skopeo_timeout_interval",
               data.skopeo_timeout_interval, current.skopeo_timeout_interval)  # fmt: skip
        change("architecture_filter", "architecture_filter", data.architecture_filter,
               current.architecture_filter)  # fmt: skip
        if data.username_given and username != current.username:
            values["username_encrypted"] = self._encrypt(username)
            changes.append(("external_registry_username", username))
        if data.password_given and password != current.password:
            values["password_encrypted"] = self._encrypt(password)
            changes.append(("external_registry_password", MASK))
        enabled_change = data.is_enabled is not None and data.is_enabled != current.is_enabled
        if enabled_change:
            values["is_enabled"] = data.is_enabled
        async with self.db.write() as s:
            ns_id, repo_id = current.namespace_id, current.repository_id
            meta = {"repo": repo.name, "namespace": repo.namespace}
            if data.robot_username and data.robot_username != current.robot_username:
                robot_id = await self._robot(s, data.robot_username, repo.namespace)
                await self._grant_write(
                    s, repo, repo_id, ns_id, robot_id, data.robot_username, performer
                )
                values["robot_id"] = robot_id
                changes.append(("robot_username", data.robot_username))
            if values:
                await s.execute(
                    update(RepoMirrorConfig)
                    .where(RepoMirrorConfig.id == current.id)
                    .values(**values)
                )
            for key, to in changes:
                record(
                    s, "repo_mirror_config_changed", repo.namespace, performer, repo.name,
                    {**meta, "changed": key, "to": to},
                    namespace_id=ns_id, repository_id=repo_id,
                )  # fmt: skip
            if enabled_change:
                kind = "repo_mirror_enabled" if data.is_enabled else "repo_mirror_disabled"
                record(
                    s, kind, repo.namespace, performer, repo.name, meta,
                    namespace_id=ns_id, repository_id=repo_id,
                )  # fmt: skip

    # ---- sync now / cancel -------------------------------------------------------------
    async def sync_now(self, repo: RepoName, *, performer: Performer | None) -> None:
        """Quay: 404 without a configuration or while a sync runs; otherwise the status
        becomes SYNC_NOW, the start now, the retries full. The job is enqueued here."""
        current = await self.get(repo)
        now = now_ms()
        async with self.db.write() as s:
            changed = await s.execute(
                update(RepoMirrorConfig)
                .where(
                    RepoMirrorConfig.id == current.id,
                    RepoMirrorConfig.sync_status != SYNCING,
                )
                .values(
                    sync_status=SYNC_NOW,
                    sync_start_ms=now,
                    sync_retries_remaining=MAX_SYNC_RETRIES,
                    sync_expiration_ms=None,
                )
            )
            if not changed.rowcount:  # type: ignore[attr-defined]  # a DML result
                raise SyncNotAllowed("A sync is running")
            record(
                s, "repo_mirror_sync_now_requested", repo.namespace, performer, repo.name,
                {"repo": repo.name, "namespace": repo.namespace},
                namespace_id=current.namespace_id, repository_id=current.repository_id,
            )  # fmt: skip
            await enqueue(s, SYNC_MIRROR, SyncMirror(config_id=current.id))

    async def sync_cancel(self, repo: RepoName, *, performer: Performer | None) -> None:
        """A queued (SYNC_NOW) or running (SYNCING) sync is cancelled: the running one stops
        before its next tag. 404 otherwise, as Quay."""
        current = await self.get(repo)
        now = now_ms()
        async with self.db.write() as s:
            changed = await s.execute(
                update(RepoMirrorConfig)
                .where(
                    RepoMirrorConfig.id == current.id,
                    RepoMirrorConfig.sync_status.in_((SYNC_NOW, SYNCING)),
                )
                .values(
                    sync_status=CANCEL,
                    sync_expiration_ms=None,
                    sync_retries_remaining=MAX_SYNC_RETRIES,
                    sync_start_ms=next_start_ms(current.sync_start_ms, current.sync_interval, now),
                )
            )
            if not changed.rowcount:  # type: ignore[attr-defined]  # a DML result
                raise SyncNotAllowed("No sync to cancel")
            record(
                s, "repo_mirror_sync_cancelled", repo.namespace, performer, repo.name,
                {"repo": repo.name, "namespace": repo.namespace},
                namespace_id=current.namespace_id, repository_id=current.repository_id,
            )  # fmt: skip


def _proxy(value: dict[str, Any] | None) -> dict[str, Any]:
    value = value or {}
    return {k: (value.get(k) or None) for k in ("http_proxy", "https_proxy", "no_proxy")}
