"""The superuser panel over ASGI: superusers only; create a user (initial password shown
once, and it works), change its password and e-mail, disable, enable and delete it."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable

import httpx
from sqlalchemy import text

from berth.http.web.filters import human_bytes
from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import BASE_URL, HOST, Berth
from tests.integration.web.conftest import Browser

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]
PASSWORD_FIELD = re.compile(r'id="new-user-password" value="([^"]+)"')


async def _v2_auth(registry: Berth, user: str, password: str) -> int:
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    r = await registry.http.get(
        "/v2/auth", params={"service": HOST}, headers={"Authorization": f"Basic {basic}"}
    )
    return r.status_code


async def test_only_superusers(browser: Browser) -> None:
    await browser.sign_in("alice")
    r = await browser.get("/superuser")
    assert r.status_code == 403
    assert 'href="/superuser"' not in r.text
    r = await browser.submit("/repository/", "/superuser/users", {"username": "mallory"})
    assert r.status_code == 403
    r = await browser.submit("/repository/", "/superuser/users/bob/delete", {})
    assert r.status_code == 403


async def test_create_a_user_and_manage_it(browser: Browser, registry: Berth) -> None:
    await browser.sign_in("root")
    r = await browser.get("/superuser")
    assert r.status_code == 200
    assert 'id="user-alice"' in r.text
    assert "Job queue" in r.text
    assert "Last pass finished" in r.text  # the garbage collector's, from the job queue
    assert 'aria-label="Recent jobs"' in r.text
    r = await browser.submit(
        "/superuser", "/superuser/users", {"username": "carol", "email": "carol@example.com"}
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    initial = PASSWORD_FIELD.search(r.text).group(1)  # type: ignore[union-attr]
    assert await _v2_auth(registry, "carol", initial) == 200
    r = await browser.submit(
        "/superuser", "/superuser/users/carol", {"action": "password", "password": "carol-pass-2"}
    )
    r = await browser.get(r.headers["location"])
    assert "Password changed: carol." in r.text
    assert initial not in r.text
    assert await _v2_auth(registry, "carol", "carol-pass-2") == 200
    r = await browser.submit(
        "/superuser", "/superuser/users/carol", {"action": "email", "email": "c2@example.com"}
    )
    r = await browser.get(r.headers["location"])
    assert "c2@example.com" in r.text
    r = await browser.submit("/superuser", "/superuser/users/carol", {"action": "disable"})
    r = await browser.get(r.headers["location"])
    assert "Disabled: carol." in r.text
    assert await _v2_auth(registry, "carol", "carol-pass-2") != 200
    r = await browser.submit("/superuser", "/superuser/users/carol", {"action": "enable"})
    assert await _v2_auth(registry, "carol", "carol-pass-2") == 200
    # superusers are not changed here (as the API refuses them)
    r = await browser.submit("/superuser", "/superuser/users/admin/delete", {})
    r = await browser.get(r.headers["location"])
    assert "Cannot update a superuser" in r.text
    r = await browser.submit("/superuser", "/superuser/users/carol/delete", {})
    r = await browser.get(r.headers["location"])
    assert "User carol deleted." in r.text
    assert 'id="user-carol"' not in r.text
    r = await browser.submit("/superuser", "/superuser/users", {"username": "Bad Name"})
    r = await browser.get(r.headers["location"])
    assert "pf-m-danger" in r.text


async def test_running_configuration_masks_secrets(browser: Browser, registry: Berth) -> None:
    await browser.sign_in("root")
    r = await browser.get("/superuser")
    assert "Running configuration" in r.text
    assert "<code>server_hostname</code>" in r.text
    assert re.search(r"<code>secret_key</code></td>\s*<td[^>]*>••••••</td>", r.text)
    assert registry.settings.secret_key not in r.text
    assert registry.settings.database_secret_key not in r.text
    if "@" in registry.settings.db_url:  # the distributed deployment: credentials in the URL
        userinfo = registry.settings.db_url.split("://", 1)[1].split("@", 1)[0]
        assert f"://{userinfo}@" not in r.text


async def test_organizations_with_sizes_and_delete(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await other_browser.sign_in("alice")
    r = await other_browser.submit(
        "/organizations/new", "/organizations/new", {"name": "acme", "email": "a@acme.org"}
    )
    assert r.status_code == 303
    r = await other_browser.submit("/new", "/new", {"namespace": "acme", "name": "app"})
    assert r.status_code == 303
    await browser.sign_in("root")
    r = await browser.get("/superuser")
    assert re.search(r'id="org-acme">.*?a@acme.org</td>\s*<td[^>]*>1</td>', r.text, re.S)
    assert 'id="stored-bytes"' in r.text
    r = await other_browser.submit("/repository/", "/superuser/organizations/acme/delete", {})
    assert r.status_code == 403  # not a superuser
    r = await browser.submit("/superuser", "/superuser/organizations/acme/delete", {})
    r = await browser.get(r.headers["location"])
    assert "Organization acme deleted." in r.text
    assert 'id="org-acme"' not in r.text


async def test_garbage_collector_passes_show_the_bytes_they_freed(
    browser: Browser, registry: Berth
) -> None:
    """A deleted tag's blobs are collected; the panel shows what the pass freed."""
    alice = registry.client("alice")
    layer = b"\x17" * 200_000
    pushed = await alice.push_image("alice/junk", "old", layers=[layer])
    assert (await alice.delete(f"/v2/alice/junk/manifests/{pushed.digest}")).status_code == 202
    await registry.services.runner.stop()  # only this pass: no scheduled one beside it
    async with registry.services.db.write() as s:  # no time-machine window for alice
        await s.execute(text("UPDATE namespaces SET tag_expiration_s = 0 WHERE name = 'alice'"))
    earlier = len(await registry.services.gc.recent_passes())  # the pass run at start-up
    report = await registry.services.gc.collect(grace_s=0)
    assert report.freed >= len(layer)
    await browser.sign_in("root")
    page = (await browser.get("/superuser")).text
    freed = re.search(r'id="gc-last-freed">([^<]+)<', page)
    assert freed is not None
    shown = human_bytes(report.freed)
    assert freed.group(1).startswith(shown)  # e.g. "196.1 KiB (3 blobs)"
    assert f"({report.blobs} blobs)" in freed.group(1)
    assert 'aria-label="Garbage-collection passes"' in page
    assert page.count("<rect ") == earlier + 1  # a bar per pass, labelled with its figures
    assert f"{shown} freed, {report.blobs} blobs" in page
    # the pass is kept: the next pass is recorded beside it, newest first
    await registry.services.gc.collect(grace_s=0)
    passes = await registry.services.gc.recent_passes()
    assert [p.bytes_freed for p in passes][:2] == [0, report.freed]


async def test_rename_an_organization_and_see_every_app_token(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    svc = registry.services
    await svc.orgs.create("oldname", creator="alice", email="oldname@example.org")
    await svc.orgs.create("taken", creator="alice", email="taken@example.org")
    alice = await registry.app.state.api.accounts.get_user("alice")
    await registry.app.state.api.oauth.create_app_token(alice.id, "alice-laptop")
    await browser.sign_in("root")
    page = await browser.get("/superuser")
    assert 'aria-label="App-specific tokens of every user"' in page.text
    assert "alice-laptop" in page.text

    rename = "/superuser/organizations/rename"
    r = await browser.submit("/superuser", rename, {"org": "oldname", "name": "taken"})
    assert r.status_code == 303
    assert (
        "A user or organization with this name already exists"
        in (await browser.get("/superuser")).text
    )
    r = await browser.submit("/superuser", rename, {"org": "oldname", "name": "newname"})
    assert r.status_code == 303
    page = await browser.get("/superuser")
    assert "Organization oldname is now newname." in page.text
    assert 'id="org-newname"' in page.text
    assert 'id="org-oldname"' not in page.text

    # not for anyone else
    await other_browser.sign_in("alice")
    r = await other_browser.submit("/repository/", rename, {"org": "newname", "name": "mine"})
    assert r.status_code == 403


async def test_global_readonly_superuser_sees_the_panel_without_its_forms(
    configured: Configured,  # noqa: F811 - the fixture
) -> None:
    async with configured(GLOBAL_READONLY_SUPER_USERS=["bob"]) as berth:
        await berth.services.orgs.create("lab", creator="alice", email="lab@x.org")
        transport = httpx.ASGITransport(app=berth.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            browser = Browser(http)
            await browser.sign_in("bob")
            r = await browser.get("/superuser")
            assert r.status_code == 200, r.text
            assert 'id="readonly-notice"' in r.text
            assert 'href="/superuser"' in r.text  # the sidebar link
            assert 'id="user-alice"' in r.text
            assert 'id="org-lab"' in r.text
            assert "Manage alice" not in r.text
            assert 'action="/superuser/users"' not in r.text
            assert 'action="/superuser/organizations/lab/delete"' not in r.text
            assert 'action="/superuser/organizations/rename"' not in r.text
            r = await browser.get("/superuser/ratelimits")
            assert r.status_code == 200, r.text
            assert 'action="/superuser/ratelimits"' not in r.text
            # a form posted anyway is refused, and nothing changes
            r = await browser.submit("/repository/", "/superuser/users", {"username": "mallory"})
            assert r.status_code == 403
            r = await browser.submit("/repository/", "/superuser/organizations/lab/delete", {})
            assert r.status_code == 403
            assert await berth.services.accounts.get_user("mallory") is None
            assert (await browser.get("/organization/lab")).status_code == 200
