"""One manifest as the Quay API describes it: its bytes, kind, config type and layers.

Layer details (command, author, comment, creation time) come from the image config's
``history``; the config is read from storage once per request, and only for image manifests
with a small config. An index, or an artifact, has no layers to describe.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from berth.db.base import now_ms
from berth.db.session import Database
from berth.oci.imageconfig import HistoryEntry, parse_image_config
from berth.oci.manifest import ParsedManifest, parse_manifest
from berth.registry.errors import ManifestUnknown
from berth.registry.labels import read_small_blob, reads_config
from berth.registry.liveness import visible
from berth.registry.models import Manifest
from berth.registry.repositories import RepoRow
from berth.storage.base import BlobStorage


@dataclass(frozen=True, slots=True)
class LayerDetails:
    index: int
    digest: str
    size: int
    urls: tuple[str, ...]
    history: HistoryEntry | None  # None when the config says nothing about this layer


@dataclass(frozen=True, slots=True)
class ManifestDetails:
    digest: str
    media_type: str
    content: bytes
    is_manifest_list: bool
    config_media_type: str | None
    layers_size: int | None
    layers: tuple[LayerDetails, ...] | None  # None for an index


class ManifestDetailsService:
    def __init__(self, db: Database, storage: BlobStorage) -> None:
        self.db = db
        self.storage = storage

    async def get(self, repo: RepoRow, digest: str) -> ManifestDetails:
        """The visible manifest ``digest`` of the repository (ManifestUnknown otherwise)."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Manifest.media_type, Manifest.content, Manifest.layers_size).where(
                        Manifest.repository_id == repo.id,
                        Manifest.digest == digest,
                        visible(now_ms()),
                    )
                )
            ).first()
        if row is None:
            raise ManifestUnknown("manifest unknown", {"digest": digest})
        media_type, content, layers_size = row
        parsed = parse_manifest(content, media_type)
        return ManifestDetails(
            digest=digest,
            media_type=media_type,
            content=content,
            is_manifest_list=parsed.is_index,
            config_media_type=parsed.config.media_type if parsed.config else None,
            layers_size=layers_size,
            layers=None if parsed.is_index else await self._layers(parsed),
        )

    async def _layers(self, parsed: ParsedManifest) -> tuple[LayerDetails, ...]:
        history: tuple[HistoryEntry, ...] = ()
        if reads_config(parsed) and parsed.config is not None:
            config = await read_small_blob(self.storage, parsed.config.digest)
            if config is not None:
                history = parse_image_config(config).layer_history()
        if len(history) != len(parsed.layers):
            history = ()  # a config that disagrees with the layers describes none of them
        return tuple(
            LayerDetails(
                index=i,
                digest=layer.digest,
                size=layer.size,
                urls=layer.urls,
                history=history[i] if history else None,
            )
            for i, layer in enumerate(parsed.layers)
        )
