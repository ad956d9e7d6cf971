"""/api/v1 over ASGI: the ``registry`` fixtures of tests/integration, plus sessions, OAuth
tokens and registries with other config keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from berth.config import load_settings
from berth.http.app import create_app
from tests.conftest import write_config
from tests.integration.conftest import BASE_URL, PASSWORDS, Berth

ALL_SCOPES = "repo:read repo:write repo:admin repo:create user:read user:admin org:admin super:user"


def api_of(registry: Berth) -> Any:
    return registry.app.state.api


async def oauth_token(registry: Berth, username: str, scope: str = ALL_SCOPES) -> str:
    """A 40-character bearer token for ``username`` from an app in its own namespace."""
    api = api_of(registry)
    apps = await api.oauth.list_applications(username)
    app = apps[0] if apps else await api.oauth.create_application(username, "tests")
    user = await api.accounts.get_user(username)
    issued = await api.oauth.issue_token(
        app, user.id, frozenset(scope.replace(",", " ").split()), 3600
    )
    return str(issued.token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(http: httpx.AsyncClient, username: str, password: str | None = None) -> str:
    """Ansible's dance: GET /csrf_token, POST /api/v1/signin; returns the next CSRF token."""
    r = await http.get("/csrf_token")
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    r = await http.post(
        "/api/v1/signin",
        json={"username": username, "password": password or PASSWORDS[username]},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    return r.headers["x-next-csrf-token"]


@pytest.fixture
def session_client(registry: Berth) -> Callable[[], httpx.AsyncClient]:
    """New clients (own cookie jars) on the registry's app."""
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=registry.app), base_url=BASE_URL)
        clients.append(c)
        return c

    return make


@pytest.fixture
def configured(
    registry_config: dict[str, Any], tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[Berth]]:
    """``async with configured(KEY=value): ...`` -> a Berth with extra config keys."""

    @contextlib.asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Berth]:
        conf_dir = tmp_path / "configured"
        conf_dir.mkdir(exist_ok=True)
        settings = load_settings(write_config(conf_dir, {**registry_config, **overrides}), env={})
        app = create_app(settings)
        kind = "distributed" if "DB_URI" in registry_config else "embedded"
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
                yield Berth(app, settings, http, kind)

    return build
