"""Middleware of the whole app: the commit wait of the shared read cache."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from berth.registry.cache import close_response_hold, open_response_hold

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
