"""Robot identity federation against a real OIDC provider: the federation routes with
Quay's validation, and a CI token of the provider exchanged for a robot token that logs in
on /v2/auth, while a token of another subject, a forged one, or none is refused."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth, unverified_claims
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = pytest.mark.slow

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]
FED = "/api/v1/user/robots/ci/federation"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def exchange(berth: Berth, token: str) -> httpx.Response:
    return await berth.http.get("/oauth2/federation/robot/token", headers=basic("alice+ci", token))


async def test_federated_robot_logs_in_with_the_providers_token(  # type: ignore[no-untyped-def]
    configured: Configured, oidc_provider: OidcProvider
) -> None:
    async with configured(SSRF_ALLOWED_HOSTS=["127.0.0.1"]) as berth:
        h = bearer(await oauth_token(berth, "alice"))
        r = await berth.http.put("/api/v1/user/robots/ci", json={}, headers=h)
        assert r.status_code == 201, r.text
        r = await berth.http.post(
            "/api/v1/repository",
            json={"repository": "app", "namespace": "alice", "visibility": "private",
                  "description": ""},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = await berth.http.put(
            "/api/v1/repository/alice/app/permissions/user/alice+ci",
            json={"role": "write"},
            headers=h,
        )
        assert r.status_code == 200, r.text

        # Quay's validation
        for body, message in (
            ([{"issuer": "not-a-url", "subject": "ci"}], "Issuer must be a URL"),
            ([{"issuer": oidc_provider.issuer}], "Missing one or more required fields"),
            (
                [{"issuer": oidc_provider.issuer, "subject": "ci"}] * 2,
                "Duplicate federation config entry",
            ),
        ):
            r = await berth.http.post(FED, json=body, headers=h)
            assert r.status_code == 400, r.text
            assert message in r.json()["error_message"]
        assert (await berth.http.get(FED, headers=h)).json() == []

        # Ansible's body (with the UI's isExpanded) replaces the entries
        entry = {"issuer": oidc_provider.issuer, "subject": "ci"}
        r = await berth.http.post(FED, json=[{**entry, "isExpanded": False}], headers=h)
        assert r.status_code == 200, r.text
        assert r.json() == [entry]
        assert (await berth.http.get(FED, headers=h)).json() == [entry]

        # the provider's token for subject "ci" -> a robot token -> a registry login
        r = await exchange(berth, oidc_provider.client_credentials())
        assert r.status_code == 200, r.text
        robot_token = r.json()["token"]
        r = await berth.http.get(
            "/v2/auth",
            params={"service": "localhost:5000", "scope": "repository:alice/app:pull,push"},
            headers=basic("alice+ci", robot_token),
        )
        assert r.status_code == 200, r.text
        (access,) = unverified_claims(r.json()["token"])["access"]
        assert sorted(access["actions"]) == ["pull", "push"]
        # the robot token is not a login of another robot or user
        r = await berth.http.get(
            "/v2/auth", params={"service": "localhost:5000"}, headers=basic("alice", robot_token)
        )
        assert r.status_code == 401

        # a token for another subject (the "berth" client), a forged one, garbage: refused
        other = oidc_provider.client_credentials((CLIENT_ID, CLIENT_SECRET))
        r = await exchange(berth, other)
        assert r.status_code == 401
        assert "match no federation" in r.json()["error"]
        good = oidc_provider.client_credentials()
        head, body, sig = good.split(".")
        r = await exchange(berth, f"{head}.{body}.{sig[:-6]}AAAAAA")
        assert r.status_code == 401
        assert "refused" in r.json()["error"]
        r = await exchange(berth, "not-a-jwt")
        assert r.status_code == 401
        r = await berth.http.get("/oauth2/federation/robot/token")
        assert r.status_code == 401

        # no federation any more: the provider's token is refused
        r = await berth.http.delete(FED, headers=h)
        assert r.status_code == 204
        r = await exchange(berth, oidc_provider.client_credentials())
        assert r.status_code == 401

        async with berth.services.db.read() as s:
            rows = (await s.execute(text("SELECT kind, metadata FROM log_entries"))).all()
        kinds = [k for k, _ in rows]
        assert kinds.count("create_robot_federation") == 1
        assert kinds.count("delete_robot_federation") == 1
        (meta,) = [m for k, m in rows if k == "federated_robot_token_exchange"]
        meta = json.loads(meta) if isinstance(meta, str) else meta
        assert (meta["robot"], meta["subject"]) == ("ci", "ci")


async def test_org_robot_federation_routes(configured: Configured) -> None:
    async with configured() as berth:
        h = bearer(await oauth_token(berth, "alice"))
        r = await berth.http.post(
            "/api/v1/organization/", json={"name": "lab", "email": "lab@example.org"}, headers=h
        )
        assert r.status_code == 201, r.text
        r = await berth.http.put("/api/v1/organization/lab/robots/ci", json={}, headers=h)
        assert r.status_code == 201, r.text
        path = "/api/v1/organization/lab/robots/ci/federation"
        entry: dict[str, Any] = {"issuer": "https://token.actions.example", "subject": "repo:x"}
        r = await berth.http.post(path, json=[entry], headers=h)
        assert r.status_code == 200, r.text
        assert (await berth.http.get(path, headers=h)).json() == [entry]
        bob = bearer(await oauth_token(berth, "bob"))
        assert (await berth.http.get(path, headers=bob)).status_code == 403
        r = await berth.http.get("/api/v1/organization/lab/robots/nope/federation", headers=h)
        assert r.status_code in (400, 404)
        assert (await berth.http.delete(path, headers=h)).status_code == 204
        assert (await berth.http.get(path, headers=h)).json() == []
