"""Oversized request headers are refused before any handler runs."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from berth.http.limits import HeaderLimit


def _app() -> HeaderLimit:
    async def hello(_request):  # type: ignore[no-untyped-def]
        return PlainTextResponse("hi")

    return HeaderLimit(Starlette(routes=[Route("/", hello)]), limit=4096)


async def test_normal_request_passes() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://t"
    ) as c:
        r = await c.get("/", headers={"X-Small": "a" * 100})
    assert r.status_code == 200
    assert r.text == "hi"


async def test_oversized_headers_get_431_with_oci_error() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://t"
    ) as c:
        r = await c.get("/", headers={"X-Big": "a" * 5000})
        long_url = await c.get("/?q=" + "b" * 5000)
    assert r.status_code == 431
    assert r.json()["errors"][0]["code"] == "SIZE_INVALID"
    assert long_url.status_code == 431
