"""Manifest labels: read from the image config at push, added and removed through the API.

Labels pushed with an image (its config's ``config.Labels``, plus an OCI manifest's
``annotations``; an artifact has only its annotations, an index none) are stored once per
manifest with source ``manifest``; labels added through ``/api/v1`` have source ``api`` and
are the only ones that can be deleted. Two labels act on the tag they are pushed with
(Quay's label handlers):

* ``quay.expires-after`` (``30s``, ``20m``, ``1h``, ``2d``, ``3w``): the tag ends that long
  after it was pushed. An unreadable value is ignored, as Quay does: a push never fails
  because of a label.
* ``quay.immutable=true`` (with FEATURE_IMMUTABLE_TAGS): the tag refuses moves, deletion and
  (unless FEATURE_IMMUTABLE_TAGS_CAN_EXPIRE) expiry.

Reading labels costs one storage read of a small config blob per push of an image manifest,
and nothing for a config seen before (configs are content-addressed, so parsed labels are
kept per digest).
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from berth.audit.services import Performer
from berth.audit.services import record as audit_record
from berth.db.base import now_ms
from berth.db.fast import Unit
from berth.db.session import Database
from berth.durations import parse_duration
from berth.oci import mediatypes as mt
from berth.oci.imageconfig import parse_image_config
from berth.oci.manifest import ParsedManifest
from berth.registry.errors import (
    LabelImmutable,
    LabelInvalid,
    LabelReserved,
    LabelUnknown,
    ManifestUnknown,
)
from berth.registry.liveness import visible_manifest_id
from berth.registry.models import ManifestLabel
from berth.registry.repositories import RepoRow
from berth.storage.base import BlobNotFound, BlobStorage

EXPIRES_AFTER = "quay.expires-after"
IMMUTABLE = "quay.immutable"
# Configs larger than this are not read for labels (real image configs are a few KiB).
MAX_CONFIG_BYTES = 512 * 1024
# Quay's DEFAULT_LABEL_KEY_RESERVED_PREFIXES: not settable through the API.
DEFAULT_RESERVED_PREFIXES = (
    "com.docker.",
    "io.docker.",
    "org.dockerproject.",
    "org.opencontainers.",
    "io.cncf.",
    "io.kubernetes.",
    "io.k8s.",
    "io.quay",
    "com.coreos",
    "com.tectonic",
    "internal",
    "quay",
)
KEY_PATTERN = r"^[a-z0-9](([a-z0-9]|[-.](?![.-]))*[a-z0-9])?$"
_KEY_RE = re.compile(KEY_PATTERN)
MUTABLE_SOURCES = frozenset({"api"})


def label_media_type(value: str) -> str:
    """``application/json`` for a JSON object or array, else ``text/plain`` (Quay's rule)."""
    if (value.startswith("{") and value.endswith("}")) or (
        value.startswith("[") and value.endswith("]")
    ):
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return "text/plain"
        return "application/json"
    return "text/plain"


def expires_after_s(value: str) -> int | None:
    """``quay.expires-after`` in seconds, or None for a value that isn't a duration."""
    try:
        return parse_duration(value.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class PushLabels:
    """The labels an image carries and what they ask of the tag it is pushed with."""

    labels: dict[str, str] = field(default_factory=dict)
    expires_after_s: int | None = None
    immutable: bool = False

    @classmethod
    def of(cls, labels: dict[str, str]) -> PushLabels:
        labels = {k: v for k, v in labels.items() if k}  # Dockerfiles allow empty keys
        expiry = labels.get(EXPIRES_AFTER)
        return cls(
            labels,
            expires_after_s(expiry) if expiry is not None else None,
            labels.get(IMMUTABLE, "").strip().lower() == "true",
        )


NO_LABELS = PushLabels()


async def read_small_blob(storage: BlobStorage, digest: str) -> bytes | None:
    """The bytes of a blob known to be small (an image config), or None if it is missing."""
    chunks: list[bytes | bytearray] = []
    try:
        async for chunk in storage.read_blob(digest):
            chunks.append(chunk)
    except BlobNotFound:
        return None
    return b"".join(chunks)


def reads_config(parsed: ParsedManifest) -> bool:
    """Is this an image manifest whose (small) config is worth reading?"""
    config = parsed.config
    return (
        config is not None
        and parsed.media_type in mt.IMAGE_TYPES
        and config.media_type in mt.IMAGE_CONFIG_TYPES
        and config.size <= MAX_CONFIG_BYTES
    )


class PushLabelReader:
    """Labels of a manifest being pushed; parsed configs are kept per digest (LRU)."""

    def __init__(self, storage: BlobStorage, *, max_entries: int = 1024) -> None:
        self.storage = storage
        self.max_entries = max_entries
        self._by_config: OrderedDict[str, dict[str, str]] = OrderedDict()

    async def read(self, parsed: ParsedManifest) -> PushLabels:
        """Config labels, then the manifest's annotations over them (an index has none)."""
        if parsed.is_index:
            return NO_LABELS
        labels: dict[str, str] = {}
        if reads_config(parsed):
            assert parsed.config is not None
            labels = await self._config_labels(parsed.config.digest)
        if parsed.annotations:
            labels = {**labels, **parsed.annotations}
        return PushLabels.of(labels) if labels else NO_LABELS

    async def _config_labels(self, digest: str) -> dict[str, str]:
        found = self._by_config.get(digest)
        if found is not None:
            self._by_config.move_to_end(digest)
            return found
        config = await read_small_blob(self.storage, digest)
        if config is None:
            return {}  # the manifest's own check reports the missing blob
        labels = parse_image_config(config).labels
        self._by_config[digest] = labels
        if len(self._by_config) > self.max_entries:
            self._by_config.popitem(last=False)
        return labels


async def insert_manifest_labels(
    s: Unit, manifest_id: int, labels: dict[str, str], *, source: str = "manifest"
) -> None:
    """Store ``labels`` on a manifest in one statement."""
    now = now_ms()
    await s.execute(
        ManifestLabel.__table__.insert(),
        [
            {
                "id": str(uuid.uuid4()),
                "manifest_id": manifest_id,
                "key": key,
                "value": value,
                "source_type": source,
                "media_type": label_media_type(value),
                "created_at": now,
            }
            for key, value in labels.items()
        ],
    )


# ---- the labels API ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelRecord:
    id: str
    key: str
    value: str
    source_type: str
    media_type: str


_LABEL_COLUMNS = (
    ManifestLabel.id,
    ManifestLabel.key,
    ManifestLabel.value,
    ManifestLabel.source_type,
    ManifestLabel.media_type,
)


class LabelService:
    """List, add, get and delete the labels of a manifest visible in a repository."""

    def __init__(self, db: Database, *, reserved_prefixes: Iterable[str] = ()) -> None:
        self.db = db
        self.reserved_prefixes = (*DEFAULT_RESERVED_PREFIXES, *reserved_prefixes)

    async def list(
        self, repo: RepoRow, digest: str, *, prefix: str | None = None
    ) -> list[LabelRecord]:
        async with self.db.read() as s:
            manifest_id = await _manifest(s, repo, digest)
            stmt = (
                select(*_LABEL_COLUMNS)
                .where(ManifestLabel.manifest_id == manifest_id)
                .order_by(ManifestLabel.created_at, ManifestLabel.key)
            )
            if prefix:
                stmt = stmt.where(ManifestLabel.key.startswith(prefix, autoescape=True))
            return [LabelRecord(*row) for row in await s.execute(stmt)]

    async def get(self, repo: RepoRow, digest: str, label_id: str) -> LabelRecord:
        async with self.db.read() as s:
            return await _label(s, await _manifest(s, repo, digest), label_id)

    def check_key(self, key: str) -> None:
        """LabelReserved for a reserved prefix, LabelInvalid for a malformed key."""
        if key.startswith(self.reserved_prefixes):
            raise LabelReserved("Label has a reserved prefix", {"key": key})
        if len(key) > 255 or not _KEY_RE.match(key):
            raise LabelInvalid(
                "Label is of an invalid format or missing please use "
                f"{KEY_PATTERN} format for labels",
                {"key": key},
            )

    async def add(
        self,
        repo: RepoRow,
        digest: str,
        key: str,
        value: str,
        media_type: str | None,
        *,
        performer: Performer | None = None,
    ) -> LabelRecord:
        self.check_key(key)
        record = LabelRecord(
            str(uuid.uuid4()), key, value, "api", media_type or label_media_type(value)
        )
        async with self.db.write() as s:
            manifest_id = await _manifest(s, repo, digest)
            s.add(
                ManifestLabel(
                    id=record.id,
                    manifest_id=manifest_id,
                    key=key,
                    value=value,
                    source_type=record.source_type,
                    media_type=record.media_type,
                    created_at=now_ms(),
                )
            )
            _log(s, "manifest_label_add", repo, digest, record, performer)
        return record

    async def delete(
        self, repo: RepoRow, digest: str, label_id: str, *, performer: Performer | None = None
    ) -> LabelRecord:
        async with self.db.write() as s:
            manifest_id = await _manifest(s, repo, digest)
            label = await _label(s, manifest_id, label_id)
            if label.source_type not in MUTABLE_SOURCES:
                raise LabelImmutable(
                    "Cannot delete immutable label",
                    {"id": label_id, "source_type": label.source_type},
                )
            await s.execute(delete(ManifestLabel).where(ManifestLabel.id == label_id))
            _log(s, "manifest_label_delete", repo, digest, label, performer)
        return label


def _log(
    s: AsyncSession,
    kind: str,
    repo: RepoRow,
    digest: str,
    label: LabelRecord,
    performer: Performer | None,
) -> None:
    """A label change's usage-log entry (an added label's media type too, as in Quay)."""
    meta: dict[str, Any] = {"id": label.id, "key": label.key, "value": label.value}
    meta["manifest_digest"] = digest
    if kind == "manifest_label_add":
        meta["media_type"] = label.media_type
    meta.update(namespace=repo.namespace, repo=repo.name)
    audit_record(
        s, kind, repo.namespace, performer, repo.name, meta,
        namespace_id=repo.namespace_id, repository_id=repo.id,
    )  # fmt: skip


async def _manifest(s: AsyncSession, repo: RepoRow, digest: str) -> int:
    manifest_id = await visible_manifest_id(s, repo.id, digest, now_ms())
    if manifest_id is None:
        raise ManifestUnknown("manifest unknown", {"digest": digest})
    return manifest_id


async def _label(s: AsyncSession, manifest_id: int, label_id: str) -> LabelRecord:
    row = (
        await s.execute(
            select(*_LABEL_COLUMNS).where(
                ManifestLabel.id == label_id, ManifestLabel.manifest_id == manifest_id
            )
        )
    ).first()
    if row is None:
        raise LabelUnknown("label unknown", {"id": label_id})
    return LabelRecord(*row)
