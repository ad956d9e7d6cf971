"""Registry domain errors. Each carries the OCI error code it becomes at the /v2 edge."""

from __future__ import annotations

from typing import Any


class RegistryError(Exception):
    code = "UNKNOWN"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail if detail is not None else {}


class NameInvalid(RegistryError):
    code = "NAME_INVALID"


class NameUnknown(RegistryError):
    code = "NAME_UNKNOWN"


class BlobUnknown(RegistryError):
    code = "BLOB_UNKNOWN"


class BlobUploadUnknown(RegistryError):
    code = "BLOB_UPLOAD_UNKNOWN"


class BlobUploadInvalid(RegistryError):
    code = "BLOB_UPLOAD_INVALID"


class BlobBytesGone(BlobUploadInvalid):
    """Garbage collection deleted the blob's bytes while an upload of it completed."""


class RangeInvalid(BlobUploadInvalid):
    """A chunk that does not start where the upload ends (416)."""

    def __init__(self, message: str, current_size: int) -> None:
        super().__init__(message, {"size": current_size})
        self.current_size = current_size


class DigestInvalid(RegistryError):
    code = "DIGEST_INVALID"


class SizeInvalid(RegistryError):
    code = "SIZE_INVALID"


class ManifestInvalid(RegistryError):
    code = "MANIFEST_INVALID"


class ManifestUnknown(RegistryError):
    code = "MANIFEST_UNKNOWN"


class ManifestBlobUnknown(RegistryError):
    code = "MANIFEST_BLOB_UNKNOWN"


class TagInvalid(RegistryError):
    code = "TAG_INVALID"


class Unsupported(RegistryError):
    code = "UNSUPPORTED"


class Denied(RegistryError):
    code = "DENIED"


class RepositoryReadOnly(Denied):
    """Pushes refused: repository state is READ_ONLY/MIRROR, or the registry is read-only."""


class TagImmutable(Denied):
    """A move, deletion, expiry or prune of an immutable tag (flag, label or policy)."""


class QuotaExceeded(Denied):
    """A manifest push would take its namespace past a Reject quota limit (Quay's answer:
    403 DENIED, no detail). ``namespace_id``, ``before`` (bytes stored), ``after`` (bytes
    with the push) ``limit_bytes`` and ``percent`` say which limit, for the refusal's report."""

    def __init__(
        self, namespace_id: int, before: int, after: int, limit_bytes: int, percent: int
    ) -> None:
        super().__init__("Quota has been exceeded on namespace", {})
        self.namespace_id = namespace_id
        self.before = before
        self.after = after
        self.limit_bytes = limit_bytes
        self.percent = percent


class TooLarge(RegistryError):
    code = "SIZE_INVALID"


# ---- tags and labels (the tags API; /api/v1 maps these, /v2 never raises them) ----------


class TagUnknown(ManifestUnknown):
    """No live tag of that name in the repository."""


class ExpirationInvalid(RegistryError):
    """A tag expiration that is not in the future."""

    code = "INVALID_REQUEST"


class RestoreOutsideWindow(RegistryError):
    """A restore to a manifest whose tags ended longer ago than the time-machine window."""

    code = "INVALID_REQUEST"


class LabelInvalid(RegistryError):
    """A label key of the wrong format, or with a reserved prefix."""

    code = "INVALID_REQUEST"


class LabelReserved(LabelInvalid):
    """A label key under a prefix reserved for the registry and the image tools."""


class LabelUnknown(RegistryError):
    code = "NOT_FOUND"


class LabelImmutable(RegistryError):
    """Only labels added through the API can be deleted."""

    code = "DENIED"


# ---- pull-through (a proxy-cache organization; the feature raises these through the core) --


class UpstreamUnavailable(RegistryError):
    """A pull-through needed the upstream registry, it could not answer, and nothing was
    cached to serve instead."""

    code = "UNAVAILABLE"
