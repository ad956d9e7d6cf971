"""The Mirroring tab of a repository and the Proxy cache tab of an organization over ASGI:
who sees them, and the forms' refusals (the same services and answers as the mirror and
proxycache routes). The browser tests in tests/web/ sync and pull for real."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.web.conftest import Browser

PAGE = "/repository/alice/app"
XHR = {"X-Requested-With": "XMLHttpRequest"}


async def test_mirroring_tab_for_admins_of_mirror_repositories(configured: Any) -> None:  # noqa: F811
    async with configured(FEATURE_REPO_MIRROR=True) as berth:
        await berth.client("alice").push_image("alice/app", "v1")
        transport = httpx.ASGITransport(app=berth.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:5000") as h:
            b = Browser(h)
            await b.sign_in("alice")
            assert 'id="tab-mirroring"' not in (await b.get(PAGE)).text  # NORMAL state
            r = await b.submit(f"{PAGE}?tab=settings", f"{PAGE}/settings/state",
                               {"state": "MIRROR"})  # fmt: skip
            assert r.status_code == 303
            page = await b.get(f"{PAGE}?tab=mirroring")
            assert page.status_code == 200
            assert 'id="tab-mirroring"' in page.text
            assert "No mirror is configured yet" in page.text

            # Refusals come back as the API's messages, nothing written.
            r = await b.submit(
                f"{PAGE}?tab=mirroring",
                f"{PAGE}/mirror",
                {"external_reference": "169.254.169.254/x/y", "tags": "*",
                 "sync_start": "2099-01-01T00:00", "sync_interval": "60",
                 "robot_username": "alice+nobody"},
            )  # fmt: skip
            assert r.status_code == 303
            page = await b.get(f"{PAGE}?tab=mirroring")
            assert "The provided registry URL is not allowed" in page.text
            api = await b.get("/api/v1/repository/alice/app/mirror", headers=XHR)
            assert api.status_code == 404
            r = await b.submit(f"{PAGE}?tab=mirroring", f"{PAGE}/mirror/sync-now", {})
            assert r.status_code == 303
            assert "No mirror is configured." in (await b.get(f"{PAGE}?tab=mirroring")).text

        # bob (no permission) gets the API's answer, not the tab.
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:5000") as h:
            other = Browser(h)
            await other.sign_in("bob")
            assert (await other.get(f"{PAGE}?tab=mirroring")).status_code in (403, 404)


async def test_proxy_cache_tab_needs_the_feature_and_an_admin(configured: Any) -> None:  # noqa: F811
    async with configured(FEATURE_PROXY_CACHE=True) as berth:
        transport = httpx.ASGITransport(app=berth.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:5000") as h:
            b = Browser(h)
            await b.sign_in("alice")
            r = await b.submit(
                "/organizations/new",
                "/organizations/new",
                {"name": "cache", "email": "cache@example.com"},
            )
            assert r.status_code == 303, r.text
            page = await b.get("/organization/cache?tab=proxycache")
            assert 'id="tab-proxycache"' in page.text
            assert "Upstream registry" in page.text
            r = await b.submit(
                "/organization/cache?tab=proxycache",
                "/organization/cache/proxycache",
                {"upstream_registry": "169.254.169.254", "action": "create"},
            )
            assert r.status_code == 303
            page = await b.get("/organization/cache?tab=proxycache")
            assert "The provided registry URL is not allowed" in page.text
            api = await b.get("/api/v1/organization/cache/proxycache", headers=XHR)
            assert api.json()["upstream_registry"] == ""
