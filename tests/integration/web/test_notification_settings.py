"""A repository's Settings → Events and notifications over ASGI: create (each method's
fields), list with masked secrets, test, re-enable after failures, delete; the service's
refusals shown on the tab; the API sees what the page made; non-admins get the API's 403."""

from __future__ import annotations

import html
import re

from sqlalchemy import text

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth
from tests.integration.web.conftest import Browser

SETTINGS = "/repository/alice/app?tab=settings"
ACTION = "/repository/alice/app/settings/notifications"


async def _setup(registry: Berth, browser: Browser) -> None:
    await registry.client("alice").push_image("alice/app", "v1")
    await browser.sign_in("alice")


async def _after(browser: Browser, r: object) -> str:
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    return html.unescape((await browser.get(r.headers["location"])).text)  # type: ignore[attr-defined]


async def test_create_list_test_reset_delete(registry: Berth, browser: Browser) -> None:
    await _setup(registry, browser)
    r = await browser.submit(
        SETTINGS,
        ACTION,
        {
            "event": "repo_push",
            "method": "quay_notification",
            "target_kind": "user",
            "target_name": "alice",
            "title": "Pushes to app",
        },
    )
    page = await _after(browser, r)
    assert "Notification created: Push to Repository" in page
    assert "Pushes to app" in page
    h = bearer(await oauth_token(registry, "alice"))
    api = await registry.http.get("/api/v1/repository/alice/app/notification/", headers=h)
    (n,) = api.json()["notifications"]
    assert n["title"] == "Pushes to app"
    assert n["config"] == {"target": {"kind": "user", "name": "alice"}}
    assert f'data-uuid="{n["uuid"]}"' in page
    # Test: a delivery queued.
    page = await _after(browser, await browser.submit(SETTINGS, f"{ACTION}/{n['uuid']}/test", {}))
    assert "Test notification queued" in page
    # Failures: shown, then re-enabled.
    async with registry.services.db.write() as s:
        await s.execute(text("UPDATE notifications SET number_of_failures = 3"))
    registry.services.notifications.changed(None)
    page = (await browser.get(SETTINGS)).text
    assert "Disabled after 3 failures" in page
    page = await _after(browser, await browser.submit(SETTINGS, f"{ACTION}/{n['uuid']}/reset", {}))
    assert "Notification re-enabled" in page
    assert "Disabled after" not in page
    api = await registry.http.get("/api/v1/repository/alice/app/notification/", headers=h)
    assert api.json()["notifications"][0]["number_of_failures"] == 0
    page = await _after(browser, await browser.submit(SETTINGS, f"{ACTION}/{n['uuid']}/delete", {}))
    assert "Notification deleted." in page
    api = await registry.http.get("/api/v1/repository/alice/app/notification/", headers=h)
    assert api.json()["notifications"] == []


async def test_webhook_secret_masked_and_refusals(registry: Berth, browser: Browser) -> None:
    await _setup(registry, browser)
    r = await browser.submit(
        SETTINGS,
        ACTION,
        {
            "event": "repo_push",
            "method": "webhook",
            "webhook_url": "https://hooks.example.com/x",
            "secret": "s3cret-value-123",
        },
    )
    page = await _after(browser, r)
    assert "Notification created" in page
    assert "s3cret-value-123" not in page
    assert "https://hooks.example.com/…" in page  # masked as the API shows it
    # A link-local address: the SSRF guard's refusal, nothing created.
    r = await browser.submit(
        SETTINGS,
        ACTION,
        {"event": "repo_push", "method": "webhook", "webhook_url": "http://169.254.169.254/"},
    )
    page = await _after(browser, r)
    assert len(re.findall(r'<tr role="row" data-uuid=', page)) == 1
    assert "pf-m-danger" in page
    # An e-mail address not authorized yet: Quay's message and the way out.
    r = await browser.submit(
        SETTINGS, ACTION, {"event": "repo_push", "method": "email", "email": "ops@example.com"}
    )
    page = await _after(browser, r)
    assert "has not been authorized" in page
    assert "Send authorization e-mail" in page
    # Image expiry needs its days.
    r = await browser.submit(
        SETTINGS,
        ACTION,
        {"event": "repo_image_expiry", "days": "0", "method": "quay_notification",
         "target_name": "alice"},
    )  # fmt: skip
    page = await _after(browser, r)
    assert "at least 1" in page


async def test_only_admins(registry: Berth, browser: Browser, other_browser: Browser) -> None:
    await _setup(registry, browser)
    await other_browser.sign_in("bob")
    r = await other_browser.submit(
        "/repository/", ACTION, {"event": "repo_push", "method": "quay_notification"}
    )
    assert r.status_code in (403, 404)
