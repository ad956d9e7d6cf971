"""The registry facade the /v2 edge and /api/v1 talk to: repositories, blobs, uploads,
manifests, tags and labels."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from berth.db.session import Database
from berth.oci.artifacts import ArtifactRules
from berth.registry.blobs import BlobService
from berth.registry.cache import ReadCache
from berth.registry.events import PushListener
from berth.registry.immutability import TagGuard
from berth.registry.labels import LabelService
from berth.registry.manifest_details import ManifestDetailsService
from berth.registry.manifests import ManifestService
from berth.registry.models import Upload
from berth.registry.pull_stats import PullStatsService
from berth.registry.pulls import PullLog
from berth.registry.pullthrough import PullThrough
from berth.registry.quota import QuotaGuard
from berth.registry.repositories import (
    RepoName,
    RepoRow,
    create_repository,
    ensure_writable,
    find_repository,
    get_repository,
    parse_repo_name,
)
from berth.registry.settings import TagSettings
from berth.registry.tags import TagService
from berth.storage.base import BlobStorage


class Registry:
    def __init__(
        self,
        db: Database,
        storage: BlobStorage,
        pulls: PullLog,
        *,
        library_namespace: str | None,
        max_manifest_bytes: int,
        read_only: bool,
        create_private: bool,
        default_tag_expiration_s: int,
        read_cache: ReadCache[Any] | None = None,
        tag_settings: TagSettings | None = None,
        guard: TagGuard | None = None,
        listener: PushListener | None = None,
        artifacts: ArtifactRules | None = None,
        quota: QuotaGuard | None = None,
        pull_through: PullThrough | None = None,
    ) -> None:
        self.db = db
        # Proxy-cache organizations (berth.registry.pullthrough); None: the feature is off.
        self.pull_through = pull_through
        self.library = library_namespace
        self.read_only = read_only
        self.create_private = create_private
        self.default_tag_expiration_s = default_tag_expiration_s
        self.blobs = BlobService(db, storage, cache=read_cache)
        tag_settings = tag_settings or TagSettings()
        self.manifests = ManifestService(
            db,
            storage,
            pulls,
            max_manifest_bytes=max_manifest_bytes,
            cache=read_cache,
            tag_settings=tag_settings,
            guard=guard,
            listener=listener,
            artifacts=artifacts,
            quota=quota,
        )
        self.details = ManifestDetailsService(db, storage)
        self.tags = TagService(db, cache=read_cache, settings=tag_settings, guard=guard)
        self.pull_stats = PullStatsService(db)
        self.labels = LabelService(db, reserved_prefixes=tag_settings.reserved_label_prefixes)

    async def uploads_in_flight(self) -> int:
        """Upload sessions started and not yet finished, cancelled or expired."""
        async with self.db.read() as s:
            return int((await s.execute(select(func.count()).select_from(Upload))).scalar_one())

    def name(self, raw: str) -> RepoName:
        return parse_repo_name(raw, library=self.library)

    async def repository(self, repo: RepoName) -> RepoRow:
        async with self.db.read() as s:
            return await get_repository(s, repo)

    async def find(self, repo: RepoName) -> RepoRow | None:
        async with self.db.read() as s:
            return await find_repository(s, repo)

    async def repository_for_push(
        self, repo: RepoName, *, create: bool, create_namespace: bool = False
    ) -> RepoRow:
        """The repository a write goes to, created when allowed; refuses non-NORMAL states."""
        async with self.db.read_fast() as s:
            row = await find_repository(s, repo)
        if row is None and create:
            async with self.db.write() as s:
                row = await create_repository(
                    s,
                    repo,
                    is_public=not self.create_private,
                    create_namespace=create_namespace,
                    namespace_expiration_s=self.default_tag_expiration_s,
                )
        if row is None:
            async with self.db.read() as s:
                row = await get_repository(s, repo)
        ensure_writable(row, registry_read_only=self.read_only)
        return row
