"""Proxy-cache configurations of organizations: create, read, delete, validate, and the
directory the registry asks "is this namespace a proxy cache?".

Quay's rules: one configuration per organization and no update (clients delete and create
again); the upstream host is checked when it is configured (3.18's SSRF guard: it must
resolve, and to addresses ``SSRF_ALLOWED_HOSTS`` allows) and again at every connection (the
outbound client). Credentials are encrypted with DATABASE_SECRET_KEY and never returned.

The directory (``ProxyDirectory``) keeps every configuration in the read cache under one
key whose generation changes after a create or delete commits, so every process (and, with
Redis, every replica) sees the change at once; without a shared cache (a shared database
without Redis) each process re-reads the table at most every ``LOCAL_TTL_S`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import delete, select

from berth.audit.services import Performer, record
from berth.db.session import Database
from berth.namespaces.models import Namespace
from berth.outbound import (
    DestinationRefused,
    OutboundClients,
    OutboundError,
)
from berth.proxycache.errors import (
    AlreadyConfigured,
    InvalidUpstreamConfig,
    NotConfigured,
    ValidationFailed,
)
from berth.proxycache.models import ProxyCacheConfig
from berth.registry.cache import NoCache, ReadCache
from berth.upstream import (
    Credentials,
    InvalidUpstream,
    UpstreamAuthFailed,
    UpstreamClient,
    UpstreamError,
    UpstreamRegistry,
)

DIRECTORY_KEY = "\x00proxy-cache"  # the read cache's key of the configurations
LOCAL_TTL_S = 5.0
DEFAULT_EXPIRATION_S = 86400


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """A configuration as the registry uses it (credentials decrypted, in memory only)."""

    config_id: int
    namespace: str
    namespace_id: int
    upstream_registry: str
    expiration_s: int
    insecure: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def upstream(self) -> UpstreamRegistry:
        return UpstreamRegistry.parse(self.upstream_registry, insecure=self.insecure)

    @property
    def credentials(self) -> Credentials | None:
        if not self.username:
            return None
        return Credentials(self.username, self.password or "")


@dataclass(frozen=True, slots=True)
class ProxyView:
    """What ``GET …/proxycache`` shows (never the credentials)."""

    upstream_registry: str
    expiration_s: int | str
    insecure: bool | str


class ProxyDirectory:
    """Which namespaces are proxy caches, and their configurations."""

    def __init__(self, db: Database, fernet: Fernet, cache: ReadCache[Any] | None = None) -> None:
        self.db = db
        self.fernet = fernet
        self.cache: ReadCache[Any] = cache if cache is not None else NoCache()
        self._local: tuple[float, dict[str, ProxyConfig]] | None = None

    async def configs(self) -> dict[str, ProxyConfig]:
        found: dict[str, ProxyConfig] | None = self.cache.get(DIRECTORY_KEY, "configs")
        if found is not None:
            return found
        if not self.cache.enabled and self._local is not None:
            loaded_at, configs = self._local
            if time.monotonic() - loaded_at < LOCAL_TTL_S:
                return configs
        generation = self.cache.generation(DIRECTORY_KEY)
        configs = await self._load()
        self.cache.put(DIRECTORY_KEY, "configs", configs, generation)
        self._local = (time.monotonic(), configs)
        return configs

    async def get(self, namespace: str) -> ProxyConfig | None:
        return (await self.configs()).get(namespace)

    async def proxies(self, namespace: str) -> bool:
        return namespace in await self.configs()

    def changed(self) -> None:
        """After a create or delete committed."""
        self._local = None
        self.cache.invalidate(DIRECTORY_KEY)

    def _decrypt(self, data: bytes | None) -> str | None:
        return self.fernet.decrypt(data).decode() if data else None

    async def _load(self) -> dict[str, ProxyConfig]:
        stmt = select(ProxyCacheConfig, Namespace.name).join(
            Namespace, Namespace.id == ProxyCacheConfig.namespace_id
        )
        async with self.db.read() as s:
            rows = (await s.execute(stmt)).all()
        return {
            name: ProxyConfig(
                config_id=row.id,
                namespace=name,
                namespace_id=row.namespace_id,
                upstream_registry=row.upstream_registry,
                expiration_s=row.expiration_s,
                insecure=row.insecure,
                username=self._decrypt(row.username_encrypted),
                password=self._decrypt(row.password_encrypted),
            )
            for row, name in rows
        }


class ProxyCacheService:
    """The ``proxycache`` and ``validateproxycache`` operations (each its own unit of work,
    with its usage-log entry)."""

    def __init__(self, db: Database, directory: ProxyDirectory, outbound: OutboundClients) -> None:
        self.db = db
        self.directory = directory
        self.outbound = outbound

    async def get(self, org: str) -> ProxyView:
        config = await self.directory.get(org)
        if config is None:
            return ProxyView("", "", "")  # Quay: 200 with empty strings
        return ProxyView(config.upstream_registry, config.expiration_s, config.insecure)

    async def check_upstream(self, value: str, *, insecure: bool) -> UpstreamRegistry:
        """Quay 3.18's check of the upstream host: a registry address whose host resolves,
        to addresses the SSRF guard allows. Raises ``InvalidUpstreamConfig``."""
        try:
            upstream = UpstreamRegistry.parse(value, insecure=insecure)
        except InvalidUpstream as e:
            raise InvalidUpstreamConfig("The provided registry URL is not allowed") from e
        port = 80 if upstream.scheme == "http" else 443
        if ":" in upstream.api_host.rsplit("]", 1)[-1]:
            port = int(upstream.api_host.rsplit(":", 1)[1])
        try:
            await self.outbound.client().check_destination(upstream.hostname, port)
        except DestinationRefused as e:
            raise InvalidUpstreamConfig("The provided registry URL is not allowed") from e
        except OutboundError as e:
            raise InvalidUpstreamConfig(f"Cannot resolve hostname '{upstream.hostname}'") from e
        return upstream

    async def create(
        self,
        org: str,
        upstream_registry: str,
        *,
        username: str | None,
        password: str | None,
        expiration_s: int | None,
        insecure: bool,
        performer: Performer | None,
    ) -> None:
        fernet = self.directory.fernet
        async with self.db.read() as s:
            ns = (
                await s.execute(select(Namespace.id).where(Namespace.name == org))
            ).scalar_one_or_none()
            exists = (
                ns is not None
                and (
                    await s.execute(
                        select(ProxyCacheConfig.id).where(ProxyCacheConfig.namespace_id == ns)
                    )
                ).scalar_one_or_none()
            )
        if ns is None:
            raise NotConfigured(f"organization {org} does not exist")
        if exists:  # checked before the host, as Quay does
            raise AlreadyConfigured("Proxy Cache Configuration already exists")
        await self.check_upstream(upstream_registry, insecure=insecure)
        async with self.db.write() as s:
            taken = (
                await s.execute(
                    select(ProxyCacheConfig.id).where(ProxyCacheConfig.namespace_id == ns)
                )
            ).scalar_one_or_none()
            if taken:
                raise AlreadyConfigured("Proxy Cache Configuration already exists")
            s.add(
                ProxyCacheConfig(
                    namespace_id=ns,
                    upstream_registry=upstream_registry.strip(),
                    username_encrypted=fernet.encrypt(username.encode()) if username else None,
                    password_encrypted=fernet.encrypt(password.encode()) if password else None,
                    expiration_s=expiration_s if expiration_s is not None else DEFAULT_EXPIRATION_S,
                    insecure=insecure,
                )
            )
            record(
                s,
                "create_proxy_cache_config",
                org,
                performer,
                metadata={"upstream_registry": upstream_registry, "namespace": org},
                namespace_id=ns,
            )
        self.directory.changed()

    async def delete(self, org: str, *, performer: Performer | None) -> None:
        async with self.db.write() as s:
            row = (
                await s.execute(
                    select(ProxyCacheConfig.id, ProxyCacheConfig.upstream_registry, Namespace.id)
                    .join(Namespace, Namespace.id == ProxyCacheConfig.namespace_id)
                    .where(Namespace.name == org)
                )
            ).first()
            if row is None:
                raise NotConfigured("Proxy Cache Configuration not found")
            await s.execute(delete(ProxyCacheConfig).where(ProxyCacheConfig.id == row[0]))
            record(
                s,
                "delete_proxy_cache_config",
                org,
                performer,
                metadata={"upstream_registry": row[1], "namespace": org},
                namespace_id=row[2],
            )
        self.directory.changed()

    async def validate(
        self,
        upstream_registry: str,
        *,
        username: str | None,
        password: str | None,
        insecure: bool,
    ) -> str:
        """Quay's validateproxycache: "Valid" when the credentials log in, "Anonymous" when
        none were given and anonymous access works; ``ValidationFailed`` otherwise."""
        upstream = await self.check_upstream(upstream_registry, insecure=insecure)
        credentials = Credentials(username, password or "") if username else None
        client = UpstreamClient(
            self.outbound.client(verify_tls=not insecure), upstream, credentials
        )
        try:
            logged_in = await client.ping()
        except UpstreamAuthFailed as e:
            raise ValidationFailed(
                "Failed login to remote registry. Please verify entered details and try again."
            ) from e
        except UpstreamError as e:
            raise ValidationFailed("Failed to validate Proxy cache configuration") from e
        return "Valid" if logged_in else "Anonymous"
