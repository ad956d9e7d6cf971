"""Usage logs in chromium against a real ``berth serve``: the repository's Logs tab after two
skopeo pushes and entries seeded on earlier days (the chart has a bar on each seeded day,
the table's rows are the API's entries), and the export dialog, whose export arrives by
e-mail through a real SMTP server (aiosmtpd) and downloads by its link.
Screenshots go to docs/ui/*.png."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.support.receivers import smtp_sink, text_of, wait_for
from tests.web.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]
DAY_MS = 86_400_000


def push(server: BerthServer, tmp_path: Path, tag: str, seed: int) -> None:
    layout = write_oci_layout(tmp_path / f"src-{tag}", tag=tag, layers=(20_000,), seed=seed)
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(ALICE),
        layout.reference, f"docker://{server.host}/alice/app:{tag}", check=True)  # fmt: skip


def seed(data_dir: Path, days_ago: int, kind: str, n: int) -> None:
    """``n`` entries of ``kind`` on alice/app, ``days_ago`` days back (the past a fresh
    server cannot produce)."""
    db = sqlite3.connect(data_dir / "berth.db")
    try:
        ns_id, repo_id = db.execute(
            "SELECT n.id, r.id FROM namespaces n JOIN repositories r ON r.namespace_id = n.id "
            "WHERE n.name = 'alice' AND r.name = 'app'"
        ).fetchone()
        (user_id,) = db.execute("SELECT id FROM users WHERE username = 'alice'").fetchone()
        at = int(time.time() * 1000) - days_ago * DAY_MS
        db.executemany(
            "INSERT INTO log_entries (kind, namespace_id, namespace, repository_id, repository,"
            " performer_id, performer, ip, metadata, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    kind,
                    ns_id,
                    "alice",
                    repo_id,
                    "app",
                    user_id,
                    "alice",
                    "192.0.2.7",
                    json.dumps({"repo": "app", "namespace": "alice", "tag": f"old{i}"}),
                    at + i,
                )
                for i in range(n)
            ],
        )
        # The hourly sweep may have counted these past days already, when they were empty:
        # a registry never writes into a closed day, this back-fill does; forget its counts.
        db.execute("DELETE FROM log_day_counts")
        db.commit()
    finally:
        db.close()


def iso(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def test_repository_logs_chart_table_and_export_by_email(
    page: Any, berth_factory: StartServer, tmp_path: Path, shot: Shot
) -> None:
    with smtp_sink() as sink:
        config = {**embedded_config(tmp_path), **sink.config()}
        server = berth_factory(config, name="logs")
        server.create_user(*ALICE)
        push(server, tmp_path, "v1", 1)
        push(server, tmp_path, "v2", 2)
        seed(Path(config["BERTH_DATA_DIR"]), 3, "pull_repo", 4)
        seed(Path(config["BERTH_DATA_DIR"]), 2, "delete_tag", 2)
        sign_in(page, server)
        page.goto(f"{server.url}/repository/alice/app")
        page.get_by_role("tab", name="Logs").click()
        page.wait_for_url(re.compile(r".*tab=logs.*"))
        # The date range picker: the last two weeks.
        page.get_by_label("From").fill(iso(13))
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(rf".*start={iso(13)}.*"))
        chart = page.locator("#logs-chart")
        assert chart.locator(f'g[data-day="{iso(3)}"]').get_attribute("data-total") == "4"
        assert chart.locator(f'g[data-day="{iso(2)}"]').get_attribute("data-total") == "2"
        today = chart.locator(f'g[data-day="{iso(0)}"] rect[data-kind="push_repo"]')
        assert today.get_attribute("data-count") == "2"
        assert chart.locator(f'g[data-day="{iso(5)}"] rect').count() == 0
        legend = page.get_by_role("list", name="Kinds of action").inner_text()
        assert "Push to repository" in legend
        assert "Pull repository" in legend
        # The table's rows are the API's entries (the session reads /api/v1 as well).
        since = (datetime.now(UTC) - timedelta(days=13)).strftime("%m/%d/%Y")
        answer = page.request.get(
            f"{server.url}/api/v1/repository/alice/app/logs?starttime={since}",
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
        assert answer.status == 200, answer.text()
        api = answer.json()
        rows = page.locator("#logs-table tbody tr")
        assert rows.count() == len(api["logs"])
        assert [rows.nth(i).get_attribute("data-kind") for i in range(rows.count())] == [
            e["kind"] for e in api["logs"]
        ]
        texts = page.locator("#logs-table").inner_text()
        assert "alice pushed tag v2 to alice/app" in texts
        assert "alice deleted tag old1 from alice/app" in texts
        shot(page, "usage-logs")
        # Export by e-mail.
        page.get_by_text("Export", exact=True).click()
        page.get_by_label("E-mail address").fill("ops@example.com")
        shot(page, "usage-logs-export")
        page.get_by_role("button", name="Start export").click()
        status = page.get_by_role("status").first.inner_text()
        export_id = re.search(r"Logs export ([0-9a-f-]{36}) started", status)
        assert export_id, status
        (msg,) = wait_for(lambda: sink.to("ops@example.com"), what="the export e-mail")
        body = text_of(msg)
        assert export_id.group(1) in body
        (url,) = re.findall(r"https?://\S+/exportedlogs/\S+", body)
        got = httpx.get(server.url + url[url.index("/exportedlogs/") :], timeout=30)
        assert got.status_code == 200
        doc = got.json()
        assert doc["export_id"] == export_id.group(1)
        kinds = [e.get("kind") for e in doc["logs"]]
        assert kinds.count("push_repo") == 2
        assert kinds.count("pull_repo") == 4
