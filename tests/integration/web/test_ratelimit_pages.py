"""The superuser's rate limits page over ASGI: the configured BERTH_RATE_LIMITS shown, a
namespace's limits set and removed through the same service as the API (which then answers
them), bad values refused with the message, superusers only."""

from __future__ import annotations

import html
from typing import Any

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.web.test_quota_pages import XHR, _browser, _done


async def test_superuser_sets_and_removes_namespace_limits(configured: Any) -> None:  # noqa: F811
    limits = {"v2": {"caller": 1200, "window": 60}}
    async with configured(BERTH_RATE_LIMITS=limits) as b:
        async for root in _browser(b, "root"):
            page = html.unescape((await root.get("/superuser/ratelimits")).text)
            assert "1200" in page
            assert "No namespace has its own limits." in page
            form = {"namespace": "alice", "v2_caller": "5", "v2_window": "10", "api_window": "60"}
            page = await _done(root, await root.submit(BACK, BACK, form))
            assert "Rate limits of alice saved." in page
            api = await root.http.get("/api/v1/superuser/ratelimits/alice", headers=XHR)
            assert api.json() == {
                "namespace": "alice", "v2": {"caller": 5, "namespace": None, "window": 10},
            }  # fmt: skip
            page = await _done(
                root, await root.submit(BACK, BACK, {"namespace": "alice", "v2_caller": "0"})
            )
            assert "v2.caller must be a positive integer" in page
            page = await _done(
                root, await root.submit(BACK, BACK, {"namespace": "nobody", "v2_caller": "3"})
            )
            assert "No namespace nobody." in page
            page = await _done(
                root, await root.submit(BACK, BACK, {"namespace": "alice", "action": "delete"})
            )
            assert "Rate limits of alice removed" in page
        async for alice in _browser(b, "alice"):
            assert (await alice.get(BACK)).status_code == 403
            r = await alice.submit("/repository/", BACK, {"namespace": "alice", "v2_caller": "1"})
            assert r.status_code == 403


BACK = "/superuser/ratelimits"
