"""The identity providers in the web UI, over ASGI against real providers: LDAP sign-in
through the ordinary form (a real slapd), the "Sign in with <provider>" buttons and the
OpenID Connect flow (the real oidc-provider), the external login on the user's settings,
and team sync on the team page (membership read-only while the team is synced)."""

from __future__ import annotations

import contextlib
import html
import re
import secrets
from collections.abc import Callable

import httpx
import pytest

from berth.identity.tasks import SyncTeams, sync_teams
from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.conftest import BASE_URL, Berth
from tests.integration.web.conftest import Browser, csrf_of
from tests.support.ldap import GROUPS, Slapd, password_of, user_dn
from tests.support.oidc import OidcProvider, drive_login

pytestmark = pytest.mark.slow

Configured = Callable[..., contextlib.AbstractAsyncContextManager[Berth]]


def _browser(berth: Berth) -> Browser:
    """A cookie jar that reaches Berth in-process and the OIDC provider over the network."""
    return Browser(
        httpx.AsyncClient(
            mounts={BASE_URL: httpx.ASGITransport(app=berth.app)},
            base_url=BASE_URL,
            timeout=30,
        )
    )


def _text(page: httpx.Response) -> str:
    """The page's text without tags (whitespace collapsed)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.text)))


# ------------------------------------------------------------------------------- LDAP


async def test_ldap_user_signs_in_through_the_form(
    configured: Configured,  # noqa: F811
    slapd: Slapd,
) -> None:
    async with configured(**slapd.config()) as berth:
        b = _browser(berth)
        async with b.http:
            page = await b.get("/signin")
            assert "Your directory user name or e-mail address" in page.text
            assert "Create account" not in page.text  # the directory owns sign-up
            assert "Sign in with" not in page.text  # no OIDC login service configured
            for name, password in [
                ("lara", "wrong-password"),
                ("*)(uid=*", "whatever"),
                ("nina", password_of("nina")),  # outside LDAP_USER_FILTER
            ]:
                r = await b.submit("/signin", "/signin", {"username": name, "password": password})
                assert r.status_code == 403, (name, r.text[:200])
                assert "Invalid Username or Password" in r.text
            r = await b.submit(
                "/signin", "/signin", {"username": "lara", "password": password_of("lara")}
            )
            assert r.status_code == 303
            assert r.headers["location"] == "/repository/"

            settings = await b.get("/user/lara?tab=settings")
            assert settings.status_code == 200
            text = _text(settings)
            assert "External logins" in text
            assert "LDAP directory LDAP lara" in text
            # the directory checks the password: no password change, the CLI password works
            assert "Change password" not in text
            assert "Generate encrypted password" in text


async def test_team_sync_on_the_team_page(
    configured: Configured,  # noqa: F811
    slapd: Slapd,
) -> None:
    group = f"team-{secrets.token_hex(4)}"
    slapd.add(
        f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n"
        f"member: {user_dn('lara')}\nmember: {user_dn('mike')}\n"
    )
    config = slapd.config(FEATURE_TEAM_SYNCING=True, LDAP_CACHE_TTL=0)
    async with configured(**config) as berth:
        svc = berth.services
        b = _browser(berth)
        async with b.http:
            await b.sign_in("olga", password_of("olga"))  # superuser by LDAP_SUPERUSER_FILTER
            org = {"name": "lab", "email": "lab@example.org"}
            r = await b.submit("/organizations/new", "/organizations/new", org)
            assert r.status_code == 303, r.text
            await svc.teams.create_or_update("lab", "devs", role="member")
            await svc.robots.create("lab", "builder", performer="olga")
            team_url = "/organization/lab/teams/devs"

            page = await b.get(team_url)
            assert "Directory synchronization" in page.text
            assert "dc=example,dc=org" in page.text  # the base DN the group is under
            assert 'id="team-synced"' not in page.text

            r = await b.submit(team_url, team_url + "/sync", {"group_dn": "cn=nope,ou=groups"})
            assert r.status_code == 303
            page = await b.get(team_url)
            assert "Could not sync to group:" in _text(page)
            assert 'id="team-synced"' not in page.text

            r = await b.submit(team_url, team_url + "/sync", {"group_dn": f"cn={group},ou=groups"})
            assert r.status_code == 303
            assert svc.teamsync is not None
            await sync_teams(SyncTeams(), svc.teamsync)
            page = await b.get(team_url)
            text = _text(page)
            assert 'id="team-synced"' in page.text
            assert "synchronized" in text
            assert f"Members follow the LDAP group cn={group},ou=groups" in text
            names = {m.name for m in await svc.teams.members("lab", "devs")}
            assert names == {"lara", "mike"}
            # users can't be removed or added by hand while synced (no button, and the
            # form posted anyway is refused with the API's answer); robots can
            assert 'name="member" value="mike"' not in page.text
            for action, member in [("/members/remove", "mike"), ("/members", "olga")]:
                r = await b.submit(team_url, team_url + action, {"member": member})
                assert r.status_code == 303
                assert "Cannot call this method on an auth-synced team" in _text(
                    await b.get(team_url)
                )
            assert {m.name for m in await svc.teams.members("lab", "devs")} == {"lara", "mike"}
            r = await b.submit(team_url, team_url + "/members", {"member": "lab+builder"})
            assert r.status_code == 303
            names = {m.name for m in await svc.teams.members("lab", "devs")}
            assert names == {"lara", "mike", "lab+builder"}

            r = await b.submit(team_url, team_url + "/sync/remove", {})
            assert r.status_code == 303
            page = await b.get(team_url)
            assert 'id="team-synced"' not in page.text
            assert "Directory synchronization" in page.text
            assert {m.name for m in await svc.teams.members("lab", "devs")} >= {"lara", "mike"}


async def test_team_sync_setup_needs_a_superuser(
    configured: Configured,  # noqa: F811
    slapd: Slapd,
) -> None:
    """Without FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP an organization admin who is not a
    superuser sees no sync form, and posting it anyway is refused as the API refuses."""
    config = slapd.config(FEATURE_TEAM_SYNCING=True, LDAP_CACHE_TTL=0)
    async with configured(**config) as berth:
        b = _browser(berth)
        async with b.http:
            await b.sign_in("lara", password_of("lara"))
            org = {"name": "larasorg", "email": "larasorg@example.org"}
            r = await b.submit("/organizations/new", "/organizations/new", org)
            assert r.status_code == 303, r.text
            await berth.services.teams.create_or_update("larasorg", "devs", role="member")
            team_url = "/organization/larasorg/teams/devs"
            page = await b.get(team_url)
            assert page.status_code == 200
            assert "Directory synchronization" not in page.text
            r = await b.http.post(
                team_url + "/sync",
                data={"_csrf_token": csrf_of(page.text), "group_dn": "cn=devs,ou=groups"},
            )
            assert r.status_code == 403
            assert berth.services.teamsync is not None
            assert not await berth.services.teamsync.is_synced("larasorg", "devs")


# ------------------------------------------------------------------------ OpenID Connect


async def test_sign_in_with_the_provider_button(
    configured: Configured,  # noqa: F811
    oidc_provider: OidcProvider,
) -> None:
    icon = "https://icons.example.org/testidp.svg"
    async with configured(
        TESTIDP_LOGIN_CONFIG=oidc_provider.login_config(SERVICE_ICON=icon),
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
    ) as berth:
        b = _browser(berth)
        async with b.http:
            page = await b.get("/signin?next=/organizations/new")
            assert page.status_code == 200
            assert "Sign in with Test IdP" in _text(page)
            assert f'src="{icon}"' in page.text
            assert "https://icons.example.org" in page.headers["content-security-policy"]
            assert 'action="/signin"' in page.text  # FEATURE_DIRECT_LOGIN: the form stays
            href = re.search(r'href="(/oauth2/testidp/login\?[^"]+)"', page.text)
            assert href is not None
            assert html.unescape(href.group(1)) == (
                "/oauth2/testidp/login?redirect=%2Forganizations%2Fnew"
            )

            b.http.follow_redirects = True  # through the provider's pages, as a browser
            last = await drive_login(b.http, BASE_URL + html.unescape(href.group(1)), "carla")
            b.http.follow_redirects = False
            assert str(last.url) == f"{BASE_URL}/organizations/new", last.text[:300]
            assert last.status_code == 200

            me = (await b.get("/api/v1/user/")).json()
            assert me["username"] == "carla"
            assert me["logins"] == [
                {
                    "service": "testidp",
                    "service_identifier": "carla",
                    "metadata": {"issuer": oidc_provider.issuer},
                }
            ]
            settings = await b.get("/user/carla?tab=settings")
            text = _text(settings)
            assert "Test IdP OpenID Connect carla" in text
            assert "create an app-specific token" in text  # no password of its own
            assert "Generate encrypted password" not in text


async def test_direct_login_off_leaves_only_the_providers(
    configured: Configured,  # noqa: F811
    oidc_provider: OidcProvider,
) -> None:
    async with configured(
        TESTIDP_LOGIN_CONFIG=oidc_provider.login_config(),
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
        FEATURE_DIRECT_LOGIN=False,
    ) as berth:
        page = await berth.http.get("/signin")
        assert "Sign in with Test IdP" in _text(page)
        assert 'action="/signin"' not in page.text
        assert "fa-key" in page.text  # no SERVICE_ICON: the generic icon


# ------------------------------------------------------------------- robot federation


async def test_robot_federation_on_the_robot_page(
    registry: Berth, browser: Browser, other_browser: Browser
) -> None:
    svc = registry.services
    await svc.orgs.create("fedorg", creator="alice", email="fedorg@example.org")
    await svc.robots.create("fedorg", "ci", performer="alice")
    url = "/organization/fedorg/robots/ci"
    issuer = "https://token.actions.githubusercontent.com"
    await browser.sign_in("alice")
    page = await browser.get(url)
    assert "Identity federation" in page.text
    assert "No federation yet." in page.text

    for form, refusal in [
        ({"issuer": "ftp://ci.example.org", "subject": "x"}, "Issuer must be a URL"),
        ({"issuer": issuer, "subject": ""}, "Missing one or more required fields"),
    ]:
        r = await browser.submit(url, url + "/federation", form)
        assert r.status_code == 303
        assert refusal in _text(await browser.get(url))
    assert await svc.robots.federation("fedorg", "ci") == []

    for subject in ("repo:fedorg/app:ref:refs/heads/main", "repo:fedorg/app:environment:prod"):
        r = await browser.submit(url, url + "/federation", {"issuer": issuer, "subject": subject})
        assert r.status_code == 303
    r = await browser.submit(
        url, url + "/federation", {"issuer": issuer, "subject": "repo:fedorg/app:environment:prod"}
    )
    assert "Duplicate federation config entry" in _text(await browser.get(url))
    page = await browser.get(url)
    assert "fedorg+ci:$CI_OIDC_TOKEN" in html.unescape(page.text)
    assert len(await svc.robots.federation("fedorg", "ci")) == 2

    r = await browser.submit(
        url,
        url + "/federation/remove",
        {"issuer": issuer, "subject": "repo:fedorg/app:ref:refs/heads/main"},
    )
    assert r.status_code == 303
    assert await svc.robots.federation("fedorg", "ci") == [
        {"issuer": issuer, "subject": "repo:fedorg/app:environment:prod"}
    ]

    # not an admin of the organization: refused as the API refuses
    await other_browser.sign_in("bob")
    signin = await other_browser.get("/repository/")  # any page: its sign-out form
    r = await other_browser.http.post(
        url + "/federation",
        data={"_csrf_token": csrf_of(signin.text), "issuer": issuer, "subject": "evil"},
    )
    assert r.status_code == 403
    assert len(await svc.robots.federation("fedorg", "ci")) == 1
