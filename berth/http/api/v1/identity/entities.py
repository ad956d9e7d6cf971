"""``GET /entities/{prefix}``: users, robots, teams and organizations by name
(quay-api.md section 3, "Search / entity lookup"; Ansible checks that a user exists here).

Users are matched by exact name first, then by prefix (FEATURE_PARTIAL_USER_AUTOCOMPLETE).
Robots (``namespace+prefix...``, answered with kind "user" and ``is_robot``) only come with a
``namespace`` the caller is a member of (an organization) or owns (its own user namespace,
with ``user:admin``); teams (``includeTeams``) and the organization itself (``includeOrgs``)
only for members of that organization.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import json_response
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.access import org_access
from berth.http.api.v1.identity.org_serializers import (
    entity_org_view,
    entity_team_view,
    entity_user_view,
)


def normalized_prefix(prefix: str) -> str:
    """As Quay: ASCII only, no spaces, lower case."""
    ascii_only = unicodedata.normalize("NFKD", prefix).encode("ascii", "ignore").decode()
    return ascii_only.replace(" ", "").lower()


async def search_entities(ctx: Ctx) -> Response:
    prefix = normalized_prefix(ctx.params["prefix"])
    namespace = ctx.query("namespace") or ""
    svc = ctx.api.svc
    teams: list[dict[str, Any]] = []
    orgs: list[dict[str, Any]] = []
    robot_namespace: str | None = None
    organization: str | None = None
    if namespace:
        access = await org_access(ctx, namespace)
        user = ctx.caller.user
        if access.standing.is_org:
            organization = namespace
            if access.is_member:
                robot_namespace = namespace
                if ctx.query_bool("includeTeams"):
                    teams = [entity_team_view(t) for t in await svc.teams.match(namespace, prefix)]
                if ctx.query_bool("includeOrgs") and namespace.startswith(prefix):
                    info = await svc.orgs.get(namespace)
                    orgs = [entity_org_view(namespace, info.email)]
        elif user is not None and user.username == namespace and ctx.caller.has_scope("user:admin"):
            robot_namespace = namespace
    users = await svc.orgs.match_users(
        prefix,
        robot_namespace=robot_namespace,
        org=organization,
        exact_only=not ctx.api.settings.api.partial_user_autocomplete,
    )
    return json_response({"results": teams + [entity_user_view(u) for u in users] + orgs})


def routes(api: ApiApp) -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/entities/{prefix}",
            search_entities,
            "Get a list of entities that match the specified prefix.",
            tag="search",
            query=(
                Param("namespace", "string", "Namespace to use when querying for org entities."),
                Param("includeTeams", "boolean", "Whether to include team names."),
                Param("includeOrgs", "boolean", "Whether to include orgs names."),
            ),
        )
    ]
