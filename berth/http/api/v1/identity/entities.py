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

from berth.auth.errors import IdentityProviderUnavailable
from berth.http.api.v1.errors import MessageError, json_response, not_found, requires_auth
from berth.http.api.v1.formats import avatar
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
    external = await _directory_users(
        ctx, normalized_prefix(ctx.params["prefix"]), {u.name for u in found.users}
    )
    return json_response({"results": teams + users + external + orgs})


async def _directory_users(ctx: Ctx, prefix: str, known: set[str]) -> list[dict[str, Any]]:
    """Directory users without a Berth account yet (Ansible links them next)."""
    external: list[dict[str, Any]] = []
    provider = ctx.api.svc.auth.provider
    if provider.federated and ctx.caller.user is not None and prefix:
        for found in await provider.search(prefix):
            if found.username in known or await ctx.api.accounts.get_user(found.username):
                continue
            external.append(
                {
                    "name": found.username,
                    "kind": "external",
                    "title": found.email or found.username,
                    "avatar": avatar(found.username, found.email),
                }
            )
    return external


async def link_external(ctx: Ctx) -> Response:
    """``POST /entities/link/{username}``: the Berth account of a directory user, created
    now if it has none (404 with Database authentication or an unknown user)."""
    if ctx.caller.user is None:
        raise requires_auth()
    provider = ctx.api.svc.auth.provider
    if not provider.federated:
        raise not_found()
    try:
        user_id = await provider.link(ctx.params["username"], ip=ctx.actor_ip)
    except IdentityProviderUnavailable as e:
        raise MessageError(503, e.reason) from e
    user = await ctx.api.accounts.get_user_by_id(user_id) if user_id is not None else None
    if user is None:
        raise not_found()
    view = {
        "name": user.username,
        "kind": "user",
        "is_robot": False,
        "avatar": avatar(user.username, user.email),
    }
    return json_response({"entity": view})


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
        ),
        ApiRoute(
            "POST",
            "/entities/link/{username}",
            link_external,
            "Links the specified external username to a user.",
            tag="search",
            internal=True,
        ),
    ]
