"""The ASGI application: ``/v2``, ``/api/v1`` and the web UI over the services of the
composition root."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from berth.config import Settings
from berth.http.api.v1.app import api_v1_routes, create_api
from berth.http.limits import HeaderLimit
from berth.http.middleware import CommitWait
from berth.http.observe import RequestMetrics, observe_routes
from berth.http.v2.routes import v2_routes
from berth.http.web.app import web_routes
from berth.services import Services, create_services


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app for ``settings``; ``services`` when the caller built them (tests, a worker
    that shares them)."""
    svc = services or create_services(settings)
    api = create_api(svc)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await svc.start()
        try:
            yield
        finally:
            await svc.close()

    app = Starlette(
        routes=[
            *v2_routes(svc),
            *observe_routes(svc),
            *api_v1_routes(svc, api=api),
            *web_routes(api),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(RequestMetrics, recorder=svc.metrics),
            Middleware(HeaderLimit),
            *([Middleware(CommitWait)] if svc.read_cache.holds_responses else []),
        ],
    )
    app.state.services = svc
    app.state.api = api
    app.state.server_copies_body = False  # see berth.asgi.create_from_env
    return app
