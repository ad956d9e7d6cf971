"""The /v2 error catalogue: domain errors -> OCI error JSON, translated once."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.responses import Response

from berth.auth.errors import InvalidCredentials, InvalidScope, InvalidToken, TooManyAttempts
from berth.registry.errors import RangeInvalid, RegistryError, TooLarge
from berth.storage.base import StorageUnavailable

log = logging.getLogger("berth.http.v2")

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}

STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 415,
    "TOO_MANY_REQUESTS": 429,
    "INVALID_REQUEST": 400,
    "UNAVAILABLE": 503,
}


def error_response(
    code: str,
    message: str,
    detail: Any = None,
    *,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = orjson.dumps(
        {
            "errors": [
                {"code": code, "message": message, "detail": detail if detail is not None else {}}
            ]
        }
    )
    return Response(
        body,
        status_code=status or STATUS.get(code, 400),
        media_type="application/json",
        headers={**API_VERSION, **(headers or {})},
    )


def translate(exc: Exception, challenge: str | None = None) -> Response | None:
    """Map a known exception to its /v2 response; None for unknown exceptions."""
    if isinstance(exc, RangeInvalid):
        end = max(exc.current_size - 1, 0)
        return error_response(
            exc.code, exc.message, exc.detail, status=416, headers={"Range": f"0-{end}"}
        )
    if isinstance(exc, TooLarge):
        return error_response(exc.code, exc.message, exc.detail, status=413)
    if isinstance(exc, RegistryError):
        status = 405 if exc.code == "DENIED" and exc.detail.get("is_readonly") else None
        return error_response(exc.code, exc.message, exc.detail, status=status)
    if isinstance(exc, (InvalidCredentials, InvalidToken)):
        return error_response(
            "UNAUTHORIZED",
            exc.reason,
            headers={"WWW-Authenticate": challenge} if challenge else None,
        )
    if isinstance(exc, InvalidScope):
        return error_response("INVALID_REQUEST", str(exc), {"scope": exc.scope})
    if isinstance(exc, TooManyAttempts):
        return error_response(
            "TOO_MANY_REQUESTS", str(exc), headers={"Retry-After": str(exc.retry_after)}
        )
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return error_response("UNAVAILABLE", "storage is unavailable, retry later", status=503)
    return None
