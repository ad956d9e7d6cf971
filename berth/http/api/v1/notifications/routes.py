"""Repository notifications (``/repository/{repo}/notification/``), namespace notifications
(``/organization/{org}/notifications``, ``/user/namespacenotifications``, behind
FEATURE_QUOTA_NOTIFICATIONS) and repository e-mail authorization (``authorizedemail``,
behind FEATURE_MAILING), with Quay's answers:

* create 201 with the notification; a bad event, method, config or event config 400;
* list 200 ``{notifications: [...]}``; get 200, an unknown uuid 404;
* delete 204, reset failures (POST on the notification) 204, test 200 ``{}``; an unknown
  uuid 400 for these three (Quay's quirk: Ansible reads 400 as "gone").

Repository routes need repository admin, organization routes an organization admin, user
routes the caller's own account. The service writes the usage-log entries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.responses import HTMLResponse, Response

from berth.authz import RepoRole
from berth.http.api.v1.errors import invalid_request, json_response, not_found
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Handler
from berth.http.api.v1.identity.access import require_org_admin
from berth.http.api.v1.notifications.serializers import (
    authorized_email_view,
    notification_view,
)
from berth.http.api.v1.repos.access import require_repo
from berth.notifications.errors import (
    InvalidCode,
    InvalidNotification,
    NotificationNotFound,
    ScopeNotFound,
)
from berth.notifications.services import Scope

T = TypeVar("T")

CREATE_BODY = {
    "type": "object",
    "description": "Information for creating a notification",
    "required": ["event", "method", "config", "eventConfig"],
    "properties": {
        "event": {
            "type": "string",
            "description": "The event on which the notification will respond",
        },
        "method": {
            "type": "string",
            "description": "The method of notification (such as email or web callback)",
        },
        "config": {
            "type": "object",
            "description": "JSON config information for the specific method of notification",
        },
        "eventConfig": {
            "type": "object",
            "description": "JSON config information for the specific event of notification",
        },
        "title": {"type": "string", "description": "The human-readable title of the notification"},
    },
}

ScopeOf = Callable[[Ctx], Awaitable[Scope]]


async def repo_scope(ctx: Ctx) -> Scope:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    return Scope(access.repo.namespace, access.repo.name)


async def org_scope(ctx: Ctx) -> Scope:
    name = ctx.params["orgname"]
    await require_org_admin(ctx, name)
    return Scope(name)


async def user_scope(ctx: Ctx) -> Scope:
    return Scope(ctx.require_user("user:admin").username)


async def _found(call: Awaitable[T], *, missing: str = "404") -> T:
    try:
        return await call
    except ScopeNotFound as e:
        raise not_found() from e
    except NotificationNotFound as e:
        if missing == "400":
            raise invalid_request(f"No notification found with uuid {e.uuid}") from e
        raise not_found() from e
    except InvalidNotification as e:
        raise invalid_request(e.message) from e


def _handlers(scope_of: ScopeOf) -> dict[str, Handler]:
    async def create(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        body = await ctx.body(CREATE_BODY)
        view = await _found(
            ctx.api.svc.notifications.create(
                scope,
                event=body["event"],
                method=body["method"],
                config=body["config"],
                event_config=body.get("eventConfig") or body.get("event_config") or {},
                title=body.get("title"),
                performer=ctx.performer(),
            )
        )
        return json_response(notification_view(view), 201)

    async def list_all(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        views = await _found(ctx.api.svc.notifications.list(scope))
        return json_response({"notifications": [notification_view(v) for v in views]})

    async def get(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        view = await _found(ctx.api.svc.notifications.get(scope, ctx.params["uuid"]))
        return json_response(notification_view(view))

    async def delete(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        await _found(
            ctx.api.svc.notifications.delete(scope, ctx.params["uuid"], performer=ctx.performer()),
            missing="400",
        )
        return Response(status_code=204)

    async def reset(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        await _found(
            ctx.api.svc.notifications.reset(scope, ctx.params["uuid"], performer=ctx.performer()),
            missing="400",
        )
        return Response(status_code=204)

    async def test(ctx: Ctx) -> Response:
        scope = await scope_of(ctx)
        await _found(ctx.api.svc.notifications.test(scope, ctx.params["uuid"]), missing="400")
        return json_response({})

    return {
        "create": create,
        "list": list_all,
        "get": get,
        "delete": delete,
        "reset": reset,
        "test": test,
    }


def _table(
    collection: str, scope_of: ScopeOf, *, scope: str, tag: str, enabled: bool = True
) -> list[ApiRoute]:
    h = _handlers(scope_of)
    item = collection.rstrip("/") + "/{uuid}"
    common: dict[str, Any] = {"tag": tag, "scopes": (scope,), "enabled": enabled}
    return [
        ApiRoute(
            "POST",
            collection,
            h["create"],
            "Create a new notification.",
            body=CREATE_BODY,
            body_name="NotificationCreateRequest",
            **common,
        ),
        ApiRoute("GET", collection, h["list"], "List the notifications.", **common),
        ApiRoute(
            "GET", item, h["get"], "Get information for the specified notification.", **common
        ),
        ApiRoute("DELETE", item, h["delete"], "Deletes the specified notification.", **common),
        ApiRoute(
            "POST", item, h["reset"], "Resets the number of failures of the notification.", **common
        ),
        ApiRoute("POST", item + "/test", h["test"], "Queues a test notification.", **common),
    ]


# ---- authorized e-mail addresses ----------------------------------------------------------
async def get_authorized_email(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    found = await _found(
        ctx.api.svc.notifications.authorized_email(access.repo, ctx.params["email"])
    )
    if found is None:
        raise not_found()
    return json_response(authorized_email_view(found))


async def authorize_email(ctx: Ctx) -> Response:
    access = (await require_repo(ctx, RepoRole.ADMIN)).require_exists()
    view = await _found(ctx.api.svc.notifications.authorize_email(access.repo, ctx.params["email"]))
    return json_response(authorized_email_view(view))


async def confirm_email(ctx: Ctx) -> Response:
    """The link of the confirmation e-mail."""
    try:
        view = await ctx.api.svc.notifications.confirm_email(ctx.query("code") or "")
    except InvalidCode as e:
        return HTMLResponse(f"<p>{e.message}</p>", status_code=400)
    return HTMLResponse(
        f"<p>{view.email} will now receive notifications for "
        f"{view.namespace}/{view.repository}.</p>"
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    svc = api.settings.notifications
    email = "/repository/{repository}/authorizedemail/{email}"
    return [
        *_table(
            "/repository/{repository}/notification/",
            repo_scope,
            scope="repo:admin",
            tag="repositorynotification",
        ),
        *_table(
            "/organization/{orgname}/notifications",
            org_scope,
            scope="org:admin",
            tag="namespacenotification",
            enabled=svc.quota_notifications,
        ),
        *_table(
            "/user/namespacenotifications",
            user_scope,
            scope="user:admin",
            tag="namespacenotification",
            enabled=svc.quota_notifications,
        ),
        ApiRoute(
            "GET",
            email,
            get_authorized_email,
            "Checks to see if the given e-mail address is authorized on this repository.",
            tag="repoemail",
            scopes=("repo:admin",),
            internal=True,
            enabled=svc.mailing,
        ),
        ApiRoute(
            "POST",
            email,
            authorize_email,
            "Starts the authorization process for an e-mail address on a repository.",
            tag="repoemail",
            scopes=("repo:admin",),
            internal=True,
            enabled=svc.mailing,
        ),
        ApiRoute(
            "GET",
            "/authrepoemail",
            confirm_email,
            prefix="",
            csrf=False,
            oauth=False,
            anon_allowed=True,
            enabled=svc.mailing,
        ),
    ]
