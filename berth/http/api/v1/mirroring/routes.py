"""``/repository/{repository}/mirror`` (GET/POST/PUT), ``…/mirror/sync-now`` and
``…/mirror/sync-cancel`` (FEATURE_REPO_MIRROR), with Quay's answers.

All need admin on the repository. GET: 200 the configuration (never the password), 404
without one. POST: 201 empty; 409 ``{detail}`` when one exists; 400 ``{detail}`` for a bad
value; 400 ``{message}`` for an unknown robot or one of another namespace (Quay's
DataModelException). PUT: 201 empty (Quay's), only the fields given change; 400 ``{detail}``
"Incorrect DateTime format for sync_start_date." for a bad date. sync-now: 204, 404 without
a configuration or while a sync runs. sync-cancel: 204, 404 when nothing is queued or running.

Berth answers a malformed ``sync_start_date`` on POST with the PUT's 400 (Quay 3.18 fails
with a 500 there). The service writes the usage-log entries.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import DetailError, MessageError, json_response, not_found
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.repos.access import require_repo
from berth.mirroring.errors import (
    InvalidMirrorConfig,
    InvalidRobot,
    MirrorExists,
    MirrorNotFound,
    SyncNotAllowed,
)
from berth.mirroring.services import MirrorInput, MirrorService, MirrorView, format_date
from berth.registry.repositories import RepoName

_PROXY = {
    "type": "object",
    "properties": {
        "http_proxy": {"type": ["string", "null"]},
        "https_proxy": {"type": ["string", "null"]},
        "no_proxy": {"type": ["string", "null"]},
    },
}
_PROPERTIES: dict[str, Any] = {
    "is_enabled": {"type": "boolean", "description": "Enable or disable synchronizations."},
    "external_reference": {"type": "string", "description": "The external repository."},
    "external_registry_username": {
        "type": ["string", "null"],
        "description": "Username used to authenticate with the external registry.",
    },
    "external_registry_password": {
        "type": ["string", "null"],
        "description": "Password used to authenticate with the external registry.",
    },
    "sync_start_date": {
        "type": "string",
        "description": "The next synchronization's start (YYYY-MM-DDTHH:MM:SSZ).",
    },
    "sync_interval": {
        "type": "integer",
        "minimum": 0,
        "description": "Seconds between synchronizations.",
    },
    "robot_username": {"type": "string", "description": "The robot the mirror writes as."},
    "root_rule": {
        "type": "object",
        "description": "Glob patterns of the tags to synchronize.",
        "required": ["rule_kind", "rule_value"],
        "properties": {
            "rule_kind": {"type": "string", "enum": ["tag_glob_csv"]},
            "rule_value": {"type": "array", "items": {"type": "string"}},
        },
    },
    "external_registry_config": {
        "type": "object",
        "properties": {
            "verify_tls": {
                "type": "boolean",
                "description": "Require HTTPS and verify the upstream's certificate.",
            },
            "unsigned_images": {"type": "boolean", "description": "Mirror unsigned images."},
            "proxy": _PROXY,
        },
    },
    "skopeo_timeout_interval": {
        "type": "integer",
        "minimum": 0,
        "description": "Maximum seconds one sync may run.",
    },
    "architecture_filter": {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": "Architectures to mirror from a manifest list.",
    },
    "unsigned_images": {"type": "boolean"},
}
CREATE_MIRROR: dict[str, Any] = {
    "type": "object",
    "description": "Create the repository mirroring configuration.",
    "required": [
        "external_reference", "sync_interval", "sync_start_date", "root_rule",
    ],
    "properties": _PROPERTIES,
}  # fmt: skip
UPDATE_MIRROR: dict[str, Any] = {
    "type": "object",
    "description": "Update the repository mirroring configuration.",
    "properties": _PROPERTIES,
}


def _service(ctx: Ctx) -> MirrorService:
    service = ctx.api.svc.mirrors
    if service is None:  # the routes are registered only with the feature on
        raise not_found()
    return service


async def _repo(ctx: Ctx) -> RepoName:
    access = await require_repo(ctx, RepoRole.ADMIN)
    access.require_exists()
    return access.repo


def _input(body: dict[str, Any]) -> MirrorInput:
    config = body.get("external_registry_config") or {}
    rule = body.get("root_rule")
    unsigned = config.get("unsigned_images", body.get("unsigned_images"))
    return MirrorInput(
        is_enabled=body.get("is_enabled"),
        external_reference=body.get("external_reference"),
        username=body.get("external_registry_username") or None,
        username_given="external_registry_username" in body,
        password=body.get("external_registry_password") or None,
        password_given="external_registry_password" in body,
        sync_start_date=body.get("sync_start_date"),
        sync_interval=body.get("sync_interval"),
        robot_username=body.get("robot_username") or None,
        root_rule=list(rule["rule_value"]) if rule else None,
        verify_tls=config.get("verify_tls"),
        unsigned_images=unsigned,
        proxy=config.get("proxy") if "proxy" in config else None,
        skopeo_timeout_interval=body.get("skopeo_timeout_interval"),
        architecture_filter=body.get("architecture_filter"),
    )


def serialize(view: MirrorView) -> dict[str, Any]:
    """Quay's GET answer (the password is never shown)."""
    proxy = view.proxy or {}
    return {
        "is_enabled": view.is_enabled,
        "mirror_type": "PULL",
        "external_reference": view.external_reference,
        "external_registry_username": view.username,
        "external_registry_config": {
            "verify_tls": view.verify_tls,
            "unsigned_images": view.unsigned_images,
            "proxy": {k: proxy.get(k) for k in ("http_proxy", "https_proxy", "no_proxy")},
        },
        "sync_interval": view.sync_interval,
        "sync_start_date": format_date(view.sync_start_ms),
        "sync_expiration_date": format_date(view.sync_expiration_ms),
        "sync_retries_remaining": view.sync_retries_remaining,
        "sync_status": view.sync_status,
        "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": list(view.root_rule)},
        "robot_username": view.robot_username,
        "skopeo_timeout_interval": view.skopeo_timeout_interval,
        "architecture_filter": list(view.architecture_filter),
    }


async def get_mirror(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    try:
        view = await _service(ctx).get(repo)
    except MirrorNotFound as e:
        raise not_found() from e
    return json_response(serialize(view))


def _errors(e: Exception) -> Exception:
    if isinstance(e, InvalidRobot):
        return MessageError(400, e.message)
    if isinstance(e, MirrorExists):
        return DetailError(409, e.message)
    if isinstance(e, InvalidMirrorConfig):
        return DetailError(400, e.message)
    if isinstance(e, (MirrorNotFound, SyncNotAllowed)):
        return not_found()
    return e


async def create_mirror(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    body = await ctx.body(CREATE_MIRROR)
    try:
        await _service(ctx).create(repo, _input(body), performer=ctx.performer())
    except (InvalidMirrorConfig, MirrorExists, MirrorNotFound) as e:
        raise _errors(e) from e
    return Response(b"", status_code=201)


async def update_mirror(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    body = await ctx.body(UPDATE_MIRROR)
    try:
        await _service(ctx).update(repo, _input(body), performer=ctx.performer())
    except (InvalidMirrorConfig, MirrorNotFound) as e:
        raise _errors(e) from e
    return Response(b"", status_code=201)


async def sync_now(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    try:
        await _service(ctx).sync_now(repo, performer=ctx.performer())
    except (MirrorNotFound, SyncNotAllowed) as e:
        raise _errors(e) from e
    return Response(status_code=204)


async def sync_cancel(ctx: Ctx) -> Response:
    repo = await _repo(ctx)
    try:
        await _service(ctx).sync_cancel(repo, performer=ctx.performer())
    except (MirrorNotFound, SyncNotAllowed) as e:
        raise _errors(e) from e
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    on = api.settings.mirroring.enabled
    common: dict[str, Any] = {"tag": "mirror", "scopes": ("repo:admin",), "enabled": on}
    path = "/repository/{repository}/mirror"
    return [
        ApiRoute("POST", path + "/sync-now", sync_now,
                 "Update the sync_status for a given Repository's mirroring configuration.",
                 **common),
        ApiRoute("POST", path + "/sync-cancel", sync_cancel,
                 "Update the sync_status for a given Repository's mirroring configuration.",
                 **common),
        ApiRoute("GET", path, get_mirror,
                 "Return the Mirror configuration for a given Repository.", **common),
        ApiRoute("POST", path, create_mirror,
                 "Create a RepoMirrorConfig for a given Repository.", body=CREATE_MIRROR,
                 body_name="CreateMirrorConfig", **common),
        ApiRoute("PUT", path, update_mirror,
                 "Allow users to modifying the repository's mirroring configuration.",
                 body=UPDATE_MIRROR, body_name="UpdateMirrorConfig", **common),
    ]  # fmt: skip
