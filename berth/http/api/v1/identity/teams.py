"""Teams of an organization: create/update/delete, members (robots join at once, other
users are invited when FEATURE_MAILING and FEATURE_REQUIRE_TEAM_INVITE), e-mail invites,
the team's repository permissions, and accepting or declining an invite
(quay-api.md section 3, "Teams ...")."""

from __future__ import annotations

from starlette.responses import Response

from berth.authz import TeamRole
from berth.http.api.v1.errors import (
    invalid_request,
    json_response,
    model_errors,
    unauthorized,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.access import OrgAccess, actor, administered_org, org_access
from berth.http.api.v1.identity.org_serializers import (
    team_member_view,
    team_permission_view,
    team_view,
)
from berth.identity.errors import TeamNotFound, UnknownTeamMember

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
    if not (access.can_view_team(team) or access.superuser):
        raise unauthorized(ctx.caller.user is not None)
    access.require_org()
    pending = ctx.query_bool("includePending") and access.is_admin
    with model_errors():
        members = await ctx.api.svc.teams.members(access.name, team, include_pending=pending)
    return json_response(
        {
            "name": team,
            "members": [team_member_view(m) for m in members],
            "can_edit": access.is_admin,
        }
    )


async def add_member(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
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
    with model_errors():
        await ctx.api.svc.teams.remove_member(
            access.name, _team(ctx), ctx.params["membername"], **actor(ctx)
        )
    return Response(status_code=204)


async def invite_email(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
    with model_errors():
        invite = await ctx.api.svc.teams.invite_email(
            access.name, _team(ctx), ctx.params["email"], **actor(ctx)
        )
    return json_response(team_member_view(invite))


async def delete_email_invite(ctx: Ctx) -> Response:
    access = await _team_admin(ctx)
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
