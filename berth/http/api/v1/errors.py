"""The error catalogue of /api/v1 and its four body shapes.

* ``ApiError`` (shape A): Quay's ApiException, a problem document
  ``{detail, error_message, error_type, title, type, status}`` plus any extra payload keys.
* ``MessageError`` (shape B): ``{"message": ...}`` (model errors turned into 400,
  flask-restful aborts, read-only mode, JSON body parsing).
* ``DetailError`` (shape C): ``{"detail": ...}``.
* ``AbortError`` (shape D): ``{"error": ...}`` (CSRF, anonymous access, XHR check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from starlette.responses import Response

from berth.identity.errors import Forbidden, IdentityError, InvalidRequest, NotFound

# error_type -> (status, description); GET /api/v1/error/{type} serves these.
ERROR_TYPES: dict[str, tuple[int, str]] = {
    "invalid_request": (
        400,
        "The request is missing a required parameter, includes an unsupported parameter "
        "value, repeats a parameter, includes multiple credentials, or is otherwise malformed.",
    ),
    "invalid_response": (400, "The response was malformed."),
    "invalid_token": (
        401,
        "The access token provided is expired, revoked, malformed, or invalid for other "
        "reasons. The client may request a new access token and retry the request.",
    ),
    "expired_token": (401, "The access token provided has expired."),
    "fresh_login_required": (401, "The action requires a fresh login to succeed."),
    "exceeds_license": (
        402,
        "The action was refused because the current license does not allow it.",
    ),
    "insufficient_scope": (
        403,
        "The request requires higher privileges than provided by the access token.",
    ),
    "not_found": (404, "The resource was not found."),
    "tag_immutable": (409, "The tag is immutable and cannot be changed or deleted."),
    "token_rotation_failed": (500, "The token could not be rotated."),
    "external_service_timeout": (520, "An external service timed out."),
    "downstream_issue": (520, "An error occurred in a downstream service."),
}

NOT_FOUND_MESSAGE = (
    "The requested URL was not found on the server. If you entered the URL manually "
    "please check your spelling and try again."
)
METHOD_NOT_ALLOWED_MESSAGE = "The method is not allowed for the requested URL."
BAD_REQUEST_MESSAGE = "The browser (or proxy) sent a request that this server could not understand."
NOT_JSON_MESSAGE = (
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
)
CSRF_MESSAGE = "CSRF token was invalid or missing."
ANONYMOUS_MESSAGE = "Anonymous access is not allowed"
READ_ONLY_MESSAGE = (
    "System is currently read-only. Pulls will succeed but all write operations are "
    "currently suspended."
)
XHR_MESSAGE = "API calls must be invoked with an X-Requested-With header if called from a browser"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


class ApiProblem(Exception):
    """Anything a handler raises to answer with an error body."""

    status: int
    headers: dict[str, str] | None = None  # extra response headers (Retry-After)

    def body(self, base_url: str) -> dict[str, Any]:
        raise NotImplementedError

    def response(self, base_url: str) -> Response:
        return json_response(self.body(base_url), self.status, getattr(self, "headers", None))


class ApiError(ApiProblem):
    """Shape A. ``error_type`` must be a key of ERROR_TYPES."""

    def __init__(
        self, error_type: str, detail: str, *, payload: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.status = ERROR_TYPES[error_type][0]
        self.detail = detail
        self.payload = payload or {}

    def body(self, base_url: str) -> dict[str, Any]:
        return {
            **self.payload,
            "detail": self.detail,
            "error_message": self.detail,
            "error_type": self.error_type,
            "title": self.error_type,
            "type": f"{base_url}/api/v1/error/{self.error_type}",
            "status": self.status,
        }


def invalid_request(detail: str, **payload: Any) -> ApiError:
    return ApiError("invalid_request", detail, payload=payload)


def not_found(detail: str = "Not Found") -> ApiError:
    return ApiError("not_found", detail)


def requires_auth(**payload: Any) -> ApiError:
    return ApiError("invalid_token", "Requires authentication", payload=payload)


def forbidden() -> ApiError:
    return ApiError("insufficient_scope", "Unauthorized")


def fresh_login_required() -> ApiError:
    return ApiError("fresh_login_required", "Requires fresh login")


def unauthorized(authenticated: bool) -> ApiError:
    """Quay's ``Unauthorized()``: 401 for nobody, 403 for a user without the right."""
    return forbidden() if authenticated else requires_auth()


class MessageError(ApiProblem):
    """Shape B."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self, base_url: str) -> dict[str, Any]:
        return {"message": self.message, **self.extra}


class DetailError(ApiProblem):
    """Shape C."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail

    def body(self, base_url: str) -> dict[str, Any]:
        return {"detail": self.detail}


class AbortError(ApiProblem):
    """Shape D."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error

    def body(self, base_url: str) -> dict[str, Any]:
        return {"error": self.error}


def error_description(error_type: str) -> dict[str, str] | None:
    entry = ERROR_TYPES.get(error_type)
    if entry is None:
        return None
    return {"type": error_type, "title": error_type, "description": entry[1]}


@contextlib.contextmanager
def quay_errors(*, as_message: tuple[type[IdentityError], ...] = ()) -> Iterator[None]:
    """Identity errors as Quay answers them: ``as_message`` ones (model errors that escape
    Quay's handler) as 400 ``{"message"}``, other invalid requests as ``invalid_request``,
    unknown things as ``not_found``, refusals as ``insufficient_scope``."""
    try:
        yield
    except as_message as e:
        raise MessageError(400, e.message) from e
    except InvalidRequest as e:
        raise invalid_request(e.message) from e
    except NotFound as e:
        raise not_found() from e
    except Forbidden as e:
        raise forbidden() from e


def model_errors(*also: type[IdentityError]) -> contextlib.AbstractContextManager[None]:
    """Every invalid request (and ``also``) as a model error: 400 ``{"message"}``."""
    return quay_errors(as_message=(InvalidRequest, *also))
