"""User settings over ASGI: e-mail, password (ends the other sessions), the encrypted CLI
password, app-specific tokens shown once, deleting the account; only one's own settings."""

from __future__ import annotations

import base64
import html
import re

import httpx

from tests.integration.conftest import HOST, Berth
from tests.integration.web.conftest import Browser

SECRET = re.compile(r'id="secret-value" value="([^"]+)"')


async def _v2_auth(registry: Berth, user: str, password: str) -> int:
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    r = await registry.http.get(
        "/v2/auth", params={"service": HOST}, headers={"Authorization": f"Basic {basic}"}
    )
    return r.status_code


async def test_settings_are_ones_own(browser: Browser) -> None:
    r = await browser.get("/user/alice")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/signin?next=")
    await browser.sign_in("bob")
    r = await browser.get("/user/alice?tab=settings")
    assert r.status_code == 303
    assert r.headers["location"] == "/repository/?view=ns:alice"
    r = await browser.submit("/user/bob", "/user/alice/delete", {"confirm": "alice"})
    assert r.headers["location"] == "/repository/?view=ns:alice"
    r = await browser.get("/user/bob?tab=settings")
    assert r.status_code == 200
    for text in ("E-mail address", "New password", "CLI password", "Delete account"):
        assert text in r.text


async def test_email_and_password_change(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await browser.sign_in("alice")
    await other_browser.sign_in("alice")
    r = await browser.submit("/user/alice", "/user/alice/account", {"email": "a@example.org"})
    r = await browser.get(r.headers["location"])
    assert "Account settings saved." in r.text
    assert 'value="a@example.org"' in r.text
    r = await browser.submit(
        "/user/alice",
        "/user/alice/account",
        {"password": "new-password-1", "password_again": "other-password"},
    )
    r = await browser.get(r.headers["location"])
    assert "The passwords do not match." in r.text
    r = await browser.submit(
        "/user/alice",
        "/user/alice/account",
        {"password": "new-password-1", "password_again": "new-password-1"},
    )
    r = await browser.get(r.headers["location"])
    assert r.status_code == 200  # this session goes on
    assert "Password changed" in r.text
    assert (await other_browser.get("/user/alice")).status_code == 303  # the other ended
    assert await _v2_auth(registry, "alice", "new-password-1") == 200
    assert await _v2_auth(registry, "alice", "alice-password") == 401


async def test_encrypted_cli_password(browser: Browser, registry: Berth) -> None:
    await browser.sign_in("alice")
    r = await browser.submit("/user/alice", "/user/alice/clientkey", {"password": "alice-password"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    key = SECRET.search(r.text).group(1)  # type: ignore[union-attr]
    assert key != "alice-password"
    assert f"podman login -u='alice' -p='{key}' {HOST}" in html.unescape(r.text)
    assert await _v2_auth(registry, "alice", key) == 200
    r = await browser.submit("/user/alice", "/user/alice/clientkey", {"password": "wrong"})
    r = await browser.get(r.headers["location"])
    assert "Invalid password" in r.text


async def test_app_specific_tokens_shown_once_and_revoked(
    browser: Browser, registry: Berth
) -> None:
    await browser.sign_in("alice")
    r = await browser.submit("/user/alice?tab=tokens", "/user/alice/tokens", {"title": "ci"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    token = SECRET.search(r.text).group(1)  # type: ignore[union-attr]
    assert await _v2_auth(registry, "$app", token) == 200
    r = await browser.get("/user/alice?tab=tokens")
    assert ">ci</td>" in r.text
    assert token not in r.text
    uuid = re.search(r"/user/alice/tokens/([^/]+)/revoke", r.text)
    assert uuid
    r = await browser.submit(
        "/user/alice?tab=tokens", f"/user/alice/tokens/{uuid.group(1)}/revoke", {}
    )
    r = await browser.get(r.headers["location"])
    assert "Token revoked." in r.text
    assert await _v2_auth(registry, "$app", token) == 401


async def test_delete_account(browser: Browser, registry: Berth) -> None:
    await browser.sign_in("bob")
    r = await browser.submit("/user/bob", "/user/bob/delete", {"confirm": "nope"})
    r = await browser.get(r.headers["location"])
    assert "Type your user name" in r.text
    r = await browser.submit("/user/bob", "/user/bob/delete", {"confirm": "bob"})
    assert r.headers["location"] == "/signin"
    assert (await browser.get("/user/bob")).status_code == 303
    assert await _v2_auth(registry, "bob", "bob-password") == 401
    assert isinstance(browser.http, httpx.AsyncClient)


async def test_authorized_applications_are_listed_and_revoked(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await browser.sign_in("alice")
    r = await browser.submit(
        "/organizations/new", "/organizations/new", {"name": "acme", "email": "a@acme.org"}
    )
    r = await browser.submit(
        "/organization/acme?tab=applications", "/organization/acme/applications", {"name": "cli"}
    )
    app_url = r.headers["location"]
    r = await browser.submit(app_url, app_url + "/token", {"scope:user:read": "on"})
    token = re.search(r'id="access-token" value="([^"]+)"', r.text)
    assert token
    bearer = {"Authorization": f"Bearer {token.group(1)}"}
    assert (await registry.http.get("/api/v1/user/", headers=bearer)).status_code == 200
    r = await browser.get("/user/alice?tab=applications")
    assert "cli <small>(acme)</small>" in r.text
    assert "user:read" in r.text
    grant = re.search(r"/user/alice/grants/([^/]+)/revoke", r.text)
    assert grant
    await other_browser.sign_in("bob")  # bob can't revoke alice's grant
    r = await other_browser.submit("/user/bob", f"/user/bob/grants/{grant.group(1)}/revoke", {})
    r = await other_browser.get(r.headers["location"])
    assert "No such authorization." in r.text
    assert (await registry.http.get("/api/v1/user/", headers=bearer)).status_code == 200
    r = await browser.submit(
        "/user/alice?tab=applications", f"/user/alice/grants/{grant.group(1)}/revoke", {}
    )
    r = await browser.get(r.headers["location"])
    assert "Authorization revoked." in r.text
    assert (await registry.http.get("/api/v1/user/", headers=bearer)).status_code == 401
