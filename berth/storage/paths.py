"""Where blobs and uploads live inside a storage backend.

Layout (relative to a filesystem root, or to a key prefix for S3)::

    blobs/<alg>/<first 2 hex>/<hex>      one finished blob per digest, e.g.
                                         blobs/sha256/ab/abcdef0123...
    uploads/<upload_id>/...              staging area of one resumable upload:
        data                               filesystem/S3: the staged bytes
        tail-<end offset>-<token>          S3 only: bytes not yet in a multipart part
    tmp/<random>                         filesystem only: write_blob temp files
                                         (renamed into blobs/ when complete)

S3 puts ``<prefix>`` (the ``storage_path`` setting, normalised to ``"a/b/"``
or ``""``) in front of every key. Nothing else is ever written by Berth.

Digests and upload ids are validated here before they become part of a path,
so no caller input can escape the layout (no ``..``, no ``/``).
"""

from __future__ import annotations

import re

# One digest grammar for the whole registry: sha256/sha512 only, lowercase hex of the right
# length (InvalidDigest is a ValueError, as the drivers promise).
from berth.oci.digest import parse_digest

BLOBS_DIR = "blobs"
UPLOADS_DIR = "uploads"
TMP_DIR = "tmp"

_UPLOAD_ID_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def blob_path(digest: str) -> str:
    """Relative path (``/``-separated) of a blob: ``blobs/<alg>/<2 hex>/<hex>``."""
    d = parse_digest(digest)
    return f"{BLOBS_DIR}/{d.algorithm}/{d.hex[:2]}/{d.hex}"


def digest_from_blob_path(rel: str) -> str | None:
    """Inverse of :func:`blob_path`; None for anything that is not a blob (temp files...)."""
    parts = rel.split("/")
    if len(parts) != 4 or parts[0] != BLOBS_DIR:
        return None
    _, alg, shard, hexpart = parts
    try:
        d = parse_digest(f"{alg}:{hexpart}")
    except ValueError:
        return None
    if shard != d.hex[:2]:
        return None
    return str(d)


def check_upload_id(upload_id: str) -> str:
    """Upload ids become a path segment: letters, digits, ``._-``, 1-128 chars, no leading dot."""
    if not _UPLOAD_ID_RE.fullmatch(upload_id):
        raise ValueError(f"invalid upload id {upload_id!r}")
    return upload_id


def upload_dir(upload_id: str) -> str:
    """Relative path of an upload's staging directory: ``uploads/<upload_id>``."""
    return f"{UPLOADS_DIR}/{check_upload_id(upload_id)}"


def upload_data_path(upload_id: str) -> str:
    return f"{upload_dir(upload_id)}/data"


def normalize_prefix(prefix: str) -> str:
    """``"/datastorage/registry"`` -> ``"datastorage/registry/"``; ``""`` or ``"/"`` -> ``""``."""
    parts = [p for p in prefix.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError(f"storage prefix may not contain '.' or '..' segments: {prefix!r}")
    return "".join(f"{p}/" for p in parts)
