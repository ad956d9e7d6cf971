"""Lenient reading of image configuration blobs (OCI image config, Docker image v1).

The config is metadata for display and search, never a reason to refuse a push, so
odd content yields empty fields rather than errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["HistoryEntry", "ImageConfig", "parse_image_config"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One ``history`` entry; those without ``empty_layer`` describe the layers in order."""

    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False


@dataclass(frozen=True, slots=True)
class ImageConfig:
    labels: dict[str, str] = field(default_factory=dict)
    os: str | None = None
    architecture: str | None = None
    created: str | None = None
    history: tuple[HistoryEntry, ...] = ()

    def layer_history(self) -> tuple[HistoryEntry, ...]:
        """The history entries that made a layer, one per layer of the image."""
        return tuple(h for h in self.history if not h.empty_layer)


def parse_image_config(body: bytes) -> ImageConfig:
    try:
        doc: Any = orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        return ImageConfig()
    if not isinstance(doc, dict):
        return ImageConfig()

    labels: dict[str, str] = {}
    runtime = doc.get("config")
    if isinstance(runtime, dict):
        raw_labels = runtime.get("Labels")
        if isinstance(raw_labels, dict):
            labels = {
                k: v
                for k, v in raw_labels.items()
                if isinstance(v, str) and "\x00" not in k and "\x00" not in v
            }

    return ImageConfig(
        labels=labels,
        os=_text(doc.get("os")),
        architecture=_text(doc.get("architecture")),
        created=_text(doc.get("created")),
        history=_history(doc.get("history")),
    )


def _history(value: Any) -> tuple[HistoryEntry, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        HistoryEntry(
            created=_text(h.get("created")),
            created_by=_text(h.get("created_by")),
            author=_text(h.get("author")),
            comment=_text(h.get("comment")),
            empty_layer=h.get("empty_layer") is True,
        )
        for h in value
        if isinstance(h, dict)
    )


def _text(value: Any) -> str | None:
    # NUL cannot be stored in a PostgreSQL text column; such a value is just dropped.
    return value if isinstance(value, str) and value and "\x00" not in value else None
