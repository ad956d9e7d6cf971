"""The composition root: ``create_services(settings)`` builds every service once.

The HTTP app (``berth.http.app.create_app``), the CLI, ``berth worker`` and the tests all get
their services here. Nothing is wired in after construction: what a service needs it is
given when built. Building touches neither the database nor the network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from berth.auth.federation import RobotFederationExchange
from berth.auth.ldap import LdapProvider
from berth.auth.oidc import OidcLogins, OidcService
from berth.auth.providers import IdentityProvider
from berth.auth.services import AuthService
from berth.auth.tokens import fernet_for
from berth.authz import AccessPolicy
from berth.builds.executors import Executor, LocalExecutor
from berth.builds.kubernetes import KubernetesExecutor
from berth.builds.manager import PUSH_USER, BuildManager
from berth.builds.pushtokens import PushTokens
from berth.builds.services import BuildService
from berth.builds.tasks import PURGE_BUILD_FILES, RUN_BUILD
from berth.buildtriggers.services import BuildTriggerService
from berth.config import Settings
from berth.db.fast import Unit
from berth.db.session import Database
from berth.directory.ldap import LdapDirectory
from berth.gc import tasks as gc_tasks
from berth.gc.services import GarbageCollector
from berth.gc.tasks import COLLECT_GARBAGE
from berth.health.services import HealthService
from berth.identity import tasks as identity_tasks
from berth.identity.accounts import AccountService
from berth.identity.errors import NamespaceNotFound, RobotNotFound
from berth.identity.federated import FederatedAccounts
from berth.identity.orgs import OrgService
from berth.identity.permissions import PermissionService
from berth.identity.robots import RobotService, split_robot_username
from berth.identity.tasks import DELETE_NAMESPACE, SYNC_TEAMS
from berth.identity.teams import TeamService
from berth.identity.teamsync import TeamSyncService
from berth.jobs import Binding, JobQueue, JobRunner, Lane, Schedule
from berth.jobs import tasks as jobs_tasks
from berth.jobs.tasks import PRUNE_JOBS
from berth.messages.services import MessageService
from berth.metrics.prometheus import PrometheusRecorder
from berth.mirroring.services import MirrorService
from berth.mirroring.sync import MirrorSyncer
from berth.mirroring.tasks import SCHEDULE_MIRRORS, SYNC_MIRROR
from berth.notifications import tasks as notification_tasks
from berth.notifications.delivery import Deliverer
from berth.notifications.events import RepoRef, mirror_data, quota_data, vulnerability_data
from berth.notifications.hooks import InviteNotifier, PushNotifier, notify
from berth.notifications.mail import Mailer
from berth.notifications.methods.base import check_http_url
from berth.notifications.services import NotificationService
from berth.oauth.logins import registry_logins
from berth.oauth.services import OAuthService
from berth.oci import mediatypes as mt
from berth.outbound import AddressPolicy, OutboundClients
from berth.policies import tasks as policy_tasks
from berth.policies.immutability import ImmutabilityPolicies
from berth.policies.pruning import Pruner
from berth.policies.services import PolicyService
from berth.policies.tasks import AUTOPRUNE_SWEEP, PRUNE_NAMESPACE
from berth.proxycache.locks import fetch_locks
from berth.proxycache.pullthrough import ProxyCache
from berth.proxycache.services import ProxyCacheService, ProxyDirectory
from berth.quotas import tasks as quota_tasks
from berth.quotas.enforcement import QuotaEnforcer
from berth.quotas.events import QUOTA_ERROR, Crossing, NotifiedQuotaEvents
from berth.quotas.services import QuotaService
from berth.quotas.tasks import BACKFILL_QUOTA_TOTALS
from berth.ratelimits.limiter import LocalCounter, OverrideCache, RateLimiter, RedisCounter
from berth.ratelimits.services import RateLimitService
from berth.registry import tasks as registry_tasks
from berth.registry.cache import NoCache, ReadCache, RedisGenerations, SharedFileGenerations
from berth.registry.events import Listeners, PushListener
from berth.registry.immutability import TagGuard
from berth.registry.pulls import PullLog
from berth.registry.repositories import RepoName
from berth.registry.service import Registry
from berth.registry.tasks import PURGE_EXPIRED_UPLOADS
from berth.repos import tasks as repos_tasks
from berth.repos.services import RepositoryService
from berth.repos.tasks import DELETE_REPOSITORY
from berth.scanner.clair import ClairClient
from berth.scanner.hooks import IndexOnPush
from berth.scanner.matcher import Finding
from berth.scanner.services import ScannerService
from berth.scanner.tasks import INDEX_MANIFEST, REMATCH_MANIFESTS, UPDATE_VULNDB
from berth.storage.base import BlobStorage
from berth.storage.factory import create_storage
from berth.usagelogs.services import SWEEP_INTERVAL_S, UsageLogService
from berth.usagelogs.store import DatabaseLogsModel
from berth.usagelogs.tasks import DELETE_LOG_EXPORT, EXPORT_LOGS, ROTATE_LOGS, SWEEP_LOG_DAYS


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: BlobStorage
    pulls: PullLog  # the pull log's buffer (berth.registry.pulls)
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
    outbound: OutboundClients
    notifications: NotificationService
    usage_logs: UsageLogService
    quotas: QuotaService
    rate_limits: RateLimitService
    limiter: RateLimiter
    scanner: ScannerService
    read_cache: ReadCache[Any] = field(default_factory=NoCache)
    metrics: PrometheusRecorder = field(default_factory=PrometheusRecorder)
    health: HealthService | None = None
    # AUTHENTICATION_TYPE: LDAP: the directory (None with Database authentication).
    directory: LdapDirectory | None = None
    teamsync: TeamSyncService | None = None
    oidc: OidcLogins | None = None  # the OpenID Connect login services (may be none)
    federated: FederatedAccounts | None = None  # accounts bound to LDAP / OIDC logins
    federation: RobotFederationExchange | None = None  # robot identity federation
    messages: MessageService | None = None  # global messages (/api/v1/messages)
    # FEATURE_PROXY_CACHE: the proxycache routes' service and the registry's pull-through.
    proxy_cache: ProxyCacheService | None = None
    pull_through: ProxyCache | None = None
    builds: BuildService | None = None  # Dockerfile builds (FEATURE_BUILD_SUPPORT)
    build_triggers: BuildTriggerService | None = None  # their triggers (berth.buildtriggers)
    # FEATURE_REPO_MIRROR: the mirror routes' service and the syncer (its jobs).
    mirrors: MirrorService | None = None
    mirror_syncer: MirrorSyncer | None = None

    async def start(self, *, run_jobs: bool | None = None) -> None:
        await self.auth.load_keys()
        self.pulls.start()
        self.metrics.start()
        if self.settings.run_workers_in_process if run_jobs is None else run_jobs:
            self.runner.start()

    async def close(self) -> None:
        await self.runner.stop()
        await self.metrics.stop()
        if self.pull_through is not None:
            await self.pull_through.close()
        await self.pulls.stop()
        await self.limiter.overrides.aclose()
        await self.storage.close()
        await self.outbound.aclose()
        if isinstance(self.limiter.counter, RedisCounter):
            await self.limiter.counter.aclose()
        if self.directory is not None:
            await self.directory.close()
        await self.db.dispose()
        self.read_cache.close()


def _job_runner(
    settings: Settings,
    db: Database,
    storage: BlobStorage,
    jobs: JobQueue,
    pruner: Pruner,
    gc: GarbageCollector,
    deliverer: Deliverer,
    usage_logs: UsageLogService,
    quotas: QuotaService,
    teamsync: TeamSyncService,
    scanner: ScannerService,
    build_manager: BuildManager | None = None,
    syncer: MirrorSyncer | None = None,
) -> JobRunner:
    """Every job kind bound to its handler, and every schedule, in one place."""
    bindings: list[Binding[Any]] = [
        PURGE_EXPIRED_UPLOADS.bind(
            lambda _: registry_tasks.purge_expired_uploads(
                db, storage, expiry_s=settings.upload_expiry_s
            )
        ),
        PRUNE_JOBS.bind(partial(jobs_tasks.prune_jobs, queue=jobs)),
        DELETE_NAMESPACE.bind(partial(identity_tasks.delete_namespace, db=db)),
        COLLECT_GARBAGE.bind(partial(gc_tasks.collect_garbage, gc=gc)),
        DELETE_REPOSITORY.bind(partial(repos_tasks.delete_repository, db=db, storage=storage)),
        AUTOPRUNE_SWEEP.bind(partial(policy_tasks.autoprune_sweep, db=db, pruner=pruner)),
        PRUNE_NAMESPACE.bind(partial(policy_tasks.prune_namespace, pruner=pruner)),
        notification_tasks.DELIVER_NOTIFICATION.bind(deliverer.deliver_notification),
        notification_tasks.SEND_EMAIL.bind(deliverer.send_email),
        notification_tasks.NOTIFY_EXPIRING_TAGS.bind(deliverer.notify_expiring_tags),
        EXPORT_LOGS.bind(usage_logs.run_export),
        ROTATE_LOGS.bind(usage_logs.rotate),
        DELETE_LOG_EXPORT.bind(usage_logs.delete_export),
        SWEEP_LOG_DAYS.bind(usage_logs.sweep_days),
        BACKFILL_QUOTA_TOTALS.bind(partial(quota_tasks.backfill_quota_totals, quotas=quotas)),
        SYNC_TEAMS.bind(partial(identity_tasks.sync_teams, teamsync=teamsync)),
        INDEX_MANIFEST.bind(scanner.index),
        REMATCH_MANIFESTS.bind(scanner.rematch),
        UPDATE_VULNDB.bind(scanner.update_database),
    ]
    if build_manager is not None:
        files = build_manager.service
        bindings.append(RUN_BUILD.bind(build_manager.run_build))
        bindings.append(PURGE_BUILD_FILES.bind(lambda _: files.purge_files()))
    schedules: list[Schedule[Any]] = [
        Schedule(PURGE_EXPIRED_UPLOADS, every_s=max(60, settings.upload_expiry_s // 24)),
        Schedule(PRUNE_JOBS, every_s=3600),
        Schedule(
            notification_tasks.NOTIFY_EXPIRING_TAGS,
            every_s=settings.notifications.expiry_sweep_interval_s,
        ),
    ]
    if settings.policies.auto_prune:
        schedules.append(Schedule(AUTOPRUNE_SWEEP, every_s=settings.policies.autoprune_interval_s))
    if settings.usage_logs.aggregated_counts:
        schedules.append(Schedule(SWEEP_LOG_DAYS, every_s=SWEEP_INTERVAL_S))
    if settings.usage_logs.rotation:
        schedules.append(Schedule(ROTATE_LOGS, every_s=settings.usage_logs.rotation_frequency_s))
    if settings.quotas.management and settings.quotas.backfill:
        schedules.append(
            Schedule(BACKFILL_QUOTA_TOTALS, every_s=settings.quotas.backfill_interval_s)
        )
    if teamsync.service is not None:
        schedules.append(Schedule(SYNC_TEAMS, every_s=max(60, settings.team_resync_s)))
    if settings.scanner.enabled:
        schedules.append(
            Schedule(REMATCH_MANIFESTS, every_s=max(1, settings.scanner.indexing_interval_s))
        )
        if settings.scanner.update_sources and settings.scanner.update_interval_s > 0:
            schedules.append(
                Schedule(UPDATE_VULNDB, every_s=max(60, settings.scanner.update_interval_s))
            )
    if settings.gc_interval_s > 0:
        schedules.append(Schedule(COLLECT_GARBAGE, every_s=settings.gc_interval_s))
    if build_manager is not None:
        schedules.append(Schedule(PURGE_BUILD_FILES, every_s=3600))
    if syncer is not None:
        bindings += [SCHEDULE_MIRRORS.bind(syncer.schedule), SYNC_MIRROR.bind(syncer.sync)]
        schedules.append(Schedule(SCHEDULE_MIRRORS, every_s=settings.mirroring.interval_s))
    lanes = {Lane(name): n for name, n in settings.job_lanes.items()}
    return JobRunner(jobs, bindings, schedules, lanes=lanes)


def _clair_blob_access(
    auth: AuthService, base_url: str, hostname: str, namespace: str, name: str, digest: str
) -> tuple[str, dict[str, list[str]]]:
    """A layer's URL on /v2 and a 10-minute pull token for it: what Clair fetches with."""
    token = auth.keyring.issue(
        "$clair",
        [{"type": "repository", "name": f"{namespace}/{name}", "actions": ["pull"]}],
        audience=hostname,
        ttl_s=600,
        context={"version": 2, "entity_kind": "security_scanner", "entity_reference": "clair"},
    )
    return (
        f"{base_url}/v2/{namespace}/{name}/blobs/{digest}",
        {"Authorization": [f"Bearer {token}"]},
    )


async def _attach_referrer(
    registry: Registry, namespace: str, name: str, subject: str, body: bytes, media_type: str
) -> str:
    """The scanner's SBOM as an OCI 1.1 artifact referring to ``subject`` (empty config,
    one layer, ``artifactType``), pushed by digest like ``oras attach`` does; its digest."""
    repo = await registry.find(RepoName(namespace, name))
    if repo is None:
        return ""
    target = await registry.details.get(repo, subject)
    layer_digest = "sha256:" + hashlib.sha256(body).hexdigest()

    async def one_chunk() -> AsyncIterator[bytes]:
        yield body

    await registry.blobs.put_monolithic(repo, layer_digest, one_chunk())
    manifest = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "artifactType": media_type,
        "config": {"mediaType": mt.OCI_EMPTY, "digest": mt.EMPTY_JSON_DIGEST, "size": 2},
        "layers": [
            {
                "mediaType": media_type,
                "digest": layer_digest,
                "size": len(body),
                "annotations": {"org.opencontainers.image.title": "sbom.spdx.json"},
            }
        ],
        "subject": {
            "mediaType": target.media_type,
            "digest": subject,
            "size": len(target.content),
        },
        "annotations": {"dev.berth.sbom.generator": "berth scanner"},
    }
    raw = json.dumps(manifest, sort_keys=True).encode()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    await registry.manifests.put(repo, digest, raw, mt.OCI_MANIFEST)
    return digest


def _vulnerability_payload(
    host: str, base_url: str, namespace: str, name: str, tags: list[str], f: Finding
) -> dict[str, Any]:
    """The scanner's findings as Quay's ``vulnerability_found`` payload."""
    return vulnerability_data(
        RepoRef(namespace, name, host, base_url),
        tags,
        vuln_id=f.advisory_id,
        description=f.description,
        link=f.links.split(" ")[0] if f.links else "",
        priority=f.severity,
        has_fix=bool(f.fixed_by),
    )


def _push_listener(settings: Settings, read_cache: ReadCache[Any]) -> PushListener:
    """Notifications always listen; the scanner only when it is on (no cost otherwise)."""
    notifier = PushNotifier(
        host=settings.server_hostname, base_url=settings.base_url, cache=read_cache
    )
    if settings.scanner.enabled:
        return Listeners(notifier, IndexOnPush())
    return notifier


def _read_cache(settings: Settings) -> ReadCache[Any]:
    """Embedded default: processes on one machine share generations through a mapped file.

    A shared database may have writers on other machines: there generations live in Redis
    when one is configured (``redis_options``); without one every read goes to the database.
    """
    if settings.is_sqlite:
        return ReadCache(SharedFileGenerations(settings.data_dir / "cache" / "generations"))
    options = settings.cache_redis
    if options is None:
        return NoCache()
    return ReadCache(RedisGenerations.from_options(options), ttl_s=60.0)


def _proxy_cache(
    settings: Settings,
    db: Database,
    storage: BlobStorage,
    pulls: PullLog,
    read_cache: ReadCache[Any],
    outbound: OutboundClients,
) -> tuple[ProxyCacheService | None, ProxyCache | None]:
    """FEATURE_PROXY_CACHE: the configurations' service and the registry's pull-through
    (both None when the feature is off: the registry then pays nothing for it)."""
    if not settings.proxy_cache.enabled:
        return None, None
    directory = ProxyDirectory(db, fernet_for(settings.database_secret_key), read_cache)
    pull_through = ProxyCache(
        db,
        storage,
        pulls,
        directory,
        outbound,
        settings=settings.proxy_cache,
        spool_dir=settings.data_dir / "proxy-cache-spool",
        max_manifest_bytes=settings.registry.max_manifest_bytes,
        cache=read_cache,
        locks=fetch_locks(db, settings.data_dir),
    )
    return ProxyCacheService(db, directory, outbound), pull_through


def _builds(
    settings: Settings,
    db: Database,
    jobs: JobQueue,
    outbound: OutboundClients,
    auth: AuthService,
    robots: RobotService,
) -> tuple[BuildService, BuildManager | None]:
    """Dockerfile builds: the service (the API and the triggers start builds with it), the
    push-token login, and the manager that runs them (None with FEATURE_BUILD_SUPPORT off)."""
    cfg = settings.builds
    service = BuildService(
        db,
        cfg,
        fernet=fernet_for(settings.database_secret_key),
        host=settings.server_hostname,
        base_url=settings.base_url,
    )
    if not cfg.enabled:
        return service, None
    tokens = PushTokens(auth, service, ttl_s=cfg.token_ttl_s)
    auth.register_special_login(PUSH_USER, tokens.login)

    async def robot_token(name: str) -> str | None:
        parts = split_robot_username(name)
        if parts is None:
            return None
        try:
            return (await robots.get(*parts, with_token=True)).token
        except (RobotNotFound, NamespaceNotFound):
            return None

    executor: Executor = (
        KubernetesExecutor(cfg.executor)
        if cfg.executor.kind == "kubernetes"
        else LocalExecutor(cfg.executor)
    )
    manager = BuildManager(
        service,
        cfg,
        executor,
        jobs=jobs,
        outbound=outbound,
        robot_token=robot_token,
        push_token=tokens.issue,
    )
    return service, manager


def _mirror_notifier(settings: Settings) -> Any:
    """``repo_mirror_sync_*`` events to the repository's notifications."""

    async def notify_mirror(
        s: Unit, event: str, namespace: str, name: str, repository_id: int, message: str,
        tags: list[str],
    ) -> int:  # fmt: skip
        repo = RepoRef(namespace, name, settings.server_hostname, settings.base_url)
        data = mirror_data(repo, message=message, tags=tags)
        return await notify(s, event, repository_id=repository_id, data=data)

    return notify_mirror


async def _notify_quota(s: Unit, c: Crossing) -> int:
    """A quota crossing to the namespace's ``quota_warning``/``quota_error`` notifications."""
    data = quota_data(
        c.namespace,
        used_bytes=c.usage_bytes,
        quota_bytes=c.limit_bytes,
        threshold_percent=c.threshold_percent,
        limit_type="Reject" if c.event == QUOTA_ERROR else "Warning",
    )
    return await notify(s, c.event, namespace_id=c.namespace_id, data=data)


def create_services(settings: Settings, *, pool_size: int = 10) -> Services:
    """Every service, built once. ``pool_size``: database connections per engine (one-shot
    CLI commands need one)."""
    auth_settings = settings.auth
    reg = settings.registry
    db = Database(settings.db_url, pool_size=pool_size)
    storage = create_storage(settings.storage.driver, settings.storage.args)
    # Pull counters: for the pull_statistics routes, and for auto-prune by last pull.
    pulls = PullLog(db, count=settings.registry.pull_stats or settings.policies.auto_prune)
    read_cache = _read_cache(settings)
    metrics = PrometheusRecorder(
        pool=db.pool_status, cache=lambda: (read_cache.hits, read_cache.misses)
    )
    federated = FederatedAccounts(db, default_tag_expiration_s=reg.default_tag_expiration_s)
    directory = LdapDirectory(settings.ldap) if settings.ldap is not None else None
    teamsync = TeamSyncService(
        db,
        directory=directory,
        accounts=federated,
        enabled=settings.api.team_syncing,
        oidc=bool(settings.oidc),
    )
    provider: IdentityProvider | None = None
    if directory is not None and settings.ldap is not None:
        provider = LdapProvider(
            directory,
            federated,
            secret_key=settings.secret_key,
            super_users=settings.super_users,
            readonly_super_users=settings.global_readonly_super_users,
            cache_ttl_s=settings.ldap.cache_ttl_s,
            on_sign_in=lambda user, found: teamsync.sync_user(user.id, found),
        )
    outbound = OutboundClients(settings.outbound)
    proxy_service, pull_through = _proxy_cache(settings, db, storage, pulls, read_cache, outbound)
    auth = AuthService(
        db,
        server_hostname=settings.server_hostname,
        issuer=auth_settings.issuer,
        secret_key=settings.secret_key,
        database_secret_key=settings.database_secret_key,
        super_users=settings.super_users,
        readonly_super_users=settings.global_readonly_super_users,
        policy=AccessPolicy(
            anonymous_access=auth_settings.anonymous_access,
            open_registry=auth_settings.open_registry,
        ),
        library_namespace=reg.library_namespace,
        token_ttl_s=auth_settings.token_ttl_s,
        create_private=reg.create_private_on_push,
        create_namespace_on_push=reg.create_namespace_on_push,
        default_tag_expiration_s=reg.default_tag_expiration_s,
        allow_catalog_scope=auth_settings.allow_catalog_scope,
        robots_disallow=auth_settings.robots_disallow,
        robots_whitelist=auth_settings.robots_whitelist,
        require_encrypted_basic_auth=auth_settings.require_encrypted_basic_auth,
        is_restricted_user=auth_settings.is_restricted_user,
        provider=provider,
        proxy_namespaces=pull_through.proxies if pull_through is not None else None,
    )
    logins = registry_logins(
        db, auth.fernet, settings.super_users, settings.global_readonly_super_users
    )
    for username, login in logins.items():
        if username != "$app" or auth_settings.app_specific_tokens:
            auth.register_special_login(username, login)
    quota_settings = settings.quotas
    quotas = QuotaService(db, default_reject_bytes=quota_settings.default_reject_bytes)
    enforcer = (
        QuotaEnforcer(
            db,
            NotifiedQuotaEvents(_notify_quota),
            default_reject_bytes=quota_settings.default_reject_bytes,
            cooldown_s=quota_settings.cooldown_s,
        )
        if quota_settings.enforced
        else None
    )
    registry = Registry(
        db,
        storage,
        pulls,
        read_cache=read_cache,
        library_namespace=reg.library_namespace,
        max_manifest_bytes=reg.max_manifest_bytes,
        read_only=reg.read_only,
        create_private=reg.create_private_on_push,
        default_tag_expiration_s=reg.default_tag_expiration_s,
        tag_settings=reg.tags,
        guard=TagGuard(ImmutabilityPolicies()),
        listener=_push_listener(settings, read_cache),
        artifacts=reg.artifacts,
        quota=enforcer,
        pull_through=pull_through,
    )
    jobs = JobQueue(db)
    pruner = Pruner(db, registry.manifests, default_rule=settings.policies.default_prune_rule)
    gc = GarbageCollector(
        db,
        storage,
        upload_expiry_s=settings.upload_expiry_s,
        default_grace_s=settings.gc_grace_s,
        cache=registry.blobs.cache,
        metrics=metrics,
    )
    notes = settings.notifications
    notifications = NotificationService(
        db,
        fernet_for(settings.database_secret_key),
        notes,
        check_url=partial(
            check_http_url,
            policy=AddressPolicy(settings.outbound.allowed),
            blacklist=notes.webhook_hostname_blacklist,
        ),
        host=settings.server_hostname,
        base_url=settings.base_url,
        cache=read_cache,
    )
    mailer = Mailer(notes.mail, title=notes.registry_title, base_url=settings.base_url)
    deliverer = Deliverer(db, notifications, mailer, outbound, title=notes.registry_title)
    usage_logs = UsageLogService(
        db,
        DatabaseLogsModel(db),
        storage,
        outbound,
        settings.usage_logs,
        secret_key=settings.secret_key,
        base_url=settings.base_url,
        mailer=mailer if notes.mailing else None,
    )
    rate_limit_service = RateLimitService(db)
    rl = settings.rate_limits
    limiter = RateLimiter(
        rl.limits,
        RedisCounter(rl.redis) if rl.redis is not None else LocalCounter(),
        OverrideCache(rate_limit_service.overrides),
    )
    oidc = OidcLogins(
        [
            OidcService(
                o, outbound, redirect_uri=f"{settings.base_url}/oauth2/{o.service_id}/callback"
            )
            for o in settings.oidc
        ],
        federated,
        on_sign_in=lambda user, groups: teamsync.sync_groups(user.id, groups),
    )
    scanner = ScannerService(
        db,
        storage,
        settings.scanner,
        notify=notify,
        payload=partial(_vulnerability_payload, settings.server_hostname, settings.base_url),
        outbound=outbound.client() if settings.scanner.update_sources else None,
        attach_referrer=partial(_attach_referrer, registry)
        if settings.scanner.sbom_referrer_namespaces
        else None,
        registry_host=settings.server_hostname,
        clair=ClairClient(
            outbound.client(), settings.scanner.clair_endpoint, settings.scanner.clair_psk
        )
        if settings.scanner.clair_endpoint
        else None,
        blob_access=partial(_clair_blob_access, auth, settings.base_url, settings.server_hostname),
    )
    mirrors: MirrorService | None = None
    syncer: MirrorSyncer | None = None
    if settings.mirroring.enabled:
        mirrors = MirrorService(
            db, fernet_for(settings.database_secret_key), outbound, cache=read_cache
        )
        syncer = MirrorSyncer(
            db,
            storage,
            registry.manifests,
            registry.blobs,
            mirrors,
            outbound,
            settings=settings.mirroring,
            notify=_mirror_notifier(settings),
            cache=read_cache,
        )
    robots = RobotService(
        db, fernet_for(settings.database_secret_key), disallow=auth_settings.robots_disallow
    )
    builds, build_manager = _builds(settings, db, jobs, outbound, auth, robots)
    runner = _job_runner(
        settings,
        db,
        storage,
        jobs,
        pruner,
        gc,
        deliverer,
        usage_logs,
        quotas,
        teamsync,
        scanner,
        build_manager,
        syncer=syncer,
    )
    federation = RobotFederationExchange(robots, outbound, issue=auth.issue_federated_robot_token)
    build_triggers = BuildTriggerService(
        db,
        fernet_for(settings.database_secret_key),
        settings.build_triggers,
        policy=AddressPolicy(settings.outbound.allowed),
        base_url=settings.base_url,
        builds=builds,
        outbound=outbound,
    )
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
            default_tag_expiration_s=reg.default_tag_expiration_s,
            tag_expiration_options=reg.tag_expiration_options,
            cache=read_cache,
        ),
        teams=TeamService(
            db,
            require_invite=settings.require_team_invite,
            invites=InviteNotifier(mailing=notes.mailing, base_url=settings.base_url),
        ),
        robots=robots,
        permissions=PermissionService(db),
        gc=gc,
        repos=RepositoryService(db, cache=read_cache),
        policies=PolicyService(db),
        pruner=pruner,
        accounts=AccountService(
            db,
            default_tag_expiration_s=reg.default_tag_expiration_s,
            audit_logins=settings.usage_logs.audit_logins,
            audit_login_failures=settings.usage_logs.audit_login_failures,
        ),
        oauth=OAuthService(db, auth.fernet),
        outbound=outbound,
        notifications=notifications,
        usage_logs=usage_logs,
        metrics=metrics,
        health=HealthService(
            db,
            storage,
            data_dir=settings.data_dir,
            redis_options=settings.cache_redis,
            keys_loaded=lambda: auth.keyring.can_sign,
        ),
        quotas=quotas,
        rate_limits=rate_limit_service,
        limiter=limiter,
        directory=directory,
        teamsync=teamsync,
        oidc=oidc,
        federated=federated,
        federation=federation,
        messages=MessageService(db),
        scanner=scanner,
        read_cache=read_cache,
        proxy_cache=proxy_service,
        pull_through=pull_through,
        builds=builds,
        build_triggers=build_triggers,
        mirrors=mirrors,
        mirror_syncer=syncer,
    )
