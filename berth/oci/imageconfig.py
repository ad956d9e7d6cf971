"""Lenient reading of image configuration blobs (OCI image config, Docker image v1).

The config is metadata for display and search, never a reason to refuse a push, so
odd content yields empty fields rather than errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["ImageConfig", "parse_image_config"]


@dataclass(frozen=True, slots=True)
class ImageConfig:
    labels: dict[str, str] = field(default_factory=dict)
    os: str | None = None
    architecture: str | None = None
    created: str | None = None


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
    )


def _text(value: Any) -> str | None:
    # NUL cannot be stored in a PostgreSQL text column; such a value is just dropped.
    return value if isinstance(value, str) and value and "\x00" not in value else None
