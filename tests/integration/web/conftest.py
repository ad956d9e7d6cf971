"""The web UI over ASGI: the ``registry`` fixtures of tests/integration, and a browser-like
client that signs in through the sign-in page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.conftest import BASE_URL, PASSWORDS, Berth

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the page's first form."""
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


class Browser:
    """A cookie jar on the app, posting forms the way a browser does."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(self, url: str, **kw: object) -> httpx.Response:
        return await self.http.get(url, **kw)  # type: ignore[arg-type]

    async def submit(self, page_url: str, action: str, data: dict[str, str]) -> httpx.Response:
        """Open ``page_url``, then post ``data`` with its CSRF token to ``action``."""
        page = await self.http.get(page_url)
        assert page.status_code == 200, page.text
        return await self.http.post(action, data={"_csrf_token": csrf_of(page.text), **data})

    async def sign_in(self, username: str, password: str | None = None) -> httpx.Response:
        r = await self.submit(
            "/signin",
            "/signin",
            {"username": username, "password": password or PASSWORDS[username], "next": "/"},
        )
        assert r.status_code == 303, r.text
        return r


@pytest.fixture
async def browser(registry: Berth) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=registry.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield Browser(http)


@pytest.fixture
async def other_browser(registry: Berth) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=registry.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield Browser(http)
