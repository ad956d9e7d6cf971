"""Assembly of the web UI: every page module's routes, ``/static``, and the HTML 404."""

from __future__ import annotations

from collections.abc import Callable

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from berth.http.api.v1.framework import ApiApp
from berth.http.web.framework import STATIC, WebApp, WebRoute, build_routes, not_found_route
from berth.http.web.pages import (
    builds,
    buildtriggers,
    manifest,
    mirroring,
    notification_settings,
    notifications,
    org_policies,
    organizations,
    proxycache,
    quotas,
    ratelimits,
    repos,
    repository,
    search,
    session,
    superuser,
    usagelogs,
    users,
)

PageModule = Callable[[WebApp], list[WebRoute]]
# Add a page module here (and its templates under templates/<area>/): docs/ui.md.
MODULES: tuple[PageModule, ...] = (
    session.routes,
    repos.routes,
    notification_settings.routes,  # before repository's (as usagelogs)
    usagelogs.routes,  # before repository's: {repository} would swallow /exportlogs
    manifest.routes,  # before repository's: {repository} would swallow /manifest/...
    mirroring.routes,  # likewise /mirror
    builds.routes,  # likewise /build/...
    buildtriggers.routes,  # likewise /trigger/...
    repository.routes,
    search.routes,
    organizations.routes,
    proxycache.routes,
    users.routes,
    superuser.routes,
    notifications.routes,
    quotas.routes,
    ratelimits.routes,
    org_policies.routes,
)


def web_routes(api: ApiApp, *, extra: tuple[PageModule, ...] = ()) -> list[BaseRoute]:
    """Every page (plus ``extra`` modules from other features), ``/static``, then the HTML
    404 for any other path outside ``/v2`` and ``/api``. Mount these after the API's routes."""
    web = WebApp(api)
    table = [r for module in (*MODULES, *extra) for r in module(web)]
    return [
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        *build_routes(web, table),
        not_found_route(web),
    ]
