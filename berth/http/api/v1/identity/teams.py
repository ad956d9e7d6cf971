"""Teams of an organization: create/update/delete, members (robots join at once, other
users are invited when FEATURE_MAILING and FEATURE_REQUIRE_TEAM_INVITE), e-mail invites,
the team's repository permissions, and accepting or declining an invite
(quay-api.md section 3, "Teams ...")."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.authz import TeamRole
from berth.http.api.v1.errors import (
    invalid_request,
    json_response,
    model_errors,
    unauthorized,
)
from berth.http.api.v1.formats import format_date
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.access import OrgAccess, actor, administered_org, org_access
from berth.http.api.v1.identity.org_serializers import (
    team_member_view,
    team_permission_view,
    team_view,
)
from berth.identity.errors import IdentityError, TeamNotFound, TeamSyncError, UnknownTeamMember

TAG = "team"

TEAM_DESCRIPTION = {
    "type": "object",
    "description": "Description of a team",
    "required": ["role"],
    "properties": {
        "role": {
            "type": "string",
            "description": "Org wide permissions that should apply to the team",
            "enum": [role.value for role in TeamRole],
        },
        "description": {"type": "string", "description": "Markdown description for the team"},
    },
}


async def _team_admin(ctx: Ctx) -> OrgAccess:
    """Org admin (or superuser with full access) of an existing organization."""
    access = await administered_org(ctx, ctx.params["orgname"])
    return access.require_org()


def _team(ctx: Ctx) -> str:
    return ctx.params["teamname"]


SYNCED_TEAM_MESSAGE = "Cannot call this method on an auth-synced team"


async def _refuse_if_synced(ctx: Ctx, org: str, *, except_robots: bool) -> None:
    """Quay's ``disallow_for_synced_team``: a synced team's members come from its group
    (robots may still be added and removed where ``except_robots``)."""
    teamsync = ctx.api.svc.teamsync
    if teamsync is None or teamsync.service is None:
        return
    if except_robots and "+" in ctx.params.get("membername", ""):
        return
    try:
        synced = await teamsync.is_synced(org, _team(ctx))
    except IdentityError:
        return  # unknown team: the handler answers
    if synced:
        raise invalid_request(SYNCED_TEAM_MESSAGE)


def _sync_setup_allowed(ctx: Ctx) -> bool:
    """Quay's ``_syncing_setup_allowed``: superusers, or any organization admin with
    FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP (org admin is checked by the caller)."""
    return ctx.api.settings.api.nonsuperuser_team_syncing_setup or ctx.caller.is_superuser


async def _sync_admin(ctx: Ctx) -> OrgAccess:
    access = await org_access(ctx, ctx.params["orgname"])
    if not (_sync_setup_allowed(ctx) and access.may_administer):
        raise unauthorized(ctx.caller.user is not None)
    ctx.require_fresh_login()
    return access.require_org()


async def enable_team_sync(ctx: Ctx) -> Response:
    """``POST .../team/{team}/syncing``: bind the team to a directory group."""
    access = await _sync_admin(ctx)
    config = await ctx.body({"type": "object"})
    teamsync = ctx.api.svc.teamsync
    with model_errors():
        team = await ctx.api.svc.teams.get(access.name, _team(ctx))
    if teamsync is None or teamsync.service is None:
        raise invalid_request("Could not sync to group: team syncing needs a directory")
    try:
        await teamsync.enable(access.name, team.name, config, ctx.performer())
    except TeamSyncError as e:
        raise invalid_request(str(e)) from e
    return json_response(team_view(team, can_view=access.can_view_team(team.name), new_team=False))


async def disable_team_sync(ctx: Ctx) -> Response:
    access = await _sync_admin(ctx)
    with model_errors():
        team = await ctx.api.svc.teams.get(access.name, _team(ctx))
    if ctx.api.svc.teamsync is not None:
        await ctx.api.svc.teamsync.disable(access.name, team.name, ctx.performer())
    return json_response(team_view(team, can_view=access.can_view_team(team.name), new_team=False))


async def update_team(ctx: Ctx) -> Response:
    body = await ctx.body(TEAM_DESCRIPTION)
    access = await _team_admin(ctx)
    with model_errors():
        team, created = await ctx.api.svc.teams.create_or_update(
            access.name,
            _team(ctx),
            role=body["role"],
            description=body.get("description"),
            **actor(ctx),
        )
    view = team_view(team, can_view=access.can_view_team(team.name), new_team=created)
    return json_response(view)


async def delete_team(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    with model_errors(TeamNotFound):  # a model error in Quay: 400, not 404
        await ctx.api.svc.teams.delete(access.name, _team(ctx), **actor(ctx))
    return Response(status_code=204)


async def list_members(ctx: Ctx) -> Response:
    access = await org_access(ctx, ctx.params["orgname"])
    team = _team(ctx)
    if not (access.can_view_team(team) or access.reads_all):
        raise unauthorized(ctx.caller.user is not None)
    access.require_org()
    pending = ctx.query_bool("includePending") and access.is_admin
    with model_errors():
        members = await ctx.api.svc.teams.members(access.name, team, include_pending=pending)
    view: dict[str, Any] = {
        "name": team,
        "members": [team_member_view(m) for m in members],
        "can_edit": access.is_admin,
    }
    teamsync = ctx.api.svc.teamsync
    if teamsync is not None and teamsync.service is not None:
        if _sync_setup_allowed(ctx) and access.may_administer:
            view["can_sync"] = {"service": teamsync.service, **teamsync.metadata()}
        info = await teamsync.info(access.name, team)
        if info is not None:
            view["synced"] = {"service": info.service}
            if ctx.caller.is_superuser:
                view["synced"]["last_updated"] = format_date(info.last_updated)
                view["synced"]["config"] = info.config
    return json_response(view)


async def add_member(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    await _refuse_if_synced(ctx, access.name, except_robots=True)
    with model_errors():
        try:
            added = await ctx.api.svc.teams.add_member(
                access.name, _team(ctx), ctx.params["membername"], **actor(ctx)
            )
        except UnknownTeamMember as e:  # Quay's request_error, not a model error
            raise invalid_request(e.message) from e
    return json_response(team_member_view(added))


async def remove_member(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    await _refuse_if_synced(ctx, access.name, except_robots=True)
    with model_errors():
        await ctx.api.svc.teams.remove_member(
            access.name, _team(ctx), ctx.params["membername"], **actor(ctx)
        )
    return Response(status_code=204)


async def invite_email(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    await _refuse_if_synced(ctx, access.name, except_robots=False)
    with model_errors():
        invite = await ctx.api.svc.teams.invite_email(
            access.name, _team(ctx), ctx.params["email"], **actor(ctx)
        )
    return json_response(team_member_view(invite))


async def delete_email_invite(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    await _refuse_if_synced(ctx, access.name, except_robots=False)
    with model_errors():
        await ctx.api.svc.teams.delete_email_invite(
            access.name, _team(ctx), ctx.params["email"], **actor(ctx)
        )
    return Response(status_code=204)


async def team_permissions(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    with model_errors():
        found = await ctx.api.svc.teams.repository_permissions(access.name, _team(ctx))
    return json_response({"permissions": [team_permission_view(*p) for p in found]})


async def accept_invite(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    with model_errors():
        invite = await ctx.api.svc.teams.accept_invite(
            ctx.params["code"], user.username, ip=ctx.actor_ip
        )
    return json_response({"org": invite.org, "team": invite.team})


async def decline_invite(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    with model_errors():
        await ctx.api.svc.teams.decline_invite(ctx.params["code"], user.username, ip=ctx.actor_ip)
    return Response(status_code=204)


def routes(api: ApiApp) -> list[ApiRoute]:
    mailing = api.settings.api.mailing
    team = "/organization/{orgname}/team/{teamname}"
    admin = ("org:admin",)
    return [
        ApiRoute(
            "PUT",
            team,
            update_team,
            "Update the org-wide permission for the specified team (creates it if needed).",
            tag=TAG,
            body=TEAM_DESCRIPTION,
            body_name="TeamDescription",
            scopes=admin,
        ),
        ApiRoute("DELETE", team, delete_team, "Delete the specified team.", tag=TAG, scopes=admin),
        ApiRoute(
            "POST",
            team + "/syncing",
            enable_team_sync,
            "Enables syncing of the team's members with a backing directory group.",
            tag=TAG,
            scopes=("org:admin", "super:user"),
            enabled=api.settings.api.team_syncing,
        ),
        ApiRoute(
            "DELETE",
            team + "/syncing",
            disable_team_sync,
            "Disables syncing of the team's members.",
            tag=TAG,
            scopes=("org:admin", "super:user"),
            enabled=api.settings.api.team_syncing,
        ),
        ApiRoute(
            "GET",
            team + "/members",
            list_members,
            "Retrieve the list of members for the specified team.",
            tag=TAG,
            query=(Param("includePending", "boolean", "Whether to include pending members"),),
            scopes=admin,
        ),
        ApiRoute(
            "PUT",
            team + "/members/{membername}",
            add_member,
            "Adds or invites a member to an existing team.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "DELETE",
            team + "/members/{membername}",
            remove_member,
            "Delete a member of a team (or cancel the member's pending invite).",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "PUT",
            team + "/invite/{email}",
            invite_email,
            "Invites an email address to an existing team.",
            tag=TAG,
            scopes=admin,
            enabled=mailing,
        ),
        ApiRoute(
            "DELETE",
            team + "/invite/{email}",
            delete_email_invite,
            "Delete an invite of an email address to join a team.",
            tag=TAG,
            scopes=admin,
            enabled=mailing,
        ),
        ApiRoute(
            "GET",
            team + "/permissions",
            team_permissions,
            "Returns the list of repository permissions for the org's team.",
            tag=TAG,
        ),
        ApiRoute(
            "PUT",
            "/teaminvite/{code}",
            accept_invite,
            "Accepts an invite to join a team in an organization.",
            tag=TAG,
            internal=True,
            scopes=("user:admin",),
            enabled=mailing,
        ),
        ApiRoute(
            "DELETE",
            "/teaminvite/{code}",
            decline_invite,
            "Delete an existing invitation to join a team.",
            tag=TAG,
            internal=True,
            scopes=("user:admin",),
            enabled=mailing,
        ),
    ]
