"""Pull statistics (Quay 3.16, FEATURE_IMAGE_PULL_STATS): how often and when a tag and a
manifest were last pulled. The counters are written by the pull log's flush
(``berth.registry.pulls``), within about a second of the pulls; this module reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.db.base import now_ms
from berth.db.session import Database
from berth.registry.errors import ManifestUnknown, TagUnknown
from berth.registry.liveness import alive, visible_manifest_id
from berth.registry.models import Manifest, ManifestPullStat, Tag, TagPullStat
from berth.registry.repositories import RepoRow


@dataclass(frozen=True, slots=True)
class PullCount:
    count: int
    last_ms: int | None


@dataclass(frozen=True, slots=True)
class TagPulls:
    tag: str
    tag_pulls: PullCount
    manifest_digest: str
    manifest_pulls: PullCount


NONE = PullCount(0, None)


class PullStatsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def _count(s: AsyncSession, stmt: Any) -> PullCount:
        row = (await s.execute(stmt)).first()
        return PullCount(int(row[0]), int(row[1])) if row else NONE

    async def tag(self, repo: RepoRow, tag: str) -> TagPulls:
        """A live tag's pulls and those of the manifest it points at (``TagUnknown``)."""
        async with self.db.read() as s:
            digest = (
                await s.execute(
                    select(Manifest.digest)
                    .join(Tag, Tag.manifest_id == Manifest.id)
                    .where(
                        Tag.repository_id == repo.id,
                        Tag.name == tag,
                        Tag.hidden.is_(False),
                        alive(now_ms()),
                    )
                )
            ).scalar()
            if digest is None:
                raise TagUnknown("tag not found", {"tag": tag})
            tag_pulls = await self._count(
                s,
                select(TagPullStat.pull_count, TagPullStat.last_pull_at).where(
                    TagPullStat.repository_id == repo.id, TagPullStat.tag_name == tag
                ),
            )
            manifest_pulls = await self._manifest(s, repo.id, digest)
        return TagPulls(tag, tag_pulls, digest, manifest_pulls)

    async def tags(self, repo: RepoRow, names: list[str]) -> dict[str, PullCount]:
        """The pulls of each named tag of the repository, in one query (a tag never pulled
        is absent): the web UI's tags tab."""
        if not names:
            return {}
        async with self.db.read() as s:
            rows = await s.execute(
                select(
                    TagPullStat.tag_name, TagPullStat.pull_count, TagPullStat.last_pull_at
                ).where(
                    TagPullStat.repository_id == repo.id,
                    TagPullStat.tag_name.in_(sorted(set(names))),
                )
            )
            return {name: PullCount(int(n), int(last)) for name, n, last in rows}

    async def _manifest(self, s: AsyncSession, repository_id: int, digest: str) -> PullCount:
        return await self._count(
            s,
            select(ManifestPullStat.pull_count, ManifestPullStat.last_pull_at).where(
                ManifestPullStat.repository_id == repository_id, ManifestPullStat.digest == digest
            ),
        )

    async def manifest(self, repo: RepoRow, digest: str) -> PullCount:
        """A visible manifest's pulls, by tag or digest (``ManifestUnknown``)."""
        async with self.db.read() as s:
            if await visible_manifest_id(s, repo.id, digest, now_ms()) is None:
                raise ManifestUnknown("manifest unknown", {"digest": digest})
            return await self._manifest(s, repo.id, digest)
