"""ASGI entry point for server worker processes (``berth serve`` starts Granian on it), and
the commit-wait middleware.

The parent process passes its resolved options in ``BERTH_SERVE_OPTIONS`` (JSON) so every
worker parses the same configuration once at start.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING

from berth.registry.cache import close_response_hold, open_response_hold

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


def create_from_env() -> Starlette:
    """The app of one worker, returned once the database setup of ``berth serve`` is done
    (the app is built meanwhile: building it does not touch the database)."""
    from berth.app import create_app
    from berth.config import load_settings
    from berth.http.serve import wait_for_setup

    opts = json.loads(os.environ.get("BERTH_SERVE_OPTIONS", "{}"))
    env = dict(os.environ)
    env.update(opts.get("env", {}))
    settings = load_settings(opts.get("config"), data_dir=opts.get("data_dir"), env=env)
    app = create_app(settings)
    # Granian copies a response body chunk before ``send`` returns, so blob downloads may
    # hand it the storage driver's reusable buffers (ASGI test transports keep references).
    app.state.server_copies_body = True
    wait_for_setup(opts)
    return app


class CommitWait:
    """Holds a response back until the writes of its request are visible on every replica.

    A write that changes a repository's generation in Redis asks (``hold_responses_until``)
    that its response not start before the read leases other replicas hold have run out;
    see ``berth.registry.cache``. Requests that wrote nothing pass straight through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hold, token = open_response_hold()

        async def send_when_visible(message: Message) -> None:
            if message["type"] == "http.response.start":
                delay = hold.until - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await send(message)

        try:
            await self.app(scope, receive, send_when_visible)
        finally:
            close_response_hold(token)
