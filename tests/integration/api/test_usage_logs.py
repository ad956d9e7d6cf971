"""Usage logs as Quay's clients read them: pages of 20 with ``next_page`` tokens, filters,
permission refusals, aggregates, exports delivered to a real HTTP receiver and downloaded by
their time-limited link, rotation into archive files, and pulls shown with the robot that
pulled. On both deployments."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import text

from berth.audit.services import insert_log_batch, log_tuple, log_values
from berth.jobs import Lane
from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.conftest import BASE_URL, Berth, Client
from tests.support.receivers import html_of, smtp_sink, text_of

API = "/api/v1"
RFC2822 = re.compile(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$")
DAY_MS = 86_400_000


def day(offset_days: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=offset_days)).strftime("%m/%d/%Y")


async def ns_id(registry: Berth, name: str) -> int:
    async with registry.services.db.read() as s:
        found = await s.execute(text("SELECT id FROM namespaces WHERE name = :n"), {"n": name})
        return int(found.scalar_one())


async def user_id(registry: Berth, name: str) -> int:
    async with registry.services.db.read() as s:
        found = await s.execute(text("SELECT id FROM users WHERE username = :n"), {"n": name})
        return int(found.scalar_one())


async def add_entries(
    registry: Berth,
    namespace: str,
    n: int,
    *,
    kind: str = "create_tag",
    performer: str = "alice",
    at_ms: int | None = None,
    step_ms: int = 1,
) -> None:
    """``n`` entries in ``namespace``, one ``step_ms`` apart, the last at ``at_ms``."""
    nid = await ns_id(registry, namespace)
    pid = await user_id(registry, performer)
    end = at_ms if at_ms is not None else int(time.time() * 1000)
    rows = [
        log_values(
            kind, namespace, None, metadata={"tag": f"t{i}", "namespace": namespace},
            namespace_id=nid, created_at=end - (n - 1 - i) * step_ms,
        )
        | {"performer": performer, "performer_id": pid, "ip": "10.0.0.1"}
        for i in range(n)
    ]  # fmt: skip
    async with registry.services.db.write() as s:
        await insert_log_batch(s, [log_tuple(r) for r in rows])
        # A back-fill into closed days, which a registry never does: the hourly sweep
        # (count_action_log_days, run at start) may have counted them empty; forget that.
        await s.execute(text("DELETE FROM log_day_counts"))


async def test_pages_of_twenty_newest_first_with_quay_shapes(registry: Berth) -> None:
    await add_entries(registry, "alice", 45)
    h = bearer(await oauth_token(registry, "alice"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"next_page": token} if token else {}
        r = await registry.http.get(f"{API}/user/logs", headers=h, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert RFC2822.match(body["start_time"])
        assert RFC2822.match(body["end_time"])
        pages += 1
        seen += [e["metadata"]["tag"] for e in body["logs"] if e["kind"] == "create_tag"]
        assert len(body["logs"]) <= 20
        token = body.get("next_page")
        if token is None:
            break
    assert pages == 3
    assert seen == [f"t{i}" for i in reversed(range(45))]  # newest first, none twice

    r = await registry.http.get(f"{API}/user/logs", headers=h)
    entry = r.json()["logs"][0]
    assert set(entry) == {"kind", "metadata", "ip", "datetime", "performer", "namespace"}
    assert entry["ip"] == "10.0.0.1"
    assert RFC2822.match(entry["datetime"])
    performer = entry["performer"]
    assert performer["kind"] == "user"
    assert performer["name"] == "alice"
    assert performer["is_robot"] is False
    assert set(performer["avatar"]) == {"name", "hash", "color", "kind"}
    assert entry["namespace"]["kind"] == "user"
    assert entry["namespace"]["name"] == "alice"


async def test_tampered_or_foreign_token_reads_the_first_page(registry: Berth) -> None:
    await add_entries(registry, "alice", 25)
    h = bearer(await oauth_token(registry, "alice"))
    first = (await registry.http.get(f"{API}/user/logs", headers=h)).json()
    token = first["next_page"]
    bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await registry.http.get(f"{API}/user/logs", headers=h, params={"next_page": bad})
    assert r.status_code == 200
    assert r.json()["logs"] == first["logs"]


async def test_max_page_caps_the_walk(configured: Any) -> None:
    async with configured(ACTION_LOG_MAX_PAGE=2) as registry:
        await add_entries(registry, "alice", 70)
        h = bearer(await oauth_token(registry, "alice"))
        r = await registry.http.get(f"{API}/user/logs", headers=h)
        token = r.json()["next_page"]
        r = await registry.http.get(f"{API}/user/logs", headers=h, params={"next_page": token})
        assert r.status_code == 200
        assert len(r.json()["logs"]) == 20
        assert "next_page" not in r.json()


async def test_date_range_and_performer_filters(registry: Berth) -> None:
    now = int(time.time() * 1000)
    await add_entries(registry, "alice", 3, at_ms=now - 10 * DAY_MS, kind="delete_tag")
    await add_entries(registry, "alice", 2, kind="create_tag", performer="bob")
    await add_entries(registry, "alice", 4, kind="move_tag")
    h = bearer(await oauth_token(registry, "alice"))

    async def kinds(**params: str) -> list[str]:
        r = await registry.http.get(f"{API}/user/logs", headers=h, params=params)
        assert r.status_code == 200, r.text
        return [e["kind"] for e in r.json()["logs"]]

    default = await kinds()  # now-1d .. today
    assert "delete_tag" not in default
    assert default.count("move_tag") == 4
    old = await kinds(starttime=day(-11), endtime=day(-9))
    assert old == ["delete_tag"] * 3
    assert await kinds(performer="bob") == ["create_tag"] * 2
    assert await kinds(performer="nobody-at-all") == []
    # A malformed date is the default; an end before the start is Quay's bare 400.
    assert (await kinds(starttime="2024-01-01")).count("move_tag") == 4
    r = await registry.http.get(
        f"{API}/user/logs", headers=h, params={"starttime": day(0), "endtime": day(-5)}
    )
    assert r.status_code == 400
    assert "message" in r.json()


async def test_permission_refusals(registry: Berth) -> None:
    await registry.services.orgs.create("acme", creator="alice")
    alice = await oauth_token(registry, "alice")
    bob = await oauth_token(registry, "bob")
    await registry.client("alice").push_image("alice/app", "v1")

    r = await registry.http.get(f"{API}/organization/acme/logs", headers=bearer(alice))
    assert r.status_code == 200
    r = await registry.http.get(f"{API}/organization/acme/logs", headers=bearer(bob))
    assert r.status_code == 403
    assert r.json()["error_type"] == "insufficient_scope"
    r = await registry.http.get(f"{API}/organization/acme/logs")
    assert r.status_code == 401
    r = await registry.http.get(f"{API}/repository/alice/app/logs", headers=bearer(bob))
    assert r.status_code == 403
    r = await registry.http.get(f"{API}/repository/alice/missing/logs", headers=bearer(alice))
    assert r.status_code == 404
    r = await registry.http.get(f"{API}/superuser/logs", headers=bearer(alice))
    assert r.status_code == 403
    r = await registry.http.get(
        f"{API}/superuser/logs", headers=bearer(await oauth_token(registry, "root"))
    )
    assert r.status_code == 200
    assert any(e.get("namespace", {}).get("name") == "acme" for e in r.json()["logs"])
    # An org admin's token without org:admin is capped like a missing role.
    weak = await oauth_token(registry, "alice", "repo:read")
    r = await registry.http.get(f"{API}/organization/acme/logs", headers=bearer(weak))
    assert r.status_code == 403


async def test_repository_logs_show_the_robot_that_pulled(registry: Berth) -> None:
    alice = registry.client("alice")
    await alice.push_image("alice/app", "v1")
    robot = await registry.services.robots.create("alice", "ci", performer="alice")
    await registry.set_public("alice/app")
    puller = Client(registry.http, robot.name, robot.token)
    await puller.login("alice/app", "pull")
    r = await puller.get("/v2/alice/app/manifests/v1")
    assert r.status_code == 200
    await registry.flush_pulls()

    h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.get(f"{API}/repository/alice/app/logs", headers=h)
    assert r.status_code == 200
    logs = r.json()["logs"]
    assert [e["kind"] for e in logs][:2] == ["pull_repo", "push_repo"]
    pull = logs[0]
    assert pull["performer"]["name"] == "alice+ci"
    assert pull["performer"]["is_robot"] is True
    assert pull["performer"]["avatar"]["kind"] == "robot"
    assert pull["metadata"]["tag"] == "v1"
    assert pull["metadata"]["is_robot"] is True
    # Performer filter on the organization-style route (a user's own name works).
    r = await registry.http.get(
        f"{API}/organization/alice/logs", headers=h, params={"performer": "alice+ci"}
    )
    assert [e["kind"] for e in r.json()["logs"]] == ["pull_repo"]


async def test_aggregate_counts_per_kind_and_day(registry: Berth) -> None:
    now = int(time.time() * 1000)
    today0 = now - now % DAY_MS
    await add_entries(registry, "alice", 3, kind="create_tag", at_ms=today0 + 1000)
    await add_entries(registry, "alice", 2, kind="create_tag", at_ms=today0 - DAY_MS + 1000)
    await add_entries(registry, "alice", 4, kind="move_tag", at_ms=today0 + 2000)
    h = bearer(await oauth_token(registry, "alice"))
    r = await registry.http.get(
        f"{API}/user/aggregatelogs", headers=h, params={"starttime": day(-3), "endtime": day(0)}
    )
    assert r.status_code == 200, r.text
    got = {(a["kind"], a["datetime"]): a["count"] for a in r.json()["aggregated"]}
    assert got[("create_tag", formatdate(today0 / 1000))] == 3
    assert got[("create_tag", formatdate((today0 - DAY_MS) / 1000))] == 2
    assert got[("move_tag", formatdate(today0 / 1000))] == 4
    # Closed days were counted once and kept; the same question gets the same answer.
    async with registry.services.db.read() as s:
        kept = (await s.execute(text("SELECT COUNT(*) FROM log_day_counts"))).scalar_one()
    assert kept >= 3  # yesterday's create_tag, and markers for the empty days
    again = await registry.http.get(
        f"{API}/user/aggregatelogs", headers=h, params={"starttime": day(-3), "endtime": day(0)}
    )
    assert again.json() == r.json()
    r = await registry.http.get(
        f"{API}/user/aggregatelogs", headers=h, params={"starttime": day(-40), "endtime": day(0)}
    )
    assert r.status_code == 400
    assert r.json() == {"message": "Invalid date range for logs"}


async def test_feature_flags_hide_routes(configured: Any) -> None:
    async with configured(
        FEATURE_LOG_EXPORT=False, FEATURE_AGGREGATED_LOG_COUNT_RETRIEVAL=False
    ) as registry:
        h = bearer(await oauth_token(registry, "alice"))
        r = await registry.http.get(f"{API}/user/aggregatelogs", headers=h)
        assert r.status_code == 404
        r = await registry.http.post(
            f"{API}/user/exportlogs", headers=h, json={"callback_url": "http://x.example/"}
        )
        assert r.status_code == 404
        assert (await registry.http.get(f"{API}/user/logs", headers=h)).status_code == 200


# ---- exports --------------------------------------------------------------------------


class Receiver:
    """A real HTTP server that keeps what is POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


async def run_jobs(registry: Berth) -> None:
    await registry.services.runner.stop()
    while await registry.services.runner.run_once(Lane.LONG):
        pass


async def download(registry: Berth, url: str) -> Any:
    assert url.startswith(BASE_URL + "/exportedlogs/")
    return await registry.http.get(url[len(BASE_URL) :])


@pytest.mark.slow
async def test_export_to_a_callback_url_and_download_by_link(
    configured: Any, receiver: Receiver
) -> None:
    async with configured(SSRF_ALLOWED_HOSTS=["127.0.0.1"]) as registry:
        await registry.services.runner.stop()
        await registry.client("alice").push_image("alice/app", "v1")
        await add_entries(registry, "alice", 30)
        h = bearer(await oauth_token(registry, "alice"))
        r = await registry.http.post(
            f"{API}/repository/alice/app/exportlogs", headers=h, json={"callback_url": receiver.url}
        )
        assert r.status_code == 200, r.text
        export_id = r.json()["export_id"]
        r = await registry.http.post(
            f"{API}/user/exportlogs", headers=h, json={"callback_url": receiver.url}
        )
        assert r.status_code == 200
        user_export = r.json()["export_id"]
        await run_jobs(registry)

        by_id = {m["export_id"]: m for m in receiver.received}
        repo_cb = by_id[export_id]
        assert repo_cb["status"] == "success"
        assert repo_cb["namespace"] == "alice"
        assert repo_cb["repository"] == "app"
        assert re.match(r"^\d{2}/\d{2}/\d{4}$", repo_cb["start_time"])
        r = await download(registry, repo_cb["exported_data_url"])
        assert r.status_code == 200
        doc = json.loads(r.content)
        assert doc["export_id"] == export_id
        assert doc["details"]["repository"] == "app"
        assert doc["logs"][-1] == {"terminator": True}
        kinds = [e["kind"] for e in doc["logs"][:-1]]
        assert kinds == ["create_repo", "push_repo", "export_logs_success"]  # oldest first
        assert doc["logs"][1]["metadata"]["tag"] == "v1"

        doc = json.loads(
            (await download(registry, by_id[user_export]["exported_data_url"])).content
        )
        kinds = [e["kind"] for e in doc["logs"][:-1]]
        assert kinds.count("create_tag") == 30
        assert "push_repo" in kinds
        tags = [e["metadata"]["tag"] for e in doc["logs"][:-1] if e["kind"] == "create_tag"]
        assert tags == [f"t{i}" for i in range(30)]  # oldest first, all of them

        # The request was logged with its export id.
        r = await registry.http.get(f"{API}/user/logs", headers=h)
        ok = [e for e in r.json()["logs"] if e["kind"] == "export_logs_success"]
        assert {e["metadata"]["export_id"] for e in ok} == {export_id, user_export}


@pytest.mark.slow
async def test_export_link_expires(configured: Any, receiver: Receiver) -> None:
    async with configured(SSRF_ALLOWED_HOSTS=["127.0.0.1"], EXPORT_ACTION_LOGS_SECONDS=5) as reg:
        await reg.services.runner.stop()
        h = bearer(await oauth_token(reg, "alice"))
        r = await reg.http.post(
            f"{API}/user/exportlogs", headers=h, json={"callback_url": receiver.url}
        )
        assert r.status_code == 200
        await run_jobs(reg)
        url = receiver.received[0]["exported_data_url"]
        assert (await download(reg, url)).status_code == 200
        await asyncio.sleep(6.1)  # past the 5 s (Fernet counts whole seconds)
        assert (await download(reg, url)).status_code == 404
        assert (await download(reg, url[:-3] + "xyz")).status_code == 404


async def test_export_by_email_sends_the_link(configured: Any) -> None:
    with smtp_sink() as sink:
        async with configured(**sink.config()) as registry:
            await registry.services.runner.stop()
            await add_entries(registry, "alice", 5)
            h = bearer(await oauth_token(registry, "alice"))
            r = await registry.http.post(
                f"{API}/user/exportlogs", headers=h, json={"callback_email": "ops@example.com"}
            )
            assert r.status_code == 200, r.text
            export_id = r.json()["export_id"]
            await run_jobs(registry)
            (msg,) = sink.to("ops@example.com")
            assert msg["Subject"] == "[Berth] Export Action Logs Complete"
            body = text_of(msg)
            assert export_id in body
            (url,) = re.findall(r"https?://\S+/exportedlogs/\S+", body)
            assert url in html_of(msg)
            r = await download(registry, url)
            assert r.status_code == 200
            doc = json.loads(r.content)
            assert doc["export_id"] == export_id
            assert [e.get("kind") for e in doc["logs"]].count("create_tag") == 5


async def test_export_refusals(configured: Any) -> None:
    async with configured(BERTH_EXPORT_ACTION_LOGS_MAX_ENTRIES=10) as registry:
        h = bearer(await oauth_token(registry, "alice"))
        post = registry.http.post
        r = await post(f"{API}/user/exportlogs", headers=h, json={"callback_url": "ftp://x/"})
        assert r.status_code == 400
        assert r.json() == {"message": "Invalid callback URL"}
        r = await post(f"{API}/user/exportlogs", headers=h, json={"callback_email": "nope"})
        assert r.status_code == 400
        assert r.json() == {"message": "Invalid callback e-mail"}
        r = await post(
            f"{API}/user/exportlogs", headers=h, json={"callback_url": "https://x.example/"},
            params={"starttime": day(0), "endtime": day(-3)},
        )  # fmt: skip
        assert r.status_code == 400
        assert r.json() == {"message": "Invalid time span selected"}
        await add_entries(registry, "alice", 11)
        r = await post(f"{API}/user/exportlogs", headers=h, json={"callback_url": "https://x/"})
        assert r.status_code == 400
        assert "more than the 10" in r.json()["message"]
        r = await post(f"{API}/repository/alice/none/exportlogs", headers=h, json={})
        assert r.status_code == 404
        r = await registry.http.get(f"{API}/user/logs", headers=h)
        errors = {
            e["metadata"]["error"] for e in r.json()["logs"] if e["kind"] == "export_logs_failure"
        }
        assert "Invalid callback URL" in errors
        assert "Invalid time span selected" in errors
        # No mail sender is configured: an e-mail export is accepted, as Quay accepts it.
        async with registry.services.db.write() as s:
            await s.execute(text("DELETE FROM log_entries"))
        r = await post(f"{API}/user/exportlogs", headers=h, json={"callback_email": "a@b.example"})
        assert r.status_code == 200
        assert "export_id" in r.json()


# ---- rotation -------------------------------------------------------------------------


async def test_rotation_archives_old_rows_then_deletes_them(configured: Any) -> None:
    async with configured(
        FEATURE_ACTION_LOG_ROTATION=True, ACTION_LOG_ROTATION_THRESHOLD="30d"
    ) as registry:
        await registry.services.runner.stop()
        now = int(time.time() * 1000)
        await add_entries(registry, "alice", 12, at_ms=now - 40 * DAY_MS, step_ms=1000)
        await add_entries(registry, "alice", 3, kind="move_tag")
        async with registry.services.db.read() as s:
            old = [
                dict(r._mapping)
                for r in await s.execute(
                    text(
                        "SELECT id, kind, created_at FROM log_entries WHERE created_at < :c "
                        "ORDER BY id"
                    ),
                    {"c": now - 30 * DAY_MS},
                )
            ]
        assert len(old) == 12
        usage = registry.services.usage_logs
        files = await usage.rotate()
        assert sum(f.entries for f in files) == 12
        lines = []
        for f in files:
            data = await usage.archive_bytes(f.name)
            assert data is not None
            lines += [json.loads(line) for line in data.decode().splitlines()]
        assert [(e["id"], e["kind"], e["created_at"]) for e in lines] == [
            (r["id"], r["kind"], r["created_at"]) for r in old
        ]
        assert lines[0]["metadata"] == {"tag": "t0", "namespace": "alice"}
        async with registry.services.db.read() as s:
            left = await s.execute(text("SELECT kind FROM log_entries"))
            kinds = [k for (k,) in left]
        assert "create_tag" not in kinds
        assert kinds.count("move_tag") == 3
        assert await usage.rotate() == []  # nothing left to rotate


async def test_rotation_redone_after_a_crash_loses_nothing(configured: Any) -> None:
    """A rotation killed after writing the file but before deleting the rows leaves the rows;
    the next run writes the same file (same bytes, same digest) and deletes them."""
    async with configured() as registry:
        await registry.services.runner.stop()
        now = int(time.time() * 1000)
        await add_entries(registry, "alice", 5, at_ms=now - 60 * DAY_MS)
        usage = registry.services.usage_logs
        store = usage.store
        written: list[bytes] = []

        async def crash(data: bytes) -> str:
            written.append(data)
            raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            await store.rotate(now - 30 * DAY_MS, 100, "actionlogarchive/", crash)
        async with registry.services.db.read() as s:
            n = (await s.execute(text("SELECT COUNT(*) FROM log_entries"))).scalar_one()
        assert n >= 5
        files = await usage.rotate()
        assert len(files) == 1
        assert files[0].entries == 5
        assert await usage.archive_bytes(files[0].name) == written[0]


# ---- login auditing -------------------------------------------------------------------


async def _sign_in_twice(registry: Berth, user: str) -> list[tuple[str, str | None]]:
    """A good and a refused sign-in; the (kind, performer) of the login entries they left."""
    async with registry.services.db.read() as s:
        last = (await s.execute(text("SELECT MAX(id) FROM log_entries"))).scalar() or 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry.app), base_url=BASE_URL
    ) as http:
        csrf = await sign_in(http, user)
        r = await http.post(
            "/api/v1/signin",
            json={"username": user, "password": "wrong-password"},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 403
    async with registry.services.db.read() as s:
        rows = await s.execute(
            text(
                "SELECT kind, performer FROM log_entries WHERE kind LIKE 'login_%' AND id > :last "
                "ORDER BY id"
            ),
            {"last": last},
        )
        return [(k, p) for k, p in rows]


async def test_logins_audited_as_the_flags_ask(configured: Any) -> None:
    async with configured() as registry:  # Quay's defaults: logins yes, failures no
        assert await _sign_in_twice(registry, "bob") == [("login_success", "bob")]
    async with configured(
        ACTION_LOG_AUDIT_LOGINS=False, ACTION_LOG_AUDIT_LOGIN_FAILURES=True
    ) as registry:
        # (the refused attempt came from the session alice had signed in)
        assert await _sign_in_twice(registry, "alice") == [("login_failure", "alice")]
