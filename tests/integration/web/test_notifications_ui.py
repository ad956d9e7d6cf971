"""The bell and password recovery in the web UI over ASGI, with a real SMTP sink: a team
invitation shows in the invitee's notifications (count in the bell, dismissed with htmx);
the recovery e-mail's link opens /recovery?code= which sets a new password once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import BASE_URL, Berth
from tests.integration.web.conftest import Browser, csrf_of
from tests.support.receivers import SmtpSink, async_wait_for, smtp_sink, text_of


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
async def berth(configured, sink: SmtpSink) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]  # noqa: F811
    async with configured(**sink.config()) as b:
        yield b


@pytest.fixture
async def browsers(berth: Berth) -> AsyncIterator[Callable[[], Browser]]:
    made: list[httpx.AsyncClient] = []

    def make() -> Browser:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=berth.app), base_url=BASE_URL)
        made.append(c)
        return Browser(c)

    yield make
    for c in made:
        await c.aclose()


async def test_a_team_invitation_rings_the_bell_and_is_dismissed(
    berth: Berth, browsers: Callable[[], Browser]
) -> None:
    bob_user = await berth.services.accounts.get_user("bob")
    assert bob_user is not None
    await berth.services.accounts.update_user(bob_user.id, email="bob@example.com")
    alice, bob = browsers(), browsers()
    await alice.sign_in("alice")
    await bob.sign_in("bob")
    r = await bob.get("/notifications/badge")
    assert "unread" not in r.text
    r = await alice.submit(
        "/organizations/new", "/organizations/new", {"name": "acme", "email": "a@acme.org"}
    )
    assert r.status_code == 303
    await alice.submit("/organization/acme?tab=teams", "/organization/acme/teams",
                       {"name": "devs", "role": "member"})  # fmt: skip
    page = "/organization/acme/teams/devs"
    r = await alice.submit(page, page + "/members", {"member": "bob"})
    r = await alice.get(r.headers["location"])
    assert "bob is invited to the team" in r.text
    assert ">invited<" in r.text

    r = await bob.get("/repository/")
    assert 'hx-get="/notifications/badge"' in r.text
    r = await bob.get("/notifications/badge")
    assert re.search(r">1</span>.*unread", r.text)
    r = await bob.get("/notifications")
    assert "alice invited you to the team devs of acme." in r.text
    assert "/confirminvite?code=" in r.text
    uuid = re.search(r'id="notification-([^"]+)"', r.text)
    assert uuid
    r = await bob.http.post(
        f"/notifications/{uuid.group(1)}/dismiss",
        headers={"X-CSRF-Token": csrf_of(r.text), "HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith(f'<tr role="row" id="notification-{uuid.group(1)}"')
    assert "dismissed" in r.text
    r = await bob.get("/notifications/badge")
    assert "unread" not in r.text
    # alice can't dismiss bob's notification
    page_a = await alice.get("/notifications")
    r = await alice.http.post(
        f"/notifications/{uuid.group(1)}/dismiss", data={"_csrf_token": csrf_of(page_a.text)}
    )
    r = await alice.get(r.headers["location"])
    assert "No such notification." in r.text


async def test_password_recovery_page(
    berth: Berth, sink: SmtpSink, browsers: Callable[[], Browser]
) -> None:
    bob_user = await berth.services.accounts.get_user("bob")
    assert bob_user is not None
    await berth.services.accounts.update_user(bob_user.id, email="bob@example.com")
    anon = browsers()
    r = await anon.get("/signin")
    assert 'href="/recovery"' in r.text
    r = await anon.submit("/recovery", "/recovery/request", {"email": "bob@example.com"})
    assert r.status_code == 303
    r = await anon.get(r.headers["location"])
    assert "a recovery e-mail is on its way" in r.text
    (mail,) = await async_wait_for(lambda: sink.to("bob@example.com"), what="the recovery e-mail")
    link = re.search(r"http://\S+(/recovery\?code=\S+)", text_of(mail))
    assert link
    r = await anon.get(link.group(1))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    code = re.search(r'name="code" value="([^"]+)"', r.text)
    assert code
    r = await anon.submit(link.group(1), "/recovery", {"code": code.group(1),
                          "password": "brand-new-pass", "password_again": "other"})  # fmt: skip
    assert r.status_code == 400
    assert "The passwords do not match." in r.text
    form = {"code": code.group(1), "password": "brand-new-pass", "password_again": "brand-new-pass"}
    r = await anon.submit(link.group(1), "/recovery", form)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin"
    await browsers().sign_in("bob", "brand-new-pass")
    r = await anon.submit(link.group(1), "/recovery", form)
    assert r.status_code == 400
    assert "Invalid or expired recovery code" in r.text
