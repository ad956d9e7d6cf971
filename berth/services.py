"""The composition root: ``create_services(settings)`` builds every service once.

The HTTP app (``berth.http.app.create_app``), the CLI, ``berth worker`` and the tests all get
their services here. Nothing is wired in after construction: what a service needs it is
given when built. Building touches neither the database nor the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from berth.accounts.services import AccountService
from berth.audit.pulls import PullLog
from berth.auth.access import AccessPolicy
from berth.auth.service import AuthService
from berth.auth.tokens import fernet_for
from berth.config import Settings
from berth.db.jobs import JobQueue
from berth.db.session import Database
from berth.durations import parse_duration
from berth.gc.services import GarbageCollector
from berth.oauth.logins import registry_logins
from berth.oauth.services import OAuthService
from berth.orgs import services as org_services
from berth.orgs.services import OrgService
from berth.permissions.services import PermissionService
from berth.policies import tasks as policy_tasks
from berth.policies.pruning import Pruner
from berth.policies.rules import prune_rule_from_config
from berth.policies.services import PolicyService
from berth.registry import tasks as registry_tasks
from berth.registry.cache import NoCache, ReadCache, RedisGenerations, SharedFileGenerations
from berth.registry.service import Registry
from berth.registry.tags import TagSettings
from berth.repos import tasks as repos_tasks
from berth.repos.services import DELETE_REPOSITORY_JOB, RepositoryService
from berth.robots.services import RobotService
from berth.storage.base import BlobStorage
from berth.storage.factory import create_storage
from berth.teams.services import TeamService
from berth.worker.runner import JobRunner, Schedule


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: BlobStorage
    pulls: PullLog  # the pull log's buffer (berth.audit.pulls)
    auth: AuthService
    registry: Registry
    jobs: JobQueue
    runner: JobRunner
    orgs: OrgService
    teams: TeamService
    robots: RobotService
    permissions: PermissionService
    gc: GarbageCollector
    repos: RepositoryService
    policies: PolicyService
    pruner: Pruner
    accounts: AccountService
    oauth: OAuthService
    read_cache: ReadCache[Any] = field(default_factory=NoCache)

    async def start(self, *, run_jobs: bool | None = None) -> None:
        await self.auth.load_keys()
        self.pulls.start()
        if self.settings.run_workers_in_process if run_jobs is None else run_jobs:
            self.runner.start()

    async def close(self) -> None:
        await self.runner.stop()
        await self.pulls.stop()
        await self.storage.close()
        await self.db.dispose()
        self.read_cache.close()


def _job_runner(
    settings: Settings,
    db: Database,
    storage: BlobStorage,
    jobs: JobQueue,
    pruner: Pruner,
    gc: GarbageCollector,
) -> JobRunner:
    """Every job kind and schedule, in one place."""

    async def purge_uploads(_payload: dict[str, object]) -> None:
        await registry_tasks.purge_expired_uploads(db, storage, expiry_s=settings.upload_expiry_s)

    async def prune_jobs(_payload: dict[str, object]) -> None:
        await jobs.prune(older_than_ms=86_400_000)

    async def delete_namespace(payload: dict[str, object]) -> None:
        namespace_id = payload["namespace_id"]
        assert isinstance(namespace_id, int)
        await org_services.delete_namespace(db, namespace_id)

    async def collect_garbage(_payload: dict[str, object]) -> None:
        await gc.collect()

    async def delete_repository(payload: dict[str, object]) -> None:
        repository_id = payload["repository_id"]
        assert isinstance(repository_id, int)
        await repos_tasks.delete_repository(db, storage, repository_id)

    async def autoprune_sweep(_payload: dict[str, object]) -> None:
        await policy_tasks.autoprune_sweep(db, pruner)

    async def prune_namespace(payload: dict[str, object]) -> None:
        namespace_id = payload["namespace_id"]
        assert isinstance(namespace_id, int)
        await policy_tasks.prune_namespace(pruner, namespace_id)

    handlers = {
        "purge_expired_uploads": purge_uploads,
        "prune_jobs": prune_jobs,
        org_services.DELETE_NAMESPACE_JOB: delete_namespace,
        "collect_garbage": collect_garbage,
        DELETE_REPOSITORY_JOB: delete_repository,
        policy_tasks.AUTOPRUNE_SWEEP_JOB: autoprune_sweep,
        policy_tasks.PRUNE_NAMESPACE_JOB: prune_namespace,
    }
    schedules = [
        Schedule("purge_expired_uploads", every_s=max(60, settings.upload_expiry_s // 24)),
        Schedule("prune_jobs", every_s=3600),
    ]
    if settings.raw.FEATURE_AUTO_PRUNE:
        schedules.append(
            Schedule(
                policy_tasks.AUTOPRUNE_SWEEP_JOB,
                every_s=parse_duration(settings.raw.BERTH_AUTOPRUNE_INTERVAL),
            )
        )
    if settings.gc_interval_s > 0:
        schedules.append(Schedule("collect_garbage", every_s=settings.gc_interval_s))
    return JobRunner(jobs, handlers, schedules)


def redis_options(raw: Any) -> dict[str, Any] | None:
    """The Redis that holds shared cache generations, from Quay's keys, or None.

    ``BERTH_REDIS`` first; then Quay's model cache, ``DATA_MODEL_CACHE_CONFIG`` with
    ``engine: redis`` (its ``redis_config.primary``; ``engine: noop`` turns the cache off);
    then ``USER_EVENTS_REDIS``, the Redis every Quay deployment's replicas already share.
    Each is Quay's ``{host, port, password, ssl}`` (``db`` and ``username`` too).
    """
    if raw.BERTH_REDIS:
        return dict(raw.BERTH_REDIS)
    model_cache = getattr(raw, "DATA_MODEL_CACHE_CONFIG", None) or {}
    engine = model_cache.get("engine")
    if engine == "redis":
        primary = (model_cache.get("redis_config") or {}).get("primary")
        if primary:
            return dict(primary)
    if engine == "noop":
        return None
    return dict(raw.USER_EVENTS_REDIS) if raw.USER_EVENTS_REDIS else None


def _read_cache(settings: Settings) -> ReadCache[Any]:
    """Embedded default: processes on one machine share generations through a mapped file.

    A shared database may have writers on other machines: there generations live in Redis
    when one is configured (``redis_options``); without one every read goes to the database.
    """
    if settings.is_sqlite:
        return ReadCache(SharedFileGenerations(settings.data_dir / "cache" / "generations"))
    options = redis_options(settings.raw)
    if options is None:
        return NoCache()
    return ReadCache(RedisGenerations.from_options(options), ttl_s=60.0)


def create_services(settings: Settings, *, pool_size: int = 10) -> Services:
    """Every service, built once. ``pool_size``: database connections per engine (one-shot
    CLI commands need one)."""
    raw = settings.raw
    db = Database(settings.db_url, pool_size=pool_size)
    storage = create_storage(settings.storage.driver, settings.storage.args)
    pulls = PullLog(db)
    library = raw.LIBRARY_NAMESPACE if raw.FEATURE_LIBRARY_SUPPORT else None
    tag_expiration = parse_duration(raw.DEFAULT_TAG_EXPIRATION)
    read_cache = _read_cache(settings)
    auth = AuthService(
        db,
        server_hostname=settings.server_hostname,
        issuer=raw.INSTANCE_SERVICE_KEY_SERVICE,
        secret_key=settings.secret_key,
        database_secret_key=settings.database_secret_key,
        super_users=settings.super_users,
        policy=AccessPolicy(
            anonymous_access=raw.FEATURE_ANONYMOUS_ACCESS, open_registry=raw.BERTH_OPEN_REGISTRY
        ),
        library_namespace=library,
        token_ttl_s=settings.token_ttl_s,
        create_private=raw.CREATE_PRIVATE_REPO_ON_PUSH,
        create_namespace_on_push=raw.CREATE_NAMESPACE_ON_PUSH,
        default_tag_expiration_s=tag_expiration,
        allow_catalog_scope=raw.BERTH_ALLOW_CATALOG_SCOPE,
        robots_disallow=raw.ROBOTS_DISALLOW,
        robots_whitelist=frozenset(raw.ROBOTS_WHITELIST),
        require_encrypted_basic_auth=raw.FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH,
        is_restricted_user=settings.is_restricted_user,
    )
    for username, login in registry_logins(db, auth.fernet, settings.super_users).items():
        if username != "$app" or raw.FEATURE_APP_SPECIFIC_TOKENS:
            auth.register_special_login(username, login)
    registry = Registry(
        db,
        storage,
        pulls,
        read_cache=read_cache,
        library_namespace=library,
        max_manifest_bytes=settings.max_manifest_bytes,
        read_only=raw.REGISTRY_STATE == "readonly" or raw.DISABLE_PUSHES,
        create_private=raw.CREATE_PRIVATE_REPO_ON_PUSH,
        default_tag_expiration_s=tag_expiration,
        tag_settings=TagSettings(
            immutable_tags=raw.FEATURE_IMMUTABLE_TAGS,
            immutable_can_expire=raw.FEATURE_IMMUTABLE_TAGS_CAN_EXPIRE,
            min_expiration_s=parse_duration(raw.LABELED_EXPIRATION_MINIMUM),
            max_expiration_s=parse_duration(raw.LABELED_EXPIRATION_MAXIMUM),
            reserved_label_prefixes=tuple(raw.LABEL_KEY_RESERVED_PREFIXES),
        ),
    )
    jobs = JobQueue(db)
    default_prune = raw.DEFAULT_NAMESPACE_AUTOPRUNE_POLICY
    pruner = Pruner(
        db,
        registry.manifests,
        default_rule=prune_rule_from_config(default_prune) if default_prune else None,
    )
    gc = GarbageCollector(
        db,
        storage,
        upload_expiry_s=settings.upload_expiry_s,
        default_grace_s=settings.gc_grace_s,
        cache=registry.blobs.cache,
    )
    runner = _job_runner(settings, db, storage, jobs, pruner, gc)
    return Services(
        settings,
        db,
        storage,
        pulls,
        auth,
        registry,
        jobs,
        runner,
        orgs=OrgService(
            db,
            default_tag_expiration_s=tag_expiration,
            tag_expiration_options=frozenset(parse_duration(v) for v in raw.TAG_EXPIRATION_OPTIONS),
        ),
        teams=TeamService(
            db,
            require_invite=bool(getattr(raw, "FEATURE_MAILING", True))
            and bool(getattr(raw, "FEATURE_REQUIRE_TEAM_INVITE", True)),
        ),
        robots=RobotService(
            db, fernet_for(settings.database_secret_key), disallow=raw.ROBOTS_DISALLOW
        ),
        permissions=PermissionService(db),
        gc=gc,
        repos=RepositoryService(db, cache=read_cache),
        policies=PolicyService(db),
        pruner=pruner,
        accounts=AccountService(db, default_tag_expiration_s=tag_expiration),
        oauth=OAuthService(db, auth.fernet),
        read_cache=read_cache,
    )
