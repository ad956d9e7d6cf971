"""Quota pages over ASGI: the organization's bar and banner, its settings' quota editor
(full-access superusers only, the API's rule) and auto-prune policies, the user's
``/quota``, the repository list's share, and the superuser's quota management; bad limits
refused with the service's message and nothing written."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import BASE_URL, Berth, random_bytes
from tests.integration.web.conftest import Browser

XHR = {"X-Requested-With": "XMLHttpRequest"}
FEATURES = {
    "FEATURE_QUOTA_MANAGEMENT": True,
    "FEATURE_SUPERUSERS_FULL_ACCESS": True,
    "FEATURE_AUTO_PRUNE": True,
    "FEATURE_QUOTA_NOTIFICATIONS": True,
}


@pytest.fixture
async def berth(configured: Any) -> AsyncIterator[Berth]:  # noqa: F811
    async with configured(**FEATURES) as b:
        yield b


async def _browser(b: Berth, user: str) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=b.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        browser = Browser(http)
        await browser.sign_in(user)
        yield browser


@pytest.fixture
async def root(berth: Berth) -> AsyncIterator[Browser]:
    async for b in _browser(berth, "root"):
        yield b


@pytest.fixture
async def alice(berth: Berth) -> AsyncIterator[Browser]:
    async for b in _browser(berth, "alice"):
        yield b


async def _done(browser: Browser, r: httpx.Response) -> str:
    assert r.status_code == 303, r.text
    return html.unescape((await browser.get(r.headers["location"])).text)


async def _org(alice: Browser) -> None:
    r = await alice.submit(
        "/organizations/new", "/organizations/new", {"name": "acme", "email": "acme@e.com"}
    )
    assert r.status_code == 303


async def _quota(root: Browser, action: str, **fields: str) -> str:
    r = await root.submit(
        "/superuser/quotas?namespace=acme",
        "/superuser/quota/acme",
        {"action": action, "next": "/superuser/quotas?namespace=acme", **fields},
    )
    return await _done(root, r)


async def test_superuser_sets_a_quota_and_the_org_shows_its_bar(
    berth: Berth, root: Browser, alice: Browser
) -> None:
    await _org(alice)
    page = await _quota(root, "set", limit="10 MiB")
    assert "Quota of acme: 10.0 MiB." in page
    page = await _quota(root, "add_limit", type="Warning", percent="1")
    assert "Warning limit at 1% added." in page
    page = await _quota(root, "add_limit", type="Reject", percent="100")
    # The API sees what the page made.
    quotas = (await root.http.get("/api/v1/organization/acme/quota", headers=XHR)).json()
    assert quotas[0]["limit_bytes"] == 10 * 1024 * 1024
    assert sorted((x["type"], x["limit_percent"]) for x in quotas[0]["limits"]) == [
        ("Reject", 100),
        ("Warning", 1),
    ]
    # A push of ~200 KB passes the 1% warning: the org page's bar and banner say so.
    await berth.client("alice").push_image("acme/app", "v1", layers=[random_bytes(200_000)])
    page = html.unescape((await alice.get("/organization/acme")).text)
    used = int(re.search(r'id="quota-acme" data-used="(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert used > 200_000
    assert "of 10.0 MiB" in page
    assert "acme is past its quota's warning limit (1%)." in page
    # Members see it read-only in settings; the repository list shows the share.
    page = html.unescape((await alice.get("/organization/acme?tab=settings")).text)
    assert "Quotas are set by the registry's superusers." in page
    assert 'action="/superuser/quota/acme"' not in page
    page = html.unescape((await alice.get("/repository/?view=ns:acme")).text)
    assert "% of acme's quota" in page
    page = html.unescape((await alice.get("/quota")).text)
    assert 'id="quota-acme"' in page
    assert 'id="quota-alice"' in page


async def test_refusals(berth: Berth, root: Browser, alice: Browser) -> None:
    await _org(alice)
    page = await _quota(root, "set", limit="ten gigs")
    assert "Invalid quota size limit value: 'ten gigs'" in page
    await _quota(root, "set", limit="1 GiB")
    page = await _quota(root, "add_limit", type="Warning", percent="120")
    assert "between 1 and 100" in page
    page = await _quota(root, "add_limit", type="Block", percent="50")
    assert "Quota type must be one of" in page
    # Only full-access superusers write: alice's post is refused (the API's 403).
    r = await alice.submit(
        "/organization/acme", "/superuser/quota/acme", {"action": "set", "limit": "5 GiB"}
    )
    assert r.status_code == 403
    r = await alice.get("/superuser/quotas")
    assert r.status_code == 403
    page = await _quota(root, "delete")
    assert "Quota of acme deleted." in page


async def test_org_auto_prune_policies(berth: Berth, alice: Browser) -> None:
    await _org(alice)
    r = await alice.submit(
        "/organization/acme?tab=settings",
        "/organization/acme/autoprune",
        {"method": "number_of_tags", "value": "5"},
    )
    page = await _done(alice, r)
    assert "Auto-prune policy added." in page
    assert "Keep the newest 5 tags" in page
    (uuid,) = re.findall(r'data-policy="([0-9a-f-]{36})"', page)
    r = await alice.submit(
        "/organization/acme?tab=settings",
        "/organization/acme/autoprune",
        {"method": "last_pull_date", "value": "soon"},
    )
    page = await _done(alice, r)
    assert "Invalid value given for method type" in page
    r = await alice.submit(
        "/organization/acme?tab=settings", "/organization/acme/autoprune", {"delete": uuid}
    )
    page = await _done(alice, r)
    assert "No auto-prune policy on acme." in page


async def test_org_quota_notifications(berth: Berth, alice: Browser) -> None:
    await _org(alice)
    page = html.unescape((await alice.get("/organization/acme?tab=settings")).text)
    assert "Quota notifications" in page
    assert '<option value="quota_warning">' in page
    assert '<option value="repo_push">' not in page  # repository events stay on repositories
    r = await alice.submit(
        "/organization/acme?tab=settings",
        "/organization/acme/notifications",
        {"event": "quota_warning", "method": "slack", "slack_url": "https://hooks.slack.com/x"},
    )
    page = await _done(alice, r)
    assert "Notification created: Quota Warning, Slack notification." in page
    api = await alice.http.get("/api/v1/organization/acme/notifications", headers=XHR)
    (n,) = api.json()["notifications"]
    assert n["event"] == "quota_warning"
    # The namespace's own address only, as the API says.
    r = await alice.submit(
        "/organization/acme?tab=settings",
        "/organization/acme/notifications",
        {"event": "quota_error", "method": "email", "email": "someone@else.com"},
    )
    page = await _done(alice, r)
    assert "only e-mail the namespace's own address" in page
    r = await alice.submit(
        "/organization/acme?tab=settings",
        f"/organization/acme/notifications/{n['uuid']}/delete",
        {},
    )
    page = await _done(alice, r)
    assert "Notification deleted." in page


async def test_tags_tab_shows_pull_counts(configured: Any) -> None:  # noqa: F811
    async with configured(FEATURE_IMAGE_PULL_STATS=True) as b:
        alice_client = b.client("alice")
        await alice_client.push_image("alice/app", "v1")
        await alice_client.push_image("alice/app", "v2")
        for _ in range(3):
            r = await alice_client.get("/v2/alice/app/manifests/v1")
            assert r.status_code == 200
        await b.flush_pulls()
        async for browser in _browser(b, "alice"):
            page = (await browser.get("/repository/alice/app?tab=tags")).text
            pulls = dict(re.findall(r'<tr[^>]*data-tag="([^"]+)".*?data-pulls="(\d+)"', page, re.S))
            assert pulls == {"v1": "3", "v2": "0"}
            assert "never pulled" in page


async def test_user_quota_notifications(berth: Berth, alice: Browser) -> None:
    page = html.unescape((await alice.get("/user/alice?tab=settings")).text)
    assert "Quota notifications" in page
    r = await alice.submit(
        "/user/alice?tab=settings",
        "/user/alice/notifications",
        {"event": "quota_error", "method": "quay_notification", "target_name": "alice"},
    )
    page = await _done(alice, r)
    assert "Notification created: Quota Error" in page
    api = await alice.http.get("/api/v1/user/namespacenotifications", headers=XHR)
    assert [n["event"] for n in api.json()["notifications"]] == ["quota_error"]
    # Someone else's: not found.
    r = await alice.submit(
        "/user/alice?tab=settings",
        "/user/bob/notifications",
        {"event": "quota_error", "method": "quay_notification", "target_name": "alice"},
    )
    assert r.status_code == 404
