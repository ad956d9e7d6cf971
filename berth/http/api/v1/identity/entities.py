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
from dataclasses import dataclass
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
from berth.identity.orgs import EntityMatch, OrgInfo


def normalized_prefix(prefix: str) -> str:
    """As Quay: ASCII only, no spaces, lower case."""
    ascii_only = unicodedata.normalize("NFKD", prefix).encode("ascii", "ignore").decode()
    return ascii_only.replace(" ", "").lower()


@dataclass(frozen=True)
class EntityResults:
    """What ``GET /entities/{prefix}`` finds for its caller: teams, users and robots, and
    the organization itself (the web UI's type-ahead asks the same)."""

    teams: list[str]
    users: list[EntityMatch]
    org: OrgInfo | None


async def find_entities(
    ctx: Ctx,
    raw_prefix: str,
    namespace: str,
    *,
    include_teams: bool = False,
    include_orgs: bool = False,
) -> EntityResults:
    prefix = normalized_prefix(raw_prefix)
    svc = ctx.api.svc
    teams: list[str] = []
    org: OrgInfo | None = None
    robot_namespace: str | None = None
    organization: str | None = None
    if namespace:
        access = await org_access(ctx, namespace)
        user = ctx.caller.user
        if access.standing.is_org:
            organization = namespace
            if access.is_member:
                robot_namespace = namespace
                if include_teams:
                    teams = list(await svc.teams.match(namespace, prefix))
                if include_orgs and namespace.startswith(prefix):
                    org = await svc.orgs.get(namespace)
        elif user is not None and user.username == namespace and ctx.caller.has_scope("user:admin"):
            robot_namespace = namespace
    users = await svc.orgs.match_users(
        prefix,
        robot_namespace=robot_namespace,
        org=organization,
        exact_only=not ctx.api.settings.api.partial_user_autocomplete,
    )
    return EntityResults(teams, list(users), org)


async def search_entities(ctx: Ctx) -> Response:
    namespace = ctx.query("namespace") or ""
    found = await find_entities(
        ctx,
        ctx.params["prefix"],
        namespace,
        include_teams=ctx.query_bool("includeTeams"),
        include_orgs=ctx.query_bool("includeOrgs"),
    )
    teams: list[dict[str, Any]] = [entity_team_view(t) for t in found.teams]
    orgs: list[dict[str, Any]] = (
        [entity_org_view(namespace, found.org.email)] if found.org is not None else []
    )
    users = [entity_user_view(u) for u in found.users]
    return json_response({"results": teams + users + orgs})


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
