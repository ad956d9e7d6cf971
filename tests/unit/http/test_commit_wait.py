"""CommitWait: a response whose request asked to be held starts no earlier than asked."""

from __future__ import annotations

import time

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from berth.http.middleware import CommitWait
from berth.registry.cache import hold_responses_until

HOLD = 0.3


async def write(_request: Request) -> PlainTextResponse:
    hold_responses_until(time.monotonic() + HOLD / 2)
    hold_responses_until(time.monotonic() + HOLD)  # the later deadline wins
    hold_responses_until(time.monotonic())
    return PlainTextResponse("written", status_code=201)


async def read(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("read")


def _app() -> Starlette:
    return Starlette(
        routes=[Route("/write", write, methods=["PUT"]), Route("/read", read)],
        middleware=[Middleware(CommitWait)],
    )


async def test_a_held_response_starts_after_its_deadline_and_others_pass() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        t0 = time.monotonic()
        resp = await http.put("/write")
        held = time.monotonic() - t0
        assert (resp.status_code, resp.text) == (201, "written")
        assert held >= HOLD

        t0 = time.monotonic()
        resp = await http.get("/read")
        assert (resp.status_code, resp.text) == (200, "read")
        assert time.monotonic() - t0 < HOLD  # the hold belonged to the other request
