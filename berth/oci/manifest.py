"""Parsing and strict validation of image manifests and indexes.

Supported: OCI image manifest and index (image spec v1.1), Docker image manifest v2
schema 2 and manifest list. Docker schema 1 and unknown media types are refused with
ManifestUnsupported; anything malformed with ManifestInvalid, whose message starts with
the JSON path of the offending field (``layers[2].digest: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson

from berth.oci.digest import InvalidDigest, UnsupportedDigest, parse_digest
from berth.oci.mediatypes import (
    FOREIGN_LAYER_TYPES,
    IMAGE_CONFIG_TYPES,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1_TYPES,
)

__all__ = [
    "Descriptor",
    "ManifestInvalid",
    "ManifestUnsupported",
    "ParsedManifest",
    "parse_manifest",
]

# RFC 6838 type "/" subtype (the pattern the OCI JSON schemas intend).
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_MAX_SIZE = 2**63 - 1  # descriptor sizes are int64
_SHOW_LIMIT = 80


class ManifestInvalid(ValueError):
    """The manifest is malformed. ``detail`` holds machine-readable context."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        self.message = message
        self.detail: dict[str, Any] = dict(detail) if detail else {}
        super().__init__(message)


class ManifestUnsupported(ManifestInvalid):
    """The manifest's media type is unknown or not supported (e.g. Docker schema 1)."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] | None = None
    artifact_type: str | None = None
    platform: dict[str, Any] | None = None
    urls: tuple[str, ...] = ()

    @property
    def is_foreign(self) -> bool:
        """A layer whose bytes live elsewhere (at ``urls``); the registry need not hold it."""
        return self.media_type in FOREIGN_LAYER_TYPES or bool(self.urls)


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    is_index: bool
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    def blob_descriptors(self) -> tuple[Descriptor, ...]:
        """Blobs the registry must hold: the config and every non-foreign layer, once each."""
        candidates = [self.config] if self.config is not None else []
        candidates.extend(layer for layer in self.layers if not layer.is_foreign)
        return _unique_by_digest(candidates)

    def child_digests(self) -> tuple[str, ...]:
        """Digests of the manifests an index lists, once each, in order (empty otherwise)."""
        return tuple(d.digest for d in _unique_by_digest(self.manifests))


def _unique_by_digest(descriptors: Any) -> tuple[Descriptor, ...]:
    seen: set[str] = set()
    out: list[Descriptor] = []
    for d in descriptors:
        if d.digest not in seen:
            seen.add(d.digest)
            out.append(d)
    return tuple(out)


# ---------------------------------------------------------------------------- parsing


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Parse and validate a manifest body pushed with the given Content-Type header."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ManifestInvalid(
            f"manifest is not valid JSON: {exc}", {"path": "", "reason": str(exc)}
        ) from None
    if not isinstance(doc, dict):
        raise ManifestInvalid(
            f"manifest must be a JSON object, not {_json_kind(doc)}", {"path": ""}
        )

    media_type = _resolve_media_type(doc, content_type)
    if media_type in SCHEMA1_TYPES:
        raise ManifestUnsupported(
            "Docker schema 1 manifests are not supported; push with a client that "
            "writes schema 2 or OCI manifests",
            {"mediaType": media_type},
        )
    if media_type not in MANIFEST_TYPES:
        raise ManifestUnsupported(
            f"unsupported manifest media type {_show(media_type)}",
            {"mediaType": media_type, "supported": list(MANIFEST_TYPES)},
        )

    version = doc.get("schemaVersion")
    if type(version) is not int or version != 2:
        if "schemaVersion" not in doc:
            _fail("schemaVersion", "is required and must be 2")
        _fail("schemaVersion", f"must be 2, got {_show(version)}")

    is_index = media_type in INDEX_TYPES
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    if is_index:
        # An index must not also read as an image manifest (and vice versa): clients
        # would disagree on what was pushed (the CVE-2021-41190 ambiguity).
        for key in ("config", "layers"):
            if doc.get(key) is not None:
                _fail(key, "is not allowed in an image index")
        manifests = _descriptor_list(doc, "manifests", required=True)
    else:
        if doc.get("manifests") is not None:
            _fail("manifests", "is not allowed in an image manifest")
        config = _descriptor(_required(doc, "config"), "config")
        layers = _descriptor_list(doc, "layers", required=media_type == OCI_MANIFEST)

    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = {}
    if media_type in (OCI_MANIFEST, OCI_INDEX):  # Docker schema 2 defines none of these
        if doc.get("subject") is not None:
            subject = _descriptor(doc["subject"], "subject")
        artifact_type = _optional_media_type(doc, "artifactType", "artifactType")
        annotations = _optional_annotations(doc, "annotations", "annotations") or {}

    if artifact_type is None and config is not None and config.media_type not in IMAGE_CONFIG_TYPES:
        artifact_type = config.media_type

    return ParsedManifest(
        media_type=media_type,
        is_index=is_index,
        config=config,
        layers=layers,
        manifests=manifests,
        subject=subject,
        artifact_type=artifact_type,
        annotations=annotations,
    )


def _resolve_media_type(doc: dict[str, Any], content_type: str | None) -> str:
    header = _header_media_type(content_type)
    if "mediaType" in doc:
        declared = doc["mediaType"]
        if not isinstance(declared, str):
            _fail("mediaType", f"must be a string, got {_json_kind(declared)}")
        if header is not None and header != declared.lower():
            raise ManifestInvalid(
                f"mediaType: {_show(declared)} does not match the Content-Type {_show(header)}",
                {"path": "mediaType", "mediaType": declared, "contentType": header},
            )
        return declared
    if header is not None:
        return header
    # Neither: the image spec lets us tell an index from a manifest by its fields.
    if doc.get("schemaVersion") == 1 and type(doc.get("schemaVersion")) is int:
        return SCHEMA1_TYPES[0]
    has_manifests = "manifests" in doc
    has_image_fields = "config" in doc or "layers" in doc
    if has_manifests and not has_image_fields:
        return OCI_INDEX
    if has_image_fields and not has_manifests:
        return OCI_MANIFEST
    raise ManifestInvalid(
        "mediaType: missing, no Content-Type was sent, and the fields do not tell an "
        "image manifest (config, layers) from an index (manifests)",
        {"path": "mediaType"},
    )


# Content-Types some clients send for any JSON body: they say nothing about the manifest kind.
_GENERIC_CONTENT_TYPES = frozenset({"application/json", "application/octet-stream", "text/plain"})


def _header_media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    main = content_type.split(";", 1)[0].strip().lower()
    if main in _GENERIC_CONTENT_TYPES:
        return None
    return main or None


# ---------------------------------------------------------------------- field helpers


def _fail(path: str, problem: str, **detail: Any) -> NoReturn:
    raise ManifestInvalid(f"{path}: {problem}", {"path": path, **detail})


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _SHOW_LIMIT:
        text = text[: _SHOW_LIMIT - 3] + "..."
    return text


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _required(obj: dict[str, Any], key: str, path: str | None = None) -> Any:
    value = obj.get(key)
    if value is None:
        _fail(path or key, "is required")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"must be a string, got {_json_kind(value)}")
    if "\x00" in value:
        _fail(path, "must not contain NUL characters")
    return value


def _media_type(value: Any, path: str) -> str:
    text = _string(value, path)
    if _MEDIA_TYPE_RE.fullmatch(text) is None:
        _fail(path, f"{_show(text)} is not a media type (type/subtype)")
    return text


def _optional_media_type(obj: dict[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":  # the image spec treats empty like missing
        return None
    return _media_type(value, path)


def _optional_annotations(obj: dict[str, Any], key: str, path: str) -> dict[str, str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        _fail(path, f"must be an object of strings, got {_json_kind(value)}")
    out: dict[str, str] = {}
    for name, item in value.items():
        if "\x00" in name:
            _fail(path, "keys must not contain NUL characters")
        out[name] = _string(item, f"{path}[{_show(name)}]")
    return out


def _string_list(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        _fail(path, f"must be an array of strings, got {_json_kind(value)}")
    return tuple(_string(item, f"{path}[{i}]") for i, item in enumerate(value))


def _descriptor_list(doc: dict[str, Any], key: str, *, required: bool) -> tuple[Descriptor, ...]:
    value = doc.get(key)
    if value is None:
        if required:
            _fail(key, "is required (an array of descriptors, possibly empty)")
        return ()
    if not isinstance(value, list):
        _fail(key, f"must be an array of descriptors, got {_json_kind(value)}")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def _descriptor(value: Any, path: str) -> Descriptor:
    if not isinstance(value, dict):
        _fail(path, f"must be a descriptor object, got {_json_kind(value)}")

    mt_path, digest_path = f"{path}.mediaType", f"{path}.digest"
    media_type = _media_type(_required(value, "mediaType", mt_path), mt_path)
    digest = _descriptor_digest(_required(value, "digest", digest_path), digest_path)
    size = _size(value.get("size"), "size" in value, f"{path}.size")

    urls: tuple[str, ...] = ()
    if value.get("urls") is not None:
        urls = _string_list(value["urls"], f"{path}.urls")
        for i, url in enumerate(urls):
            if not url:
                _fail(f"{path}.urls[{i}]", "must not be empty")

    platform = None
    if value.get("platform") is not None:
        platform = _platform(value["platform"], f"{path}.platform")

    if value.get("data") is not None:
        _string(value["data"], f"{path}.data")

    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        annotations=_optional_annotations(value, "annotations", f"{path}.annotations"),
        artifact_type=_optional_media_type(value, "artifactType", f"{path}.artifactType"),
        platform=platform,
        urls=urls,
    )


def _descriptor_digest(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"must be a digest string, got {_json_kind(value)}")
    try:
        return str(parse_digest(value))
    except UnsupportedDigest as exc:
        _fail(
            path,
            f"unsupported digest algorithm {_show(exc.algorithm)} (use sha256 or sha512)",
            digest=value,
        )
    except InvalidDigest as exc:
        _fail(path, f"invalid digest {_show(value)}: {exc.reason}", digest=value)


def _size(value: Any, present: bool, path: str) -> int:
    if not present:
        _fail(path, "is required")
    if type(value) is not int:
        if isinstance(value, float) and value.is_integer() and value > _MAX_SIZE:
            _fail(path, "is out of range (at most 2^63-1)")
        _fail(path, f"must be a non-negative integer, got {_show(value)}")
    if value < 0:
        _fail(path, f"must be a non-negative integer, got {value}")
    if value > _MAX_SIZE:
        _fail(path, "is out of range (at most 2^63-1)")
    return value


def _platform(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(path, f"must be an object, got {_json_kind(value)}")
    for key in ("architecture", "os"):
        _string(_required(value, key, f"{path}.{key}"), f"{path}.{key}")
    for key in ("os.version", "variant"):
        if value.get(key) is not None:
            _string(value[key], f"{path}.{key}")
    for key in ("os.features", "features"):
        if value.get(key) is not None:
            _string_list(value[key], f"{path}.{key}")
    return dict(value)
