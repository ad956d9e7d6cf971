"""Assembly of /api/v1: the API's services, every route module, the fallback 404."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from berth.accounts import hooks
from berth.accounts.services import AccountService, UserRecord
from berth.config import parse_duration
from berth.http.api.v1 import (
    apptokens,
    entities,
    manifests,
    meta,
    organizations,
    permissions,
    policies,
    prototypes,
    repositories,
    robots,
    superuser,
    tags,
    teams,
    users,
    web,
)
from berth.http.api.v1.framework import ApiApp, ApiRoute, build_routes, fallback_routes
from berth.http.api.v1.session import SessionCodec
from berth.http.api.v1.views import org_summary
from berth.oauth.services import OAuthService

if TYPE_CHECKING:
    from berth.app import Services

RouteModule = Callable[[ApiApp], list[ApiRoute]]
MODULES: tuple[RouteModule, ...] = (
    users.routes,
    superuser.routes,
    apptokens.routes,
    meta.routes,
    repositories.routes,
    web.routes,
    organizations.routes,
    teams.routes,
    entities.routes,
    robots.routes,
    prototypes.routes,
    permissions.routes,
    tags.routes,
    manifests.routes,
    policies.routes,
)


def create_api(svc: Services) -> ApiApp:
    raw = svc.settings.raw
    api = ApiApp(
        svc=svc,
        accounts=AccountService(
            svc.db, default_tag_expiration_s=parse_duration(raw.DEFAULT_TAG_EXPIRATION)
        ),
        oauth=OAuthService(svc.db, svc.auth.fernet),
        codec=SessionCodec(svc.settings.secret_key, max_age_s=parse_duration(raw.SESSION_TIMEOUT)),
    )
    api.audit_sink = functools.partial(hooks.record_usage_log, svc.db)
    api.namespace_admin = functools.partial(hooks.administers_namespace, svc.db)

    async def organizations(user: UserRecord) -> list[dict[str, Any]]:
        rows = await hooks.organization_roles(svc.db, user.id)
        return [org_summary(name, email, role) for name, email, role in rows]

    api.org_lister = organizations
    return api


def api_v1_routes(
    svc: Services, *, api: ApiApp | None = None, extra: tuple[RouteModule, ...] = ()
) -> list[BaseRoute]:
    """Every /api/v1 route (plus ``extra`` modules from other features), then the 404."""
    api = api or create_api(svc)
    table = [r for module in (*MODULES, *extra) for r in module(api)]
    return [*build_routes(api, table), *fallback_routes()]
