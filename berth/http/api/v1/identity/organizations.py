"""Organizations: create, view, change, delete (as a job), members and collaborators, and
the organization's OAuth applications (quay-api.md section 3, "Organizations ...")."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from berth.http.api.v1.errors import (
    forbidden,
    invalid_request,
    json_response,
    model_errors,
    not_found,
    quay_errors,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx
from berth.http.api.v1.identity.access import OrgAccess, actor, administered_org, org_access
from berth.http.api.v1.identity.org_serializers import (
    application_info_view,
    application_view,
    collaborator_view,
    org_member_view,
    org_view,
)
from berth.http.api.v1.quota_views import namespace_quota_view, quotas_shown
from berth.identity.errors import EmailTaken, NotFound
from berth.oauth.errors import ApplicationNotFound
from berth.oauth.services import Application

TAG = "organization"

NEW_ORG = {
    "type": "object",
    "description": "Description of a new organization.",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "description": "Organization username"},
        "email": {"type": "string", "description": "Organization contact email"},
        "recaptcha_response": {"type": "string"},
    },
}
UPDATE_ORG = {
    "type": "object",
    "description": "Description of updates for an existing organization",
    "properties": {
        "email": {"type": "string", "description": "Organization contact email"},
        "invoice_email": {"type": "boolean"},
        "invoice_email_address": {"type": ["string", "null"]},
        "tag_expiration_s": {"type": "integer", "minimum": 0},
    },
}
_APP_FIELDS = {
    "name": {"type": "string", "description": "The name of the application"},
    "redirect_uri": {"type": "string", "description": "The URI for the OAuth redirect"},
    "application_uri": {"type": "string", "description": "The URI of the application"},
    "description": {"type": "string", "description": "What the application is"},
    "avatar_email": {"type": "string", "description": "E-mail address of the avatar"},
}
NEW_APP = {"type": "object", "required": ["name"], "properties": _APP_FIELDS}
UPDATE_APP = {
    "type": "object",
    "required": ["name", "redirect_uri", "application_uri"],
    "properties": _APP_FIELDS,
}


async def _admin_of_org(ctx: Ctx) -> OrgAccess:
    access = await administered_org(ctx, ctx.params["orgname"])
    return access.require_org()


async def _view(ctx: Ctx, access: OrgAccess) -> dict[str, Any]:
    svc = ctx.api.svc
    with quay_errors():
        info = await svc.orgs.get(access.name)
        teams = await svc.teams.list(access.name) if access.is_member or access.reads_all else None
    view = org_view(info, access, teams, superuser_view=access.reads_all)
    if quotas_shown(ctx.api.settings) and (access.is_member or access.reads_all):
        view.update(await namespace_quota_view(svc, access.name))
    return view


# ---- the organization ------------------------------------------------------------------
async def create_org(ctx: Ctx) -> Response:
    user = ctx.require_user("user:admin")
    api = ctx.api
    if not ctx.caller.superuser_account and api.settings.is_restricted_user(user.username):
        raise forbidden()
    body = await ctx.body(NEW_ORG)
    with quay_errors():  # Quay's request_error: every refusal here is invalid_request
        await api.svc.orgs.create(
            body["name"],
            creator=user.username,
            email=body.get("email") or None,
            email_required=api.settings.api.mailing,
            ip=ctx.actor_ip,
        )
    return json_response("Created", 201)


async def get_org(ctx: Ctx) -> Response:
    access = (await org_access(ctx, ctx.params["orgname"])).require_org()
    return json_response(await _view(ctx, access))


async def update_org(ctx: Ctx) -> Response:
    body = await ctx.body(UPDATE_ORG)
    access = await _admin_of_org(ctx)
    changes: dict[str, Any] = {}
    if "email" in body:
        changes["email"] = body["email"]
    if ctx.api.settings.api.change_tag_expiration:
        changes["tag_expiration_s"] = body.get("tag_expiration_s")
    with model_errors():
        try:
            await ctx.api.svc.orgs.update(access.name, **changes, **actor(ctx))
        except EmailTaken as e:
            raise invalid_request("E-mail address already used") from e
    return json_response(await _view(ctx, access))


async def delete_org(ctx: Ctx) -> Response:
    ctx.require_fresh_login()
    access = await _admin_of_org(ctx)
    with model_errors():
        await ctx.api.svc.orgs.delete(access.name, **actor(ctx))
    return Response(status_code=204)


# ---- members and collaborators ---------------------------------------------------------
async def list_collaborators(ctx: Ctx) -> Response:
    access = await _admin_of_org(ctx)
    found = await ctx.api.svc.orgs.collaborators(access.name)
    return json_response({"collaborators": [collaborator_view(m) for m in found]})


async def list_members(ctx: Ctx) -> Response:
    access = await _admin_of_org(ctx)
    found = await ctx.api.svc.orgs.members(access.name)
    return json_response({"members": [org_member_view(m, with_robot_kind=False) for m in found]})


async def get_member(ctx: Ctx) -> Response:
    access = await _admin_of_org(ctx)
    with model_errors():
        member = await ctx.api.svc.orgs.member(access.name, ctx.params["membername"])
    return json_response(org_member_view(member, with_robot_kind=True))


async def remove_member(ctx: Ctx) -> Response:
    access = await _admin_of_org(ctx)
    name = ctx.params["membername"]
    target = await ctx.api.accounts.get_user(name)
    if target is None or target.kind != "user":
        raise not_found()
    with model_errors():
        await ctx.api.svc.orgs.remove_member(access.name, name, **actor(ctx))
    return Response(status_code=204)


# ---- OAuth applications ----------------------------------------------------------------
async def _org_application(ctx: Ctx) -> tuple[OrgAccess, Application]:
    access = await _admin_of_org(ctx)
    try:
        app = await ctx.api.oauth.get_application(ctx.params["client_id"])
    except ApplicationNotFound as e:
        raise not_found() from e
    if app.namespace != access.name:
        raise not_found()
    return access, app


def _app_fields(body: dict[str, Any]) -> dict[str, Any]:
    """An application's details from a NewApp/UpdateApp body (Quay's defaults)."""
    return {
        "redirect_uri": body.get("redirect_uri", ""),
        "application_uri": body.get("application_uri", ""),
        "description": body.get("description", ""),
        "avatar_email": body.get("avatar_email"),
    }


async def list_applications(ctx: Ctx) -> Response:
    access = await _admin_of_org(ctx)
    apps = await ctx.api.oauth.list_applications(access.name)
    return json_response({"applications": [application_view(a) for a in apps]})


async def create_application(ctx: Ctx) -> Response:
    body = await ctx.body(NEW_APP)
    access = await _admin_of_org(ctx)
    app = await ctx.api.oauth.create_application(
        access.name, body["name"], **_app_fields(body), performer=ctx.performer()
    )
    return json_response(application_view(app))


async def get_application(ctx: Ctx) -> Response:
    _access, app = await _org_application(ctx)
    return json_response(application_view(app))


async def update_application(ctx: Ctx) -> Response:
    body = await ctx.body(UPDATE_APP)
    _access, app = await _org_application(ctx)
    app = await ctx.api.oauth.update_application(
        app.client_id, name=body["name"], **_app_fields(body), performer=ctx.performer()
    )
    return json_response(application_view(app))


async def delete_application(ctx: Ctx) -> Response:
    _access, app = await _org_application(ctx)
    await ctx.api.oauth.delete_application(app.client_id, performer=ctx.performer())
    return Response(status_code=204)


async def reset_client_secret(ctx: Ctx) -> Response:
    _access, app = await _org_application(ctx)
    app = await ctx.api.oauth.reset_client_secret(app.client_id, performer=ctx.performer())
    return json_response(application_view(app))


async def application_info(ctx: Ctx) -> Response:
    try:
        app = await ctx.api.oauth.get_application(ctx.params["client_id"])
        owner = await ctx.api.svc.orgs.get(app.namespace, any_kind=True)
    except (ApplicationNotFound, NotFound) as e:
        raise not_found() from e
    access = await org_access(ctx, app.namespace)
    organization = org_view(owner, access, [], superuser_view=access.reads_all)
    return json_response(application_info_view(app, owner.email, organization))


def routes(api: ApiApp) -> list[ApiRoute]:
    org = "/organization/{orgname}"
    app = org + "/applications/{client_id}"
    admin = ("org:admin",)
    return [
        ApiRoute(
            "POST",
            "/organization/",
            create_org,
            "Create a new organization.",
            tag=TAG,
            body=NEW_ORG,
            body_name="NewOrg",
            scopes=("user:admin",),
        ),
        ApiRoute("GET", org, get_org, "Get the details for the specified organization.", tag=TAG),
        ApiRoute(
            "PUT",
            org,
            update_org,
            "Change the details for the specified organization.",
            tag=TAG,
            body=UPDATE_ORG,
            body_name="UpdateOrg",
            scopes=admin,
        ),
        ApiRoute(
            "DELETE", org, delete_org, "Deletes the specified organization.", tag=TAG, scopes=admin
        ),
        ApiRoute(
            "GET",
            org + "/collaborators",
            list_collaborators,
            "List outside collaborators of the specified organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "GET",
            org + "/members",
            list_members,
            "List the human members of the specified organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "GET",
            org + "/members/{membername}",
            get_member,
            "Retrieves the details of a member of the organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "DELETE",
            org + "/members/{membername}",
            remove_member,
            "Removes a member from an organization, revoking all its repository privileges "
            "and removing it from all teams in the organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "GET",
            "/app/{client_id}",
            application_info,
            "Get information on the specified application.",
            tag=TAG,
        ),
        ApiRoute(
            "GET",
            org + "/applications",
            list_applications,
            "List the applications for the specified organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "POST",
            org + "/applications",
            create_application,
            "Creates a new application under this organization.",
            tag=TAG,
            body=NEW_APP,
            body_name="NewApp",
            scopes=admin,
        ),
        ApiRoute(
            "GET",
            app,
            get_application,
            "Retrieves the application with the specified client_id under the specified "
            "organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "PUT",
            app,
            update_application,
            "Updates an application under this organization.",
            tag=TAG,
            body=UPDATE_APP,
            body_name="UpdateApp",
            scopes=admin,
        ),
        ApiRoute(
            "DELETE",
            app,
            delete_application,
            "Deletes the application under this organization.",
            tag=TAG,
            scopes=admin,
        ),
        ApiRoute(
            "POST",
            app + "/resetclientsecret",
            reset_client_secret,
            "Resets the client secret of the application.",
            tag=TAG,
            internal=True,
        ),
    ]
