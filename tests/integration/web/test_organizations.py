"""The organization pages over ASGI: creating an organization, its tabs, teams and
membership, robot accounts and their credentials, default permissions, OAuth applications
and the token they generate, settings; and the API's refusals for anyone else."""

from __future__ import annotations

import html
import re

from tests.integration.conftest import Berth
from tests.integration.web.conftest import Browser

TOKEN_FIELD = re.compile(r'id="access-token" value="([^"]+)"')
ROBOT_TOKEN_FIELD = re.compile(r'id="robot-token" value="([^"]+)"')


async def _org(browser: Browser, name: str = "acme") -> None:
    await browser.sign_in("alice")
    data = {"name": name, "email": f"{name}@example.com"}
    r = await browser.submit("/organizations/new", "/organizations/new", data)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/organization/{name}"


async def _unused(browser: Browser, r_location: str) -> str:
    return (await browser.get(r_location)).text


async def test_create_an_organization_and_see_its_tabs(browser: Browser) -> None:
    await _org(browser)
    r = await browser.get("/organization/acme")
    assert r.status_code == 200
    assert "Organization acme created." in r.text
    for label in ("Repositories", "Teams and membership", "Robot accounts", "OAuth applications"):
        assert label in r.text
    r = await browser.get("/organization/acme?tab=teams")
    assert 'href="/organization/acme/teams/owners"' in r.text
    r = await browser.get("/organization/")
    assert 'href="/organization/acme"' in r.text


async def test_new_organization_refusals_show_next_to_the_field(browser: Browser) -> None:
    r = await browser.get("/organizations/new")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/signin?next=")
    await _org(browser)
    r = await browser.submit("/organizations/new", "/organizations/new", {"name": "acme"})
    assert r.status_code == 400
    assert 'aria-invalid="true"' in r.text
    r = await browser.submit("/organizations/new", "/organizations/new", {"name": "x" * 300})
    assert r.status_code == 400
    assert "At most 255 characters." in r.text
    r = await browser.submit("/organizations/new", "/organizations/new", {"name": "Bad Name!"})
    assert r.status_code == 400
    await browser.get("/organizations/new")
    r = await browser.http.post("/organizations/new", data={"name": "nocsrf"})
    assert r.status_code == 403


async def test_outsiders_get_the_apis_answers_and_no_controls(
    browser: Browser, other_browser: Browser
) -> None:
    await _org(browser)
    await other_browser.sign_in("bob")
    for url in (
        "/organization/acme",
        "/organization/acme/teams/owners",
        "/organization/acme/robots/ci",
    ):
        r = await other_browser.get(url)
        assert r.status_code == 403, url
    api = await other_browser.get(
        "/api/v1/organization/acme/robots", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert api.status_code == 403
    # bob's CSRF token is valid for bob's session, the organization still refuses him
    for action, data in (
        ("/organization/acme/teams", {"name": "mine", "role": "admin"}),
        ("/organization/acme/robots", {"name": "mine"}),
        ("/organization/acme/delete", {"confirm": "acme"}),
    ):
        r = await other_browser.submit("/repository/", action, data)
        assert r.status_code == 403, action
    r = await browser.get("/organization/acme?tab=teams")
    assert "mine" not in r.text


async def test_teams_members_and_repository_permissions(browser: Browser, registry: Berth) -> None:
    await _org(browser)
    r = await browser.submit("/new", "/new", {"namespace": "acme", "name": "app"})
    assert r.status_code == 303
    r = await browser.submit(
        "/organization/acme?tab=robots", "/organization/acme/robots", {"name": "ci"}
    )
    assert r.status_code == 303
    r = await browser.submit(
        "/organization/acme?tab=teams",
        "/organization/acme/teams",
        {"name": "devs", "role": "creator", "description": "builders"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/organization/acme/teams/devs"
    page = "/organization/acme/teams/devs"
    r = await browser.submit(page, page + "/members", {"member": "acme+ci"})
    assert r.status_code == 303
    r = await browser.submit(page, page + "/members", {"member": "bob"})
    assert r.status_code == 303
    r = await browser.get(page)
    assert "acme+ci" in r.text
    assert "bob" in r.text
    api = await browser.get(
        "/api/v1/organization/acme/team/devs/members?includePending=true",
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    members = {m["name"]: m for m in api.json()["members"]}
    assert members["acme+ci"]["invited"] is False  # robots join at once
    assert re.search(r"bob</td>.*?(invited|member)</span>", r.text, re.S)
    assert ">invited<" in r.text if members["bob"]["invited"] else ">invited<" not in r.text
    r = await browser.submit(page, page + "/members", {"member": "nobody-here"})
    r = await browser.get(r.headers["location"])
    assert "Unknown user" in r.text  # the service's refusal, flashed
    r = await browser.submit(page, page + "/permissions", {"repository": "app", "role": "write"})
    assert r.status_code == 303
    r = await browser.get(page)
    assert re.search(r">app</td>\s*<td[^>]*>write</td>", r.text), r.text
    api = await browser.get(
        "/api/v1/repository/acme/app/permissions/team/devs",
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert api.json() == {"role": "write"}
    r = await browser.submit(page, page + "/permissions", {"repository": "nope", "role": "read"})
    r = await browser.get(r.headers["location"])
    assert "No repository acme/nope you administer." in r.text


async def test_robot_token_only_on_request_with_every_credential_format(
    browser: Browser,
) -> None:
    await _org(browser)
    await browser.submit("/new", "/new", {"namespace": "acme", "name": "app"})
    r = await browser.submit(
        "/organization/acme?tab=robots",
        "/organization/acme/robots",
        {"name": "ci", "description": "the CI"},
    )
    assert r.headers["location"] == "/organization/acme/robots/ci"
    r = await browser.get("/organization/acme/robots/ci")
    assert r.headers["cache-control"] == "no-store"
    assert "the CI" in r.text
    assert "robot-token" not in r.text
    api = await browser.get(
        "/api/v1/organization/acme/robots/ci", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    token = api.json()["token"]
    assert token not in r.text
    r = await browser.get("/organization/acme/robots/ci?show=token")
    assert r.headers["cache-control"] == "no-store"
    text = html.unescape(r.text)
    assert ROBOT_TOKEN_FIELD.search(r.text).group(1) == token  # type: ignore[union-attr]
    assert f"podman login -u='acme+ci' -p='{token}'" in text
    assert f"docker login -u='acme+ci' -p='{token}'" in text
    assert "kind: Secret" in text
    assert '"rktKind": "auth"' in text
    assert "Mesos" in text
    assert '"auths"' in text
    r = await browser.submit(
        "/organization/acme/robots/ci",
        "/organization/acme/robots/ci/regenerate",
        {},
    )
    assert r.headers["location"] == "/organization/acme/robots/ci?show=token"
    r = await browser.get(r.headers["location"])
    new = ROBOT_TOKEN_FIELD.search(r.text).group(1)  # type: ignore[union-attr]
    assert new != token
    r = await browser.submit(
        "/organization/acme/robots/ci",
        "/organization/acme/robots/ci/permissions",
        {"repository": "app", "role": "write"},
    )
    r = await browser.get(r.headers["location"])
    assert re.search(r">app</a></td>\s*<td[^>]*>write</td>", r.text), r.text
    r = await browser.get("/organization/acme?tab=robots")
    assert "acme+ci" in r.text
    assert new not in r.text


async def test_default_permissions(browser: Browser) -> None:
    await _org(browser)
    r = await browser.submit(
        "/organization/acme?tab=defaults",
        "/organization/acme/prototypes",
        {"delegate_kind": "team", "delegate": "owners", "role": "write", "activating_user": ""},
    )
    r = await browser.get(r.headers["location"])
    assert "Default permission added." in r.text
    assert re.search(r"team owners</td>\s*<td[^>]*>write</td>", r.text), r.text
    proto = re.search(r"/organization/acme/prototypes/([^/]+)/delete", r.text)
    assert proto
    r = await browser.submit(
        "/organization/acme?tab=defaults",
        f"/organization/acme/prototypes/{proto.group(1)}/delete",
        {},
    )
    r = await browser.get(r.headers["location"])
    assert "team owners" not in r.text


async def test_oauth_application_generates_a_token_the_api_accepts(
    browser: Browser, other_browser: Browser, registry: Berth
) -> None:
    await _org(browser)
    r = await browser.submit(
        "/organization/acme?tab=applications",
        "/organization/acme/applications",
        {"name": "cli", "application_uri": "https://example.com/"},
    )
    assert r.status_code == 303
    app_url = r.headers["location"]
    client_id = app_url.rsplit("/", 1)[1]
    r = await browser.get(app_url)
    assert r.headers["cache-control"] == "no-store"
    assert 'id="client-secret"' not in r.text
    r = await browser.get(app_url + "?show=secret")
    assert 'id="client-secret"' in r.text
    r = await browser.submit(app_url, app_url + "/token", {})
    r = await browser.get(r.headers["location"])
    assert "Tick at least one scope." in r.text
    r = await browser.submit(
        app_url, app_url + "/token", {"scope:user:read": "on", "scope:repo:read": "on"}
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    token = TOKEN_FIELD.search(r.text).group(1)  # type: ignore[union-attr]
    api = await registry.http.get("/api/v1/user/", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert api.json()["username"] == "alice"
    # user:read only: creating an organization needs user:admin
    api = await registry.http.post(
        "/api/v1/organization/",
        json={"name": "other"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 403
    # edit and reset the secret
    r = await browser.submit(
        app_url, app_url, {"name": "cli2", "application_uri": "", "redirect_uri": ""}
    )
    r = await browser.get(r.headers["location"])
    assert "cli2" in r.text
    old = re.search(
        r'id="client-secret" value="([^"]+)"', (await browser.get(app_url + "?show=secret")).text
    )
    r = await browser.submit(app_url, app_url + "/reset", {})
    r = await browser.get(r.headers["location"])
    new = re.search(r'id="client-secret" value="([^"]+)"', r.text)
    assert old
    assert new
    assert old.group(1) != new.group(1)
    await other_browser.sign_in("bob")
    assert (await other_browser.get(app_url)).status_code == 403
    r = await other_browser.submit("/repository/", app_url + "/token", {"scope:repo:read": "on"})
    assert r.status_code == 403
    assert client_id


async def test_settings_and_delete(browser: Browser) -> None:
    await _org(browser)
    r = await browser.submit(
        "/organization/acme?tab=settings",
        "/organization/acme/settings",
        {"email": "acme@example.com"},
    )
    r = await browser.get(r.headers["location"])
    assert 'value="acme@example.com"' in r.text
    r = await browser.submit(
        "/organization/acme?tab=settings", "/organization/acme/delete", {"confirm": "wrong"}
    )
    r = await browser.get(r.headers["location"])
    assert "Type the organization" in r.text
    r = await browser.submit(
        "/organization/acme?tab=settings", "/organization/acme/delete", {"confirm": "acme"}
    )
    assert r.headers["location"] == "/repository/"
    r = await browser.get("/organization/acme")
    assert r.status_code in (403, 404)
