"""``/discovery`` (Swagger 2.0 generated from the route table) and ``/error/{type}``."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import error_description, json_response, not_found
from berth.http.api.v1.framework import API_PREFIX, ApiApp, ApiRoute, Ctx, Param
from berth.oauth.services import SCOPES

_PARAM = re.compile(r"\{(\w+)\}")
_PATH_DOCS = {
    "repository": "The full path of the repository. e.g. namespace/name",
    "username": "The username of the user",
    "token_uuid": "The uuid of the app specific token",
    "error_type": "The error code identifying the type of error.",
    "orgname": "The name of the organization",
    "teamname": "The name of the team",
    "membername": "The username of the team member",
    "email": "The e-mail address of the invitee",
    "code": "The invite code",
    "client_id": "The OAuth client ID",
    "prefix": "The prefix of the entities being looked up",
    "prototypeid": "The ID of the prototype",
    "robot_shortname": "The short name for the robot, without any user or organization prefix",
    "tag": "The name of the tag",
    "manifestref": "The digest of the manifest",
    "labelid": "The ID of the label",
    "uuid": "The unique ID of the policy",
    "namespace": "The user or organization namespace",
    "quota_id": "The ID of the quota",
    "limit_id": "The ID of the quota limit",
    "name": "The name of the organization",
    "service": "The ID of the login service (the NAME of its NAME_LOGIN_CONFIG, lower-cased)",
    "build_uuid": "The UUID of the build",
    "file_id": "The ID of the file drop the upload belongs to",
    "trigger_uuid": "The UUID of the build trigger",
}


def _operation_id(route: ApiRoute) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_")
    return f"{route.method.lower()}_{words or 'root'}"


def swagger(api: ApiApp, *, include_internal: bool) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    definitions: dict[str, Any] = {}
    tags: set[str] = set()
    for route in api.routes:
        if route.prefix != API_PREFIX or not route.csrf or not route.enabled:
            continue
        if route.internal and not include_internal:
            continue
        params: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "type": "string",
                "required": True,
                "description": _PATH_DOCS.get(name, name),
            }
            for name in _PARAM.findall(route.path)
        ]
        params += [_query(p) for p in route.query]
        if route.body is not None:
            name = route.body_name or _operation_id(route)
            definitions[name] = {**route.body, "description": route.summary}
            params.append(
                {
                    "name": "body",
                    "in": "body",
                    "required": True,
                    "description": "Request body contents.",
                    "schema": {"$ref": f"#/definitions/{name}"},
                }
            )
        op: dict[str, Any] = {
            "operationId": _operation_id(route),
            "description": route.summary,
            "summary": route.summary,
            "parameters": params,
            "tags": [route.tag],
            "responses": _responses(route),
        }
        if route.scopes:
            op["security"] = [{"oauth2_implicit": list(route.scopes)}]
        if route.internal:
            op["x-internal"] = True
        if route.anon_allowed:
            op["x-anonymous"] = True
        paths.setdefault(route.full_path, {})[route.method.lower()] = op
        tags.add(route.tag)
    scopes = dict(SCOPES)
    if not api.settings.api.super_users_enabled:
        scopes.pop("super:user", None)
    return {
        "swagger": "2.0",
        "host": api.settings.server_hostname,
        "basePath": "/",
        "schemes": [api.settings.url_scheme],
        "info": {
            "version": "v1",
            "title": "Berth (Quay API)",
            "description": (
                "This API allows you to perform many of the operations required to work "
                "with repositories, users, and organizations."
            ),
            "termsOfService": "",
            "contact": {"email": ""},
        },
        "securityDefinitions": {
            "oauth2_implicit": {
                "type": "oauth2",
                "flow": "implicit",
                "authorizationUrl": f"{api.base_url}/oauth/authorize",
                "scopes": scopes,
            }
        },
        "paths": paths,
        "definitions": definitions,
        "tags": [{"name": t, "description": ""} for t in sorted(tags)],
    }


def _query(p: Param) -> dict[str, Any]:
    return {
        "name": p.name,
        "in": "query",
        "type": p.type,
        "required": p.required,
        "description": p.description,
    }


def _responses(route: ApiRoute) -> dict[str, Any]:
    ok = {"DELETE": "204"}.get(route.method, "200")
    ref = {"$ref": "#/definitions/ApiError"}
    return {
        ok: {"description": "Successful invocation"},
        "400": {"description": "Bad Request", "schema": ref},
        "401": {"description": "Session required", "schema": ref},
        "403": {"description": "Unauthorized access", "schema": ref},
        "404": {"description": "Not found", "schema": ref},
    }


API_ERROR_DEFINITION = {
    "type": "object",
    "required": ["status", "type", "title"],
    "properties": {
        "status": {"type": "integer"},
        "error_message": {"type": "string"},
        "title": {"type": "string"},
        "type": {"type": "string"},
        "detail": {"type": "string"},
        "error_type": {"type": "string"},
    },
}


async def discovery(ctx: Ctx) -> Response:
    doc = swagger(ctx.api, include_internal=ctx.query_bool("internal", False))
    doc["definitions"]["ApiError"] = API_ERROR_DEFINITION
    return json_response(doc)


async def error_type(ctx: Ctx) -> Response:
    described = error_description(ctx.params["error_type"])
    if described is None:
        raise not_found()
    return json_response(described)


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/discovery",
            discovery,
            "List all of the API endpoints available in the swagger API format.",
            tag="discovery",
            anon_allowed=True,
            query=(Param("internal", "boolean", "Whether to include internal APIs."),),
        ),
        ApiRoute(
            "GET",
            "/error/{error_type}",
            error_type,
            "Get a detailed description of the error.",
            tag="error",
        ),
    ]
