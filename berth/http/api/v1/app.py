"""Assembly of /api/v1: the API's services, every route module, the fallback 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from berth.http.api.v1 import discovery
from berth.http.api.v1.builds import routes as builds
from berth.http.api.v1.buildtriggers import routes as buildtriggers
from berth.http.api.v1.buildtriggers import webhooks as trigger_webhooks
from berth.http.api.v1.framework import ApiApp, ApiRoute, build_routes, fallback_routes
from berth.http.api.v1.identity import (
    entities,
    oidc,
    organizations,
    permissions,
    prototypes,
    robot_federation,
    robots,
    superuser,
    teams,
    users,
)
from berth.http.api.v1.messages import routes as messages
from berth.http.api.v1.mirroring import routes as mirroring
from berth.http.api.v1.notifications import routes as notifications
from berth.http.api.v1.notifications import users as user_notifications
from berth.http.api.v1.oauth import apptokens, assign, authorize
from berth.http.api.v1.policies import routes as policies
from berth.http.api.v1.proxycache import routes as proxycache
from berth.http.api.v1.quotas import routes as quotas
from berth.http.api.v1.ratelimits import routes as ratelimits
from berth.http.api.v1.registry import capabilities, manifests, tags
from berth.http.api.v1.repos import routes as repositories
from berth.http.api.v1.repos import tokens as repository_tokens
from berth.http.api.v1.scanner import routes as scanner
from berth.http.api.v1.session import SessionCodec
from berth.http.api.v1.usagelogs import routes as usagelogs

if TYPE_CHECKING:
    from berth.services import Services

RouteModule = Callable[[ApiApp], list[ApiRoute]]
MODULES: tuple[RouteModule, ...] = (
    users.routes,
    superuser.routes,
    apptokens.routes,
    discovery.routes,
    repositories.routes,
    authorize.routes,
    organizations.routes,
    teams.routes,
    entities.routes,
    robots.routes,
    prototypes.routes,
    permissions.routes,
    tags.routes,
    manifests.routes,
    policies.routes,
    notifications.routes,
    user_notifications.routes,
    usagelogs.routes,
    repository_tokens.routes,
    capabilities.routes,
    quotas.routes,
    ratelimits.routes,
    oidc.routes,
    robot_federation.routes,
    messages.routes,
    assign.routes,
    proxycache.routes,
    mirroring.routes,
    scanner.routes,
    builds.routes,
    buildtriggers.routes,
    trigger_webhooks.routes,
)


def create_api(svc: Services) -> ApiApp:
    return ApiApp(
        svc=svc,
        codec=SessionCodec(svc.settings.secret_key, max_age_s=svc.settings.session.timeout_s),
    )


def api_v1_routes(
    svc: Services, *, api: ApiApp | None = None, extra: tuple[RouteModule, ...] = ()
) -> list[BaseRoute]:
    """Every /api/v1 route (plus ``extra`` modules from other features), then the 404."""
    api = api or create_api(svc)
    table = [r for module in (*MODULES, *extra) for r in module(api)]
    return [*build_routes(api, table), *fallback_routes()]
