"""Quay's JSON shapes for tags, manifests and labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from berth.http.api.v1.formats import format_date
from berth.registry.labels import LabelRecord
from berth.registry.manifest_details import LayerDetails, ManifestDetails
from berth.registry.tags import TagRecord


def tag_view(tag: TagRecord, *, with_immutable: bool) -> dict[str, Any]:
    """An entry of ``GET /repository/{r}/tag/``: timestamps in whole seconds, ``end_ts`` and
    ``expiration`` only for an ended or expiring row, ``immutable`` with the feature on."""
    start = tag.start_ms // 1000
    end = tag.end_ms // 1000 if tag.end_ms is not None else None
    view: dict[str, Any] = {"name": tag.name, "reversion": tag.reversion}
    if start > 0:
        view["start_ts"] = start
    if end:
        view["end_ts"] = end
    view["manifest_digest"] = tag.manifest_digest
    view["is_manifest_list"] = tag.is_manifest_list
    view["size"] = tag.size
    if start > 0:
        view["last_modified"] = format_date(start * 1000)
    if end is not None:
        view["expiration"] = format_date(end * 1000)
    if with_immutable:
        view["immutable"] = tag.immutable
    return view


def label_view(label: LabelRecord) -> dict[str, Any]:
    return {
        "id": label.id,
        "key": label.key,
        "value": label.value,
        "source_type": label.source_type,
        "media_type": label.media_type,
    }


def _created(value: str | None) -> str | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_date(int(moment.timestamp() * 1000))


def layer_view(layer: LayerDetails) -> dict[str, Any]:
    history = layer.history
    return {
        "index": layer.index,
        "compressed_size": layer.size,
        "is_remote": bool(layer.urls),
        "urls": list(layer.urls) or None,
        "command": [history.created_by] if history and history.created_by else None,
        "comment": history.comment if history else None,
        "author": history.author if history else None,
        "blob_digest": layer.digest,
        "created_datetime": _created(history.created) if history else None,
    }


def manifest_view(manifest: ManifestDetails) -> dict[str, Any]:
    """``GET /repository/{r}/manifest/{digest}``."""
    return {
        "digest": manifest.digest,
        "is_manifest_list": manifest.is_manifest_list,
        "manifest_data": manifest.content.decode("utf-8", "replace"),
        "config_media_type": manifest.config_media_type,
        "layers_compressed_size": manifest.layers_size,
        "layers": [layer_view(layer) for layer in manifest.layers] if manifest.layers else None,
    }
