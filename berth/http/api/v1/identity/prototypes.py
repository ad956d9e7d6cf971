"""Default permissions (Quay's prototypes) of an organization: what every new repository
grants. ``/organization/{orgname}/prototypes`` for organization admins.

Quay's quirks kept: create answers 200 (not 201); a ``user`` delegate may be a robot
(``org+bot``); unknown delegates and activating users are 400 ``invalid_request``; an unknown
organization or prototype is 404.
"""

from __future__ import annotations

from starlette.responses import Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import json_response, quay_errors
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.identity.access import require_org_admin
from berth.http.api.v1.identity.permission_serializers import prototype_view

ROLE = {
    "type": "string",
    "description": "Role that should be applied to the delegate",
    "enum": [role.value for role in RepoRole],
}
NEW_PROTOTYPE = {
    "type": "object",
    "description": "Description of a new prototype",
    "required": ["role", "delegate"],
    "properties": {
        "role": ROLE,
        "activating_user": {
            "type": "object",
            "description": "Repository creating user to whom the rule should apply",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "The username for the activating_user"}
            },
        },
        "delegate": {
            "type": "object",
            "description": "Information about the user or team to which the rule grants access",
            "required": ["name", "kind"],
            "properties": {
                "name": {
                    "type": "string",
                    "description": "The name for the delegate team or user",
                },
                "kind": {
                    "type": "string",
                    "description": "Whether the delegate is a user or a team",
                    "enum": ["user", "team"],
                },
            },
        },
    },
}
PROTOTYPE_UPDATE = {
    "type": "object",
    "description": "Description of a the new prototype role",
    "required": ["role"],
    "properties": {"role": ROLE},
}


async def list_prototypes(ctx: Ctx) -> Response:
    org = ctx.params["orgname"]
    await require_org_admin(ctx, org)
    with quay_errors():
        protos = await ctx.api.svc.permissions.list_prototypes(org)
    return json_response({"prototypes": [prototype_view(p) for p in protos]})


async def create_prototype(ctx: Ctx) -> Response:
    org = ctx.params["orgname"]
    user = await require_org_admin(ctx, org)
    body = await ctx.body(NEW_PROTOTYPE)
    delegate = body["delegate"]
    kind, name = delegate["kind"], delegate["name"]
    activating = (body.get("activating_user") or {}).get("name")
    with quay_errors():
        proto = await ctx.api.svc.permissions.create_prototype(
            org,
            body["role"],
            delegate_user=name if kind == "user" else None,
            delegate_team=name if kind == "team" else None,
            activating_user=activating or None,
            performer=user.username,
            ip=ctx.actor_ip,
        )
    return json_response(prototype_view(proto))


async def update_prototype(ctx: Ctx) -> Response:
    org = ctx.params["orgname"]
    user = await require_org_admin(ctx, org)
    body = await ctx.body(PROTOTYPE_UPDATE)
    with quay_errors():
        proto = await ctx.api.svc.permissions.update_prototype(
            org, ctx.params["prototypeid"], body["role"], performer=user.username, ip=ctx.actor_ip
        )
    return json_response(prototype_view(proto))


async def delete_prototype(ctx: Ctx) -> Response:
    org = ctx.params["orgname"]
    user = await require_org_admin(ctx, org)
    with quay_errors():
        await ctx.api.svc.permissions.delete_prototype(
            org, ctx.params["prototypeid"], performer=user.username, ip=ctx.actor_ip
        )
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    base = "/organization/{orgname}/prototypes"
    sc = ("org:admin",)
    return [
        ApiRoute(
            "GET", base, list_prototypes,
            "List the existing prototypes for this organization.", tag="prototype", scopes=sc,
        ),
        ApiRoute(
            "POST", base, create_prototype, "Create a new permission prototype.",
            tag="prototype", scopes=sc, body=NEW_PROTOTYPE, body_name="NewPrototype",
        ),
        ApiRoute(
            "PUT", base + "/{prototypeid}", update_prototype,
            "Update the role of an existing permission prototype.", tag="prototype",
            scopes=sc, body=PROTOTYPE_UPDATE, body_name="PrototypeUpdate",
        ),
        ApiRoute(
            "DELETE", base + "/{prototypeid}", delete_prototype,
            "Delete an existing permission prototype.", tag="prototype", scopes=sc,
        ),
    ]  # fmt: skip
