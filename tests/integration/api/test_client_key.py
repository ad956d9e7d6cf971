"""Encrypted passwords (``POST /user/clientkey``) as registry credentials, and
FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH refusing plain passwords on /v2 only."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.api.test_framework import assert_problem
from tests.integration.conftest import PASSWORDS, Berth, Client, token_access


async def _client_key_response(registry: Berth, username: str, password: str) -> httpx.Response:
    token = await oauth_token(registry, username)
    return await registry.http.post(
        "/api/v1/user/clientkey", json={"password": password}, headers=bearer(token)
    )


async def _client_key(registry: Berth, username: str) -> str:
    r = await _client_key_response(registry, username, PASSWORDS[username])
    assert r.status_code == 200, r.text
    return str(r.json()["key"])


async def test_client_key_logs_in_to_the_registry(registry: Berth) -> None:
    key = await _client_key(registry, "alice")
    assert PASSWORDS["alice"] not in key

    client = Client(registry.http, "alice", key)
    r = await client.token("repository:alice/app:pull,push")
    assert r.status_code == 200, r.text
    assert token_access(r.json()["token"]) == {"alice/app": {"pull", "push"}}
    # HTTP Basic straight on /v2 takes it too.
    basic = Client(registry.http, "alice", key, basic=True)
    assert (await basic.get("/v2/")).status_code == 200


async def test_client_key_needs_the_right_password(registry: Berth) -> None:
    r = await _client_key_response(registry, "alice", "not-the-password")
    assert_problem(r, 400, "invalid_request", "Invalid password")


async def test_someone_elses_key_or_a_forged_one_is_refused(registry: Berth) -> None:
    key = await _client_key(registry, "alice")
    # Bob can't use Alice's key as his password: it decrypts to Alice's password.
    r = await Client(registry.http, "bob", key).token("repository:bob/x:pull")
    assert r.status_code == 401
    forged = "gAAAAA" + "x" * 100
    r = await Client(registry.http, "alice", forged).token("repository:alice/x:pull")
    assert r.status_code == 401


async def test_require_encrypted_basic_auth(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_REQUIRE_ENCRYPTED_BASIC_AUTH=True) as reg:
        plain = Client(reg.http, "alice")
        r = await plain.token("repository:alice/x:pull")
        assert r.status_code == 401
        assert "unencrypted passwords is disabled" in r.text
        r = await Client(reg.http, "alice", basic=True).get("/v2/")
        assert r.status_code == 401

        key = await _client_key(reg, "alice")
        r = await Client(reg.http, "alice", key).token("repository:alice/x:pull")
        assert r.status_code == 200, r.text
        # The browser sign-in still takes the password itself.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reg.app), base_url=str(reg.http.base_url)
        ) as browser:
            await sign_in(browser, "alice")


async def test_client_key_needs_a_user(registry: Berth) -> None:
    r = await registry.http.post("/api/v1/user/clientkey", json={"password": "x"})
    assert r.status_code == 403  # a write without a bearer token: Quay's CSRF answer
    assert r.json() == {"error": "CSRF token was invalid or missing."}
