"""Notifications over /api/v1 with real receivers: an HTTP server for webhooks and Slack,
an SMTP server (aiosmtpd) for e-mail. Pushes fire ``repo_push`` through the job runner in
process; everything is asserted where a user would see it (the receiver, the mailbox, the
API's answers)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from berth.audit.services import list_logs
from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.api.test_organizations import create_org
from tests.integration.conftest import BASE_URL, Berth
from tests.support.receivers import (
    HttpReceiver,
    SmtpSink,
    async_wait_for,
    html_of,
    http_receiver,
    smtp_sink,
    text_of,
)

API = "/api/v1"
REPO = f"{API}/repository/alice/app"
NOTES = REPO + "/notification/"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
async def berth(configured, sink: SmtpSink) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
        FEATURE_QUOTA_NOTIFICATIONS=True,
        **sink.config(),
    ) as b:
        yield b


@pytest.fixture
async def browsers(berth: Berth) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """New clients with their own cookie jars on ``berth``'s app (sessions, CSRF)."""
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=berth.app), base_url=BASE_URL)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


async def csrf(c: httpx.AsyncClient) -> dict[str, str]:
    r = await c.get("/csrf_token")
    return {"X-CSRF-Token": r.json()["csrf_token"]}


async def h(b: Berth, user: str = "alice") -> dict[str, str]:
    return bearer(await oauth_token(b, user))


async def push(b: Berth, tag: str = "latest", repo: str = "alice/app") -> None:
    await b.client(repo.split("/")[0]).push_image(repo, tag)


async def create(b: Berth, body: dict[str, Any], status: int = 201, base: str = NOTES) -> Any:
    r = await b.http.post(base, headers=await h(b), json={"eventConfig": {}, **body})
    assert r.status_code == status, r.text
    return r.json()


def target(kind: str, name: str) -> dict[str, Any]:
    config = {"target": {"kind": kind, "name": name}}
    return {"event": "repo_push", "method": "quay_notification", "config": config}


async def eventually(check: Callable[[], Awaitable[Any]], what: str, limit_s: float = 60) -> Any:
    """Await ``check()`` until it gives something truthy (a bound, not a timing test)."""
    async with asyncio.timeout(limit_s):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(0.1)


async def job_in(b: Berth, state: str) -> Any:
    async def check() -> Any:
        rows = await b.services.jobs.list(kind="deliver_notification")
        return next((j for j in rows if j.state == state), None)

    return await eventually(check, f"a deliver_notification job {state}")


def webhook(url: str, **config: Any) -> dict[str, Any]:
    return {"event": "repo_push", "method": "webhook", "config": {"url": url, **config}}


async def failures(b: Berth, uuid: str) -> int:
    r = await b.http.get(NOTES + uuid, headers=await h(b))
    assert r.status_code == 200, r.text
    return int(r.json()["number_of_failures"])


# ------------------------------------------------------------------------------ the API


async def test_create_list_get_delete_with_quays_shapes(
    berth: Berth, receiver: HttpReceiver
) -> None:
    await push(berth)
    made = await create(berth, {**webhook(receiver.url("/a")), "title": "CI hook"})
    assert set(made) == {
        "uuid",
        "title",
        "event",
        "method",
        "config",
        "event_config",
        "number_of_failures",
    }
    assert made["title"] == "CI hook"
    assert made["event"] == "repo_push"
    assert made["method"] == "webhook"
    assert made["number_of_failures"] == 0
    assert made["event_config"] == {}
    assert made["config"]["url"] == f"http://127.0.0.1:{receiver.port}/…"  # masked

    r = await berth.http.get(NOTES, headers=await h(berth))
    assert r.status_code == 200
    assert [n["uuid"] for n in r.json()["notifications"]] == [made["uuid"]]
    r = await berth.http.get(NOTES + made["uuid"], headers=await h(berth))
    assert r.json() == made

    r = await berth.http.delete(NOTES + made["uuid"], headers=await h(berth))
    assert r.status_code == 204
    r = await berth.http.get(NOTES + made["uuid"], headers=await h(berth))
    assert r.status_code == 404
    # Quay's quirk: an unknown uuid is 400 for delete, reset and test
    for method, path in (
        ("DELETE", NOTES + made["uuid"]),
        ("POST", NOTES + made["uuid"]),
        ("POST", NOTES + made["uuid"] + "/test"),
    ):
        r = await berth.http.request(method, path, headers=await h(berth), json={})
        assert r.status_code == 400, (method, path, r.text)
        assert r.json()["error_type"] == "invalid_request"

    async with berth.services.db.read() as s:
        kinds = [e.kind for e in await list_logs(s, namespace="alice", repository="app")]
    assert "add_repo_notification" in kinds
    assert "delete_repo_notification" in kinds


async def test_bad_input_is_400_and_writes_nothing(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    url = receiver.url()
    level = {"level": "nine"}
    cases = [
        ({**webhook(url), "event": "repo_pull"}, "Unknown event: repo_pull"),
        ({**webhook(url), "method": "pigeon"}, "Unknown method: pigeon"),
        (
            {"event": "repo_push", "method": "flowdock", "config": {"flow_api_token": "x"}},
            "Flowdock",
        ),
        ({"event": "repo_push", "method": "hipchat", "config": {"room_id": "1"}}, "HipChat"),
        (webhook("ftp://example.com/"), "Invalid url"),
        (webhook("http://169.254.169.254/latest/meta-data/"), "link-local|metadata"),
        (webhook("http://metadata.google.internal/"), "metadata"),
        (webhook("http://[::1]:9/"), "loopback"),
        ({**webhook(url), "event": "vulnerability_found", "eventConfig": level}, "level"),
        ({**webhook(url), "event": "quota_warning"}, "cannot be used on a repository"),
        (target("user", "nobody"), "Unknown user"),
        (target("team", "nobody"), "Unknown team"),
        (target("org", "alice"), "own organization"),
        ({"event": "repo_push", "method": "email", "config": {"email": "x@ex.com"}}, "authorized"),
    ]
    for body, message in cases:
        r = await berth.http.post(NOTES, headers=await h(berth), json={"eventConfig": {}, **body})
        assert r.status_code == 400, (body, r.text)
        assert re.search(message, r.json()["detail"]), (body, r.json())
    r = await berth.http.post(NOTES, headers=await h(berth), json={"event": "repo_push"})
    assert r.status_code == 400
    r = await berth.http.get(NOTES, headers=await h(berth))
    assert r.json() == {"notifications": []}


async def test_only_repository_admins(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    r = await berth.http.post(
        NOTES, headers=await h(berth, "bob"), json={"eventConfig": {}, **webhook(receiver.url())}
    )
    assert r.status_code == 403
    r = await berth.http.get(NOTES, headers=await h(berth, "bob"))
    assert r.status_code == 403


async def test_secrets_are_encrypted_at_rest_and_never_echoed(
    berth: Berth, receiver: HttpReceiver
) -> None:
    await push(berth)
    url = receiver.url("/hook/T0K3N-in-the-path")
    made = await create(berth, webhook(url, secret="very-secret-key"))
    assert made["config"]["secret"] == "********"
    assert "T0K3N" not in str(made)
    slack = await create(berth, {"event": "repo_push", "method": "slack", "config": {"url": url}})
    assert "T0K3N" not in str(slack)
    async with berth.services.db.read() as s:
        rows = (await s.execute(text("SELECT config FROM notifications"))).all()
    stored = " ".join(str(r[0]) for r in rows)
    assert "T0K3N" not in stored
    assert "very-secret-key" not in stored


# ----------------------------------------------------------------------------- delivery


async def test_push_fires_repo_push_to_a_webhook_signed(
    berth: Berth, receiver: HttpReceiver
) -> None:
    await push(berth)
    await create(berth, webhook(receiver.url("/hook"), secret="very-secret-key"))
    await push(berth, "v1")
    (got,) = await async_wait_for(lambda: receiver.on("/hook"), what="the webhook")
    body = got.json()
    assert body == {
        "name": "app",
        "repository": "alice/app",
        "namespace": "alice",
        "docker_url": "localhost:5000/alice/app",
        "homepage": f"{BASE_URL}/repository/alice/app",
        "updated_tags": ["v1"],
        "delivery_id": body["delivery_id"],
    }
    assert got.headers["X-Berth-Delivery"] == body["delivery_id"]
    assert got.headers["X-Berth-Event"] == "repo_push"
    expected = hmac.new(b"very-secret-key", got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Berth-Signature-256"] == f"sha256={expected}"


async def test_webhook_template_and_test_button(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    made = await create(
        berth,
        webhook(
            receiver.url("/tpl"),
            template='{"msg": "push to ${repository}", "tags": "${updated_tags}"}',
        ),
    )
    r = await berth.http.post(NOTES + made["uuid"] + "/test", headers=await h(berth), json={})
    assert r.status_code == 200
    assert r.json() == {}
    (got,) = await async_wait_for(lambda: receiver.on("/tpl"), what="the test delivery")
    assert got.json() == {"msg": "push to alice/app", "tags": ["latest", "foo"]}


async def test_slack_message(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    await create(
        berth, {"event": "repo_push", "method": "slack", "config": {"url": receiver.url("/slack")}}
    )
    await push(berth, "v2")
    (got,) = await async_wait_for(lambda: receiver.on("/slack"), what="the Slack message")
    msg = got.json()
    assert msg["text"] == "Repository alice/app updated"
    assert (
        msg["attachments"][0]["text"]
        == f"<{BASE_URL}/repository/alice/app|Repository alice/app updated>"
    )


async def test_a_500_then_200_receiver_gets_the_delivery_after_the_retry(
    berth: Berth, receiver: HttpReceiver
) -> None:
    await push(berth)
    made = await create(berth, webhook(receiver.url("/flaky")))
    receiver.answers["/flaky"] = [500]
    await push(berth, "v1")
    first, second = await async_wait_for(
        lambda: len(receiver.on("/flaky")) >= 2 and receiver.on("/flaky"), what="the retry"
    )
    assert first.body == second.body  # the same delivery, the same id
    done = await job_in(berth, "done")
    assert done.attempts == 2
    assert await failures(berth, made["uuid"]) == 0  # a success sets it back


async def test_failures_counted_and_disabled_at_three(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    made = await create(berth, webhook(receiver.url("/down")))
    receiver.answers["/down"] = [500] * 3
    await push(berth, "v1")
    for n in (1, 2, 3):
        await async_wait_for(lambda n=n: len(receiver.on("/down")) >= n, what=f"attempt {n}")

    async def disabled() -> bool:
        return await failures(berth, made["uuid"]) == 3

    await eventually(disabled, "the notification disabled")
    # disabled: a new push enqueues nothing for it
    before = len(await berth.services.jobs.list(kind="deliver_notification"))
    await push(berth, "v2")
    assert len(await berth.services.jobs.list(kind="deliver_notification")) == before
    # reset (POST on the notification) brings it back
    r = await berth.http.post(NOTES + made["uuid"], headers=await h(berth), json={})
    assert r.status_code == 204
    assert await failures(berth, made["uuid"]) == 0
    await push(berth, "v3")
    got = await async_wait_for(
        lambda: len(receiver.on("/down")) >= 4 and receiver.on("/down"),
        what="the delivery after reset",
    )
    assert got[-1].json()["updated_tags"] == ["v3"]


async def test_a_hanging_receiver_does_not_delay_another(
    berth: Berth, receiver: HttpReceiver
) -> None:
    await push(berth)
    receiver.hang.add("/slow")
    await create(berth, webhook(receiver.url("/slow")))
    await create(berth, webhook(receiver.url("/fast")))
    await push(berth, "v1")
    await async_wait_for(lambda: receiver.on("/fast"), what="the fast receiver")
    assert receiver.hanging == 1  # the slow one is still waiting for its answer
    receiver.release()
    await async_wait_for(lambda: receiver.on("/slow"), what="the slow receiver")


async def test_refused_at_delivery_when_the_address_changed(
    berth: Berth, receiver: HttpReceiver
) -> None:
    """DNS (here: the stored URL) that changes after creation is checked again at delivery."""
    await push(berth)
    made = await create(berth, webhook(receiver.url("/x")))
    svc = berth.services.notifications
    sealed = svc.seal(svc.methods["webhook"], {"url": "http://169.254.169.254/latest/meta-data/"})
    async with berth.services.db.write() as s:
        await s.execute(
            text("UPDATE notifications SET config = :c WHERE uuid = :u").bindparams(u=made["uuid"]),
            {"c": __import__("orjson").dumps(sealed).decode()},
        )
    await push(berth, "v1")
    job = await job_in(berth, "done")
    assert job.attempts == 1  # refused: counted, not retried
    assert await failures(berth, made["uuid"]) == 1
    assert receiver.received == []


async def test_many_pushes_give_as_many_deliveries_with_distinct_ids(
    berth: Berth, receiver: HttpReceiver
) -> None:
    pushed = await berth.client("alice").push_image("alice/app", "t0")
    await create(berth, webhook(receiver.url("/many")))
    c = berth.client("alice")
    n = 300
    for i in range(n):
        r = await c.put_manifest("alice/app", f"t{i}", pushed.manifest, pushed.media_type)
        assert r.status_code == 201, r.text
    got = await async_wait_for(
        lambda: len(receiver.on("/many")) >= n and receiver.on("/many"),
        limit_s=300,
        what=f"{n} deliveries",
    )
    bodies = [g.json() for g in got]
    assert len({b["delivery_id"] for b in bodies}) == n
    assert sorted(b["updated_tags"][0] for b in bodies) == sorted(f"t{i}" for i in range(n))


# ------------------------------------------------------------------- e-mail and in-app


async def test_email_needs_a_confirmed_address(berth: Berth, sink: SmtpSink) -> None:
    await push(berth)
    email = f"{REPO}/authorizedemail/ops@example.com"
    r = await berth.http.get(email, headers=await h(berth))
    assert r.status_code == 404
    r = await berth.http.post(email, headers=await h(berth), json={})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["email"] == "ops@example.com"
    assert view["confirmed"] is False
    assert view["repository"] == "app"
    assert view["namespace"] == "alice"
    (confirm,) = await async_wait_for(lambda: sink.to("ops@example.com"), what="the confirmation")
    link = re.search(r"http://\S+/authrepoemail\?code=\S+", text_of(confirm))
    assert link
    assert link.group(0) in html_of(confirm)
    body = {"event": "repo_push", "method": "email", "config": {"email": "ops@example.com"}}
    await create(berth, body, status=400)

    r = await berth.http.get(link.group(0).removeprefix(BASE_URL))
    assert r.status_code == 200, r.text
    r = await berth.http.get(email, headers=await h(berth))
    assert r.json()["confirmed"] is True
    await create(berth, body)
    await push(berth, "v1")
    mails = await async_wait_for(
        lambda: len(sink.to("ops@example.com")) >= 2 and sink.to("ops@example.com"),
        what="the notification e-mail",
    )
    assert mails[-1]["Subject"] == "[Berth] Repository alice/app updated"
    assert "updated_tags" in text_of(mails[-1])
    assert '["v1"]' in text_of(mails[-1])


async def test_quay_notification_to_a_user_and_dismiss(berth: Berth) -> None:
    await push(berth)
    await create(berth, target("user", "bob"))
    await push(berth, "v1")
    bob = await h(berth, "bob")

    async def bell() -> list[dict[str, Any]]:
        r = await berth.http.get(f"{API}/user/notifications", headers=bob)
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"notifications", "additional"}
        return list(r.json()["notifications"])

    (note,) = await eventually(bell, "bob's notification")
    assert set(note) == {"id", "organization", "kind", "created", "metadata", "dismissed"}
    assert note["kind"] == "repo_push"
    assert note["dismissed"] is False
    assert note["metadata"]["updated_tags"] == ["v1"]
    r = await berth.http.put(
        f"{API}/user/notifications/{note['id']}", headers=bob, json={"dismissed": True}
    )
    assert r.status_code == 200
    assert r.json()["dismissed"] is True
    r = await berth.http.get(
        f"{API}/user/notifications/{note['id']}", headers=await h(berth, "alice")
    )
    assert r.status_code == 404  # not alice's


async def test_team_invitation_email_link_accepts(
    berth: Berth, sink: SmtpSink, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    bob = await berth.services.accounts.get_user("bob")
    await berth.services.accounts.update_user(bob.id, email="bob@example.com")
    await create_org(berth, "acme")
    team = f"{API}/organization/acme/team/devs"
    r = await berth.http.put(team, headers=await h(berth), json={"role": "member"})
    assert r.status_code == 200, r.text
    r = await berth.http.put(team + "/members/bob", headers=await h(berth))
    assert r.status_code == 200, r.text
    assert r.json()["invited"] is True
    (mail,) = await async_wait_for(lambda: sink.to("bob@example.com"), what="the invitation")
    assert mail["Subject"] == "[Berth] Invitation to join team acme/devs"
    link = re.search(r"http://\S+/confirminvite\?code=[\w-]+(?=\s)", text_of(mail))
    assert link
    # the bell shows it too
    r = await berth.http.get(f"{API}/user/notifications", headers=await h(berth, "bob"))
    (note,) = r.json()["notifications"]
    assert note["kind"] == "org_team_invite"
    assert note["metadata"]["org"] == "acme"
    assert note["metadata"]["teamname"] == "devs"

    browser = browsers()
    r = await browser.get(link.group(0))
    assert r.status_code == 302
    assert r.headers["location"].startswith("/signin")
    await sign_in(browser, "bob")
    r = await browser.get(link.group(0))
    assert r.status_code == 302, r.text
    assert r.headers["location"] == "/organization/acme?tab=teams"
    r = await berth.http.get(team + "/members", headers=await h(berth))
    assert "bob" in [m["name"] for m in r.json()["members"]]


async def test_password_recovery_by_email(
    berth: Berth, sink: SmtpSink, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    bob = await berth.services.accounts.get_user("bob")
    await berth.services.accounts.update_user(bob.id, email="bob@example.com")
    anon = browsers()
    headers = await csrf(anon)
    r = await anon.post(f"{API}/recovery", json={"email": "nobody@example.com"}, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"status": "sent"}
    r = await anon.post(f"{API}/recovery", json={"email": "bob@example.com"}, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"status": "sent"}
    (mail,) = await async_wait_for(lambda: sink.to("bob@example.com"), what="the recovery e-mail")
    match = re.search(r"/recovery\?code=(\S+)", text_of(mail))
    assert match
    code = match.group(1)
    r = await anon.post(
        f"{API}/recovery/reset",
        json={"code": code, "password": "brand-new-password"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    await sign_in(browsers(), "bob", "brand-new-password")
    r = await anon.post(
        f"{API}/recovery/reset",
        json={"code": code, "password": "another-password"},
        headers=headers,
    )
    assert r.status_code == 400  # used up
    r = await anon.post(
        f"{API}/recovery/reset",
        json={"code": "garbage", "password": "another-password"},
        headers=headers,
    )
    assert r.status_code == 400
    # a superuser sends one
    send = f"{API}/superusers/users/bob/sendrecovery"
    r = await berth.http.post(send, headers=await h(berth, "root"), json={})
    assert r.status_code == 200, r.text
    assert r.json() == {"email": "bob@example.com"}
    await async_wait_for(lambda: len(sink.to("bob@example.com")) == 2, what="the second e-mail")
    r = await berth.http.post(send, headers=await h(berth, "alice"), json={})
    assert r.status_code == 403
    r = await berth.http.post(
        f"{API}/superusers/users/nobody/sendrecovery", headers=await h(berth, "root"), json={}
    )
    assert r.status_code == 404
    await create_org(berth, "acme")
    r = await anon.post(f"{API}/recovery", json={"email": "acme@x.test"}, headers=headers)
    assert r.json() == {"status": "org", "orgemail": "acme@x.test", "orgname": "acme"}


# ------------------------------------------------------------------ namespace and sweeps


async def test_namespace_notifications_and_notify(berth: Berth, receiver: HttpReceiver) -> None:
    from berth.notifications.events import quota_data
    from berth.notifications.hooks import notify

    await create_org(berth, "acme")
    base = f"{API}/organization/acme/notifications"
    made = await create(
        berth,
        {"event": "quota_warning", "method": "webhook", "config": {"url": receiver.url("/quota")}},
        base=base,
    )
    await create(
        berth,
        {"event": "repo_push", "method": "webhook", "config": {"url": receiver.url("/quota")}},
        status=400,
        base=base,
    )
    r = await berth.http.get(base, headers=await h(berth))
    assert [n["uuid"] for n in r.json()["notifications"]] == [made["uuid"]]
    r = await berth.http.get(base, headers=await h(berth, "bob"))
    assert r.status_code == 403
    mine = await create(
        berth,
        {"event": "quota_error", "method": "webhook", "config": {"url": receiver.url("/mine")}},
        base=f"{API}/user/namespacenotifications",
    )
    assert mine["event"] == "quota_error"

    async with berth.services.db.write() as s:
        ns_id = (await s.execute(text("SELECT id FROM namespaces WHERE name = 'acme'"))).scalar()
        data = quota_data(
            "acme", used_bytes=900, quota_bytes=1000, threshold_percent=80, limit_type="Warning"
        )
        assert await notify(s, "quota_warning", namespace_id=ns_id, data=data) == 1
    (got,) = await async_wait_for(lambda: receiver.on("/quota"), what="the quota warning")
    assert got.json()["percent_used"] == 90.0


async def test_namespace_routes_need_the_feature(registry: Berth) -> None:
    r = await registry.http.get(f"{API}/user/namespacenotifications", headers=await h(registry))
    assert r.status_code == 404


async def test_image_expiry_sweep(berth: Berth, receiver: HttpReceiver) -> None:
    await push(berth)
    await push(berth, "soon")
    await create(
        berth,
        {
            "event": "repo_image_expiry",
            "method": "webhook",
            "config": {"url": receiver.url("/exp")},
            "eventConfig": {"days": 2},
        },
    )
    r = await berth.http.put(
        f"{REPO}/tag/soon", headers=await h(berth), json={"expiration": int(time.time()) + 86400}
    )
    assert r.status_code in (200, 201), r.text
    deliverer = berth.app.state.services.runner.bindings["notify_expiring_tags"]
    await deliverer.run({})
    await deliverer.run({})  # announced once
    (got,) = await async_wait_for(lambda: receiver.on("/exp"), what="the expiry notice")
    assert got.json()["tags"] == ["soon"]
    assert got.json()["expiring_in"] == "2 days"


async def test_mailing_off_refuses_email_and_hides_its_routes(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_MAILING=False) as b:
        await push(b)
        body = {"event": "repo_push", "method": "email", "config": {"email": "x@example.com"}}
        r = await b.http.post(NOTES, headers=await h(b), json={"eventConfig": {}, **body})
        assert r.status_code == 400
        assert "FEATURE_MAILING" in r.json()["detail"]
        r = await b.http.get(f"{REPO}/authorizedemail/x@example.com", headers=await h(b))
        assert r.status_code == 404
        r = await b.http.post(f"{API}/recovery", json={"email": "x@example.com"})
        assert r.status_code == 404


async def test_org_target_reaches_the_organization_admins(berth: Berth) -> None:
    await create_org(berth, "acme")
    await berth.client("alice").push_image("acme/app", "latest")
    base = f"{API}/repository/acme/app/notification/"
    await create(berth, target("org", "acme"), base=base)
    await berth.client("alice").push_image("acme/app", "v1")

    async def bell() -> list[dict[str, Any]]:
        r = await berth.http.get(f"{API}/user/notifications", headers=await h(berth))
        return list(r.json()["notifications"])

    (note,) = await eventually(bell, "alice's notification")
    assert note["organization"] == "acme"
    assert note["metadata"]["repository"] == "acme/app"
    r = await berth.http.get(f"{API}/user/notifications", headers=await h(berth, "bob"))
    assert r.json()["notifications"] == []


async def test_vulnerability_level_filter_through_notify(
    berth: Berth, receiver: HttpReceiver
) -> None:
    from berth.notifications.events import RepoRef, vulnerability_data
    from berth.notifications.hooks import notify

    await push(berth)
    body = {**webhook(receiver.url("/vuln")), "event": "vulnerability_found"}
    made = await create(berth, {**body, "eventConfig": {"level": "2"}})  # High or worse
    assert made["event_config"] == {"level": "2"}
    repo = RepoRef("alice", "app", "localhost:5000", BASE_URL)

    def vuln(priority: str) -> dict[str, Any]:
        return vulnerability_data(
            repo, ["latest"], vuln_id=f"CVE-{priority}", description="d", link="http://x",
            priority=priority, has_fix=False,
        )  # fmt: skip

    async with berth.services.db.write() as s:
        repo_id = (await s.execute(text("SELECT id FROM repositories WHERE name = 'app'"))).scalar()
        assert await notify(s, "vulnerability_found", repository_id=repo_id, data=vuln("Low")) == 0
        assert (
            await notify(s, "vulnerability_found", repository_id=repo_id, data=vuln("Critical"))
            == 1
        )
    (got,) = await async_wait_for(lambda: receiver.on("/vuln"), what="the vulnerability")
    assert got.json()["vulnerability"]["id"] == "CVE-Critical"


async def test_team_target_reaches_each_member(berth: Berth) -> None:
    await create_org(berth, "acme")
    team = f"{API}/organization/acme/team/devs"
    r = await berth.http.put(team, headers=await h(berth), json={"role": "member"})
    assert r.status_code == 200, r.text
    r = await berth.http.put(team + "/members/alice", headers=await h(berth))
    assert r.status_code == 200, r.text
    await berth.client("alice").push_image("acme/app", "latest")
    await create(berth, target("team", "devs"), base=f"{API}/repository/acme/app/notification/")
    await berth.client("alice").push_image("acme/app", "v1")

    async def bell() -> list[dict[str, Any]]:
        r = await berth.http.get(f"{API}/user/notifications", headers=await h(berth))
        return [n for n in r.json()["notifications"] if n["kind"] == "repo_push"]

    (note,) = await eventually(bell, "the team member's notification")
    assert note["organization"] == "acme"
    assert note["metadata"]["updated_tags"] == ["v1"]
