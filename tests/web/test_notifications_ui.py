"""Repository Settings → Events and notifications in chromium against a real ``berth
serve``: a webhook notification created in the page (the method's fields appear for the
chosen method) fires on a skopeo push and reaches a real HTTP receiver; "Test" delivers the
sample payload; a disabled notification is re-enabled; delete.
Screenshots go to docs/ui/*.png."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, StartServer
from tests.support.receivers import http_receiver, wait_for
from tests.web.conftest import sign_in
from tests.web.test_usage_logs_ui import push

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


def test_webhook_created_in_the_page_fires_on_push(
    page: Any, berth_factory: StartServer, tmp_path: Path, shot: Shot
) -> None:
    with http_receiver() as receiver:
        config = {**embedded_config(tmp_path), "SSRF_ALLOWED_HOSTS": ["127.0.0.1"]}
        server = berth_factory(config, name="notify")
        server.create_user(*ALICE)
        push(server, tmp_path, "v1", 1)
        sign_in(page, server)
        page.goto(f"{server.url}/repository/alice/app?tab=settings")
        card = page.locator("#notifications")
        assert card.get_by_label("Webhook URL", exact=True).is_hidden()  # shown for its method only
        card.get_by_label("When this event happens").select_option("repo_push")
        card.get_by_label("Then issue a notification").select_option("webhook")
        card.get_by_label("Webhook URL", exact=True).fill(receiver.url("/push"))
        card.get_by_label("Title (optional)").fill("CI hook")
        assert card.get_by_label("E-mail address", exact=True).is_hidden()
        card.get_by_role("button", name="Create notification").click()
        assert "Notification created" in page.get_by_role("status").first.inner_text()
        row = page.locator("#notifications-table tbody tr")
        assert row.count() == 1
        assert "Webhook POST" in row.inner_text()
        assert "Enabled" in row.inner_text()
        shot(page, "repository-notifications")
        push(server, tmp_path, "v2", 2)
        (hit,) = wait_for(lambda: receiver.on("/push"), what="the repo_push webhook")
        body = hit.json()
        assert body["repository"] == "alice/app"
        assert body["updated_tags"] == ["v2"]
        # Test: the sample payload arrives too.
        page.get_by_role("button", name="Test notification CI hook").click()
        assert "Test notification queued" in page.get_by_role("status").first.inner_text()
        wait_for(lambda: len(receiver.on("/push")) == 2, what="the test delivery")
        # Disabled after failures (as the delivery job leaves it), re-enabled from the page.
        db = sqlite3.connect(Path(config["BERTH_DATA_DIR"]) / "berth.db")
        db.execute("UPDATE notifications SET number_of_failures = 3")
        db.commit()
        db.close()
        page.reload()
        assert "Disabled after 3 failures" in row.inner_text()
        page.get_by_role("button", name="Re-enable notification CI hook").click()
        assert "Enabled" in page.locator("#notifications-table tbody tr").inner_text()
        page.get_by_role("button", name="Delete notification CI hook").click()
        assert page.locator("#notifications-table").count() == 0
