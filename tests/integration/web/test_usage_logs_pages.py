"""The usage-logs pages over ASGI: the chart has one bar per seeded day with the seeded
counts, the table rows are the API's entries as sentences, paging and filters, the export
form queues the API's export, and the API's refusals for anyone else."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_usage_logs import DAY_MS, add_entries
from tests.integration.conftest import Berth
from tests.integration.web.conftest import Browser

BAR = re.compile(r'<g class="berth-chart__day" data-day="([\d-]+)" data-total="(\d+)">')
ROW = re.compile(r'<tr role="row" data-kind="([a-z_]+)">')


def _iso(offset_days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=offset_days)).date().isoformat()


async def _org(browser: Browser, name: str = "acme") -> None:
    await browser.sign_in("alice")
    r = await browser.submit(
        "/organizations/new", "/organizations/new", {"name": name, "email": f"{name}@e.com"}
    )
    assert r.status_code == 303, r.text


async def test_organization_logs_chart_and_table(registry: Berth, browser: Browser) -> None:
    await _org(browser)
    now = int(time.time() * 1000)
    await add_entries(registry, "acme", 3, kind="create_tag", at_ms=now - 2 * DAY_MS)
    await add_entries(registry, "acme", 5, kind="delete_tag", at_ms=now - 1 * DAY_MS)
    r = await browser.get(f"/organization/acme?tab=logs&start={_iso(-6)}&end={_iso(0)}")
    assert r.status_code == 200, r.text
    bars = dict(BAR.findall(r.text))
    assert len(bars) == 7  # one slot a day of the range
    assert bars[_iso(-2)] == "3"
    assert bars[_iso(-1)] == "5"
    assert int(bars[_iso(0)]) >= 1  # today: the organization's creation
    assert 'data-kind="delete_tag" data-count="5"' in r.text
    assert "Delete tag" in r.text
    assert "Create tag" in r.text
    # The table: the API's first page, newest first, as sentences.
    h = bearer(await oauth_token(registry, "alice"))
    api = await registry.http.get(
        f"/api/v1/organization/acme/logs?starttime={_iso(-6)[5:7]}/{_iso(-6)[8:]}/{_iso(-6)[:4]}",
        headers=h,
    )
    kinds = [e["kind"] for e in api.json()["logs"]]
    assert ROW.findall(r.text) == kinds[: len(ROW.findall(r.text))]
    assert len(ROW.findall(r.text)) == min(20, len(kinds))
    assert "alice deleted tag t4 from" in html.unescape(r.text)
    # Filter over the page, and the performer filter of the API.
    r = await browser.get(f"/organization/acme?tab=logs&start={_iso(-6)}&filter=t4")
    assert set(ROW.findall(r.text)) == {"delete_tag"}
    r = await browser.get(f"/organization/acme?tab=logs&start={_iso(-6)}&performer=bob")
    assert ROW.findall(r.text) == []
    assert "Nothing was logged in this range" in r.text


async def test_paging_by_twenty(registry: Berth, browser: Browser) -> None:
    await browser.sign_in("alice")
    await add_entries(registry, "alice", 45)
    r = await browser.get("/user/alice?tab=logs")
    assert len(ROW.findall(r.text)) == 20
    seen = 20
    while m := re.search(r'href="([^"]+)" id="logs-next"', r.text):
        r = await browser.get(html.unescape(m.group(1)))
        seen += len(ROW.findall(r.text))
    assert seen >= 45


async def test_repository_logs_and_export_form(registry: Berth, browser: Browser) -> None:
    alice = registry.client("alice")
    await alice.push_image("alice/app", "v1")
    await browser.sign_in("alice")
    r = await browser.get("/repository/alice/app?tab=logs")
    assert r.status_code == 200
    assert "alice pushed tag v1 to alice/app" in html.unescape(r.text)
    assert 'id="export-logs"' in r.text
    r = await browser.submit(
        "/repository/alice/app?tab=logs",
        "/repository/alice/app/exportlogs",
        {"start": _iso(-1), "end": _iso(0), "method": "email", "callback_email": "a@e.com"},
    )
    assert r.status_code == 303
    r = await browser.get(r.headers["location"])
    assert re.search(r"Logs export [0-9a-f-]{36} started", r.text)
    r = await browser.get("/repository/alice/app?tab=logs")
    assert "alice exported the logs to a@e.com" in html.unescape(r.text)
    # A malformed callback URL: the service's message, nothing queued.
    r = await browser.submit(
        "/repository/alice/app?tab=logs",
        "/repository/alice/app/exportlogs",
        {"method": "url", "callback_url": "ftp://x"},
    )
    r = await browser.get(r.headers["location"])
    assert "Invalid callback URL" in r.text


async def test_refusals_follow_the_api(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    alice = registry.client("alice")
    await alice.push_image("alice/app", "v1")
    await _org(browser)
    bob = other_browser
    await bob.sign_in("bob")
    r = await bob.get("/repository/alice/app?tab=logs")
    assert r.status_code in (403, 404)
    r = await bob.get("/organization/acme?tab=logs")
    assert r.status_code == 403
    r = await bob.get("/superuser/logs")
    assert r.status_code == 403
    r = await bob.get("/repository/alice/app")
    assert "tab=logs" not in r.text


async def test_superuser_logs(registry: Berth, browser: Browser) -> None:
    await add_entries(registry, "alice", 2, kind="delete_tag")
    await browser.sign_in("root")
    r = await browser.get("/superuser/logs")
    assert r.status_code == 200, r.text
    assert "delete_tag" in ROW.findall(r.text)
    assert 'id="export-logs"' not in r.text  # Quay has no superuser export
    r = await browser.get("/usagelogs")
    assert r.headers["location"] == "/user/root?tab=logs"
