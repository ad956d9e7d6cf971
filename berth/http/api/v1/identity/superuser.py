"""``/superuser/users/``: list, create (generated password), get, update, delete;
``/superuser/organizations/``: list, rename, delete; ``/superuser/apptokens`` and
``/superuser/config`` (FEATURE_SUPERUSER_CONFIGDUMP, secrets masked).

Global read-only superusers (GLOBAL_READONLY_SUPER_USERS) pass every GET here
(``Ctx.require_superuser``) and no write."""

from __future__ import annotations

import functools
import re
import secrets
import string
from typing import Any

from starlette.responses import Response

from berth.config import QuayConfig
from berth.http.api.v1.errors import (
    MessageError,
    invalid_request,
    json_response,
    model_errors,
    not_found,
)
from berth.http.api.v1.formats import avatar
from berth.http.api.v1.framework import ApiApp, ApiRoute, Ctx, Param
from berth.http.api.v1.identity.serializers import superuser_user_view
from berth.http.api.v1.oauth.apptokens import EXPIRING_SOON_S, app_token_view
from berth.http.api.v1.paging import page_start, page_token
from berth.http.api.v1.quota_views import embedded_quota_view, quotas_shown
from berth.identity.accounts import UserRecord
from berth.identity.errors import InvalidPassword, InvalidUsername, NamespaceTaken, NotFound

GENERATED_PASSWORD_LENGTH = 32
MAX_LIMIT = 100

CREATE_USER = {
    "type": "object",
    "required": ["username"],
    "properties": {"username": {"type": "string"}, "email": {"type": "string"}},
}
UPDATE_USER = {
    "type": "object",
    "properties": {
        "password": {"type": "string"},
        "email": {"type": "string"},
        "enabled": {"type": "boolean"},
        "superuser": {"type": "boolean"},
    },
}


def generate_password() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(GENERATED_PASSWORD_LENGTH))


def _view(api: ApiApp, user: UserRecord) -> dict[str, object]:
    return superuser_user_view(
        user,
        super_user=api.is_superuser_account(user),
        readonly_super_user=api.is_readonly_superuser_account(user),
    )


async def _target(ctx: Ctx) -> UserRecord:
    user = await ctx.api.accounts.get_user(ctx.params["username"])
    if user is None or user.kind != "user":
        raise not_found()
    return user


async def list_users(ctx: Ctx) -> Response:
    ctx.require_superuser()
    limit = ctx.query_int("limit")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise invalid_request(f"limit must be between 1 and {MAX_LIMIT}")
    after = page_start(ctx.api, ctx.query("next_page")) if limit else 0
    users = await ctx.api.accounts.list_users(
        include_disabled=ctx.query_bool("disabled", True),
        after_id=after,
        limit=limit + 1 if limit else None,
    )
    body: dict[str, object] = {}
    if limit and len(users) > limit:
        users = users[:limit]
        body["next_page"] = page_token(ctx.api, users[-1].id)
    views = [_view(ctx.api, u) for u in users]
    if quotas_shown(ctx.api.settings) and users:
        overview = await ctx.api.svc.quotas.overview([u.username for u in users])
        for user, view in zip(users, views, strict=True):
            quota = overview.get(user.username, (None, None))[0]
            view["quotas"] = [embedded_quota_view(quota)] if quota else []
    return json_response({"users": views, **body})


async def create_user(ctx: Ctx) -> Response:
    ctx.require_superuser()
    if not ctx.api.settings.api.database_auth:
        raise invalid_request("Cannot create a user in a non-database auth system")
    body = await ctx.body(CREATE_USER)
    password = generate_password()
    try:
        created = await ctx.api.accounts.create_user(
            body["username"], password, email=body.get("email"), performer=ctx.performer()
        )
    except NamespaceTaken as e:
        raise invalid_request("Requested username already exists") from e
    except InvalidUsername as e:
        raise invalid_request(str(e)) from e
    return json_response(
        {
            "username": created.username,
            "email": created.email,
            "password": password,
            "encrypted_password": ctx.api.encrypted_password(password),
        }
    )


async def get_user(ctx: Ctx) -> Response:
    ctx.require_superuser()
    return json_response(_view(ctx.api, await _target(ctx)))


async def update_user(ctx: Ctx) -> Response:
    ctx.require_superuser()
    user = await _target(ctx)
    if ctx.api.is_superuser_account(user):
        raise invalid_request("Cannot update a superuser")
    body = await ctx.body(UPDATE_USER)
    if "password" in body and not ctx.api.settings.api.database_auth:
        raise invalid_request("Cannot change password in non-database auth system")
    try:
        updated = await ctx.api.accounts.update_user(
            user.id,
            email=body.get("email"),
            password=body.get("password"),
            enabled=body.get("enabled"),
            superuser=body.get("superuser"),
            performer=ctx.performer(),
        )
    except InvalidPassword as e:
        raise invalid_request(str(e)) from e
    view = _view(ctx.api, updated)
    if "password" in body:
        view["encrypted_password"] = ctx.api.encrypted_password(body["password"])
    return json_response(view)


async def delete_user(ctx: Ctx) -> Response:
    ctx.require_superuser()
    user = await _target(ctx)
    if ctx.api.is_superuser_account(user):
        raise invalid_request("Cannot delete a superuser")
    await ctx.api.accounts.mark_user_for_deletion(user.username, performer=ctx.performer())
    return Response(status_code=204)


async def list_organizations(ctx: Ctx) -> Response:
    """``GET /superuser/organizations/``: every organization, paged like the users."""
    ctx.require_superuser()
    limit = ctx.query_int("limit")
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise invalid_request(f"limit must be between 1 and {MAX_LIMIT}")
    after = page_start(ctx.api, ctx.query("next_page")) if limit else 0
    orgs = await ctx.api.svc.orgs.list_all(after_id=after, limit=limit + 1 if limit else None)
    body: dict[str, object] = {}
    if limit and len(orgs) > limit:
        orgs = orgs[:limit]
        body["next_page"] = page_token(ctx.api, orgs[-1].id)
    views = [
        {"name": o.name, "email": o.email, "avatar": avatar(o.name, o.email, "org")} for o in orgs
    ]
    return json_response({"organizations": views, **body})


async def delete_organization(ctx: Ctx) -> Response:
    """``DELETE /superuser/organizations/{name}``: as the organization's own delete."""
    ctx.require_superuser()
    user = ctx.caller.user
    assert user is not None
    try:
        await ctx.api.svc.orgs.delete(ctx.params["name"], performer=user.username, ip=ctx.actor_ip)
    except NotFound as e:
        raise not_found() from e
    return Response(status_code=204)


RENAME_ORG = {
    "type": "object",
    "properties": {"name": {"type": "string", "description": "The new name for the organization"}},
}


async def rename_organization(ctx: Ctx) -> Response:
    """``PUT /superuser/organizations/{name}`` with ``{"name": new}`` (what Ansible's
    ``quay_organization`` calls to rename): the organization view under its new name."""
    user = ctx.require_superuser()
    body = await ctx.body(RENAME_ORG)
    name = ctx.params["name"]
    orgs = ctx.api.svc.orgs
    try:
        with model_errors():
            info = (
                await orgs.rename(name, body["name"], performer=user.username, ip=ctx.actor_ip)
                if body.get("name")
                else await orgs.get(name)
            )
    except NotFound as e:
        raise not_found() from e
    return json_response(
        {"name": info.name, "email": info.email, "avatar": avatar(info.name, info.email, "org")}
    )


async def list_app_tokens(ctx: Ctx) -> Response:
    """``GET /superuser/apptokens[?expiring=true]``: every user's app-specific tokens, as
    ``GET /user/apptoken`` shows one user's (never their codes), each with its ``owner``."""
    ctx.require_superuser()
    expiring = ctx.query_bool("expiring", False)
    tokens = await ctx.api.oauth.list_all_app_tokens(
        expiring_within_s=EXPIRING_SOON_S if expiring else None
    )
    views = [{**app_token_view(t), "owner": owner} for t, owner in tokens]
    return json_response({"tokens": views, "only_expiring": expiring})


SECRET_KEY_NAME = re.compile(r"secret|password|passwd|token|key|credential|private", re.I)
URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
MASKED = "********"
CONFIG_WARNING = (
    "This is the configuration the registry runs with (config.yaml, then the environment's "
    "overrides); secrets are masked. Changing it means editing config.yaml and restarting."
)


def masked(value: Any, key: str = "") -> Any:
    """``value`` with every secret masked: values of keys that name a secret (passwords,
    keys, tokens ...) whole, credentials inside URLs (``scheme://user:pass@host``)."""
    if key and SECRET_KEY_NAME.search(key) and not isinstance(value, bool | dict | list):
        return MASKED if value not in (None, "") else value
    if isinstance(value, dict):
        return {str(k): masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        return URL_USERINFO.sub(MASKED + "@", value)
    return value


@functools.cache
def config_schema() -> dict[str, Any]:
    """The JSON schema of the keys Berth reads (from its typed Quay configuration)."""
    return QuayConfig.model_json_schema()


async def config_dump(ctx: Ctx) -> Response:
    """``GET /superuser/config`` (Quay 3.15): ``{config, warning, env, schema}``. Read-only:
    Berth's configuration is its file, so there is nothing to write back. Without
    FEATURE_SUPERUSER_CONFIGDUMP superusers get 403, as Quay answers."""
    ctx.require_superuser()
    settings = ctx.api.settings
    if not settings.superuser_configdump:
        raise MessageError(403, "FEATURE_SUPERUSER_CONFIGDUMP is not enabled")
    config = masked(settings.quay_config)
    return json_response(
        {
            "config": config,
            "warning": CONFIG_WARNING,
            "env": {k: config.get(k) for k in settings.config_env},
            "schema": config_schema(),
        }
    )


def routes(api: ApiApp) -> list[ApiRoute]:
    if not api.settings.api.super_users_enabled:
        return []
    sc = ("super:user",)
    return [
        ApiRoute(
            "PUT",
            "/superuser/organizations/{name}",
            rename_organization,
            "Updates information about the specified organization.",
            tag="superuser",
            scopes=sc,
            body=RENAME_ORG,
            body_name="UpdateOrg",
        ),
        ApiRoute(
            "GET",
            "/superuser/apptokens",
            list_app_tokens,
            "Lists all app specific tokens in the system.",
            tag="superuser",
            scopes=sc,
            enabled=api.settings.auth.app_specific_tokens,
            query=(
                Param("expiring", "boolean", "If true, only returns those tokens expiring soon"),
            ),
        ),
        ApiRoute(
            "GET",
            "/superuser/config",
            config_dump,
            "Returns the registry's configuration, secrets masked.",
            tag="superuser",
            scopes=sc,
        ),
        ApiRoute(
            "GET",
            "/superuser/users/",
            list_users,
            "Returns a list of all users in the system.",
            tag="superuser",
            scopes=sc,
            query=(
                Param("disabled", "boolean", "If false, only enabled users will be returned."),
                Param("limit", "integer", "Limit to the number of results to return per page."),
                Param("next_page", "string", "The page token for the next page"),
            ),
        ),
        ApiRoute(
            "POST",
            "/superuser/users/",
            create_user,
            "Creates a new user.",
            tag="superuser",
            scopes=sc,
            body=CREATE_USER,
            body_name="CreateInstallUser",
        ),
        ApiRoute(
            "GET",
            "/superuser/users/{username}",
            get_user,
            "Returns information about the specified user.",
            tag="superuser",
            scopes=sc,
        ),
        ApiRoute(
            "PUT",
            "/superuser/users/{username}",
            update_user,
            "Updates information about the specified user.",
            tag="superuser",
            scopes=sc,
            body=UPDATE_USER,
            body_name="UpdateUser",
        ),
        ApiRoute(
            "DELETE",
            "/superuser/users/{username}",
            delete_user,
            "Deletes the specified user.",
            tag="superuser",
            scopes=sc,
        ),
        ApiRoute(
            "GET",
            "/superuser/organizations/",
            list_organizations,
            "Returns a list of all organizations in the system.",
            tag="superuser",
            internal=True,
            scopes=sc,
            query=(
                Param("limit", "integer", "Limit to the number of results to return per page."),
                Param("next_page", "string", "The page token for the next page"),
            ),
        ),
        ApiRoute(
            "DELETE",
            "/superuser/organizations/{name}",
            delete_organization,
            "Deletes the specified organization.",
            tag="superuser",
            scopes=sc,
        ),
    ]
