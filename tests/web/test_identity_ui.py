"""Signing in through an OpenID Connect provider in chromium, against a real ``berth serve``
and a real provider (the npm ``oidc-provider`` on nodejs, tests/support/oidc.py): the
"Sign in with <provider>" button, the provider's login and consent pages, the linked login
on the user settings, and a team synchronized with the provider's group claim whose
membership follows the user's next sign-in. Screenshots go to docs/ui/*.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devservers import free_port
from tests.conftest import embedded_config
from tests.e2e.conftest import BerthServer, StartServer
from tests.support.devservers import running
from tests.support.oidc import OidcProvider

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


@pytest.fixture
def idp_server(berth_factory: StartServer, tmp_path: Path) -> Iterator[BerthServer]:
    """``berth serve`` with the login service ``testidp``: a provider of its own, whose
    client may redirect to this server's port (chosen before either starts)."""
    port = free_port()
    provider = OidcProvider(tmp_path / "oidc", [f"http://127.0.0.1:{port}/oauth2/testidp/callback"])
    with running(provider):
        config = {
            **embedded_config(tmp_path),
            "TESTIDP_LOGIN_CONFIG": provider.login_config(
                LOGIN_SCOPES=["openid", "email", "profile", "groups"],
                PREFERRED_GROUP_CLAIM_NAME="groups",
            ),
            "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
            "FEATURE_TEAM_SYNCING": True,
            "FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP": True,
        }
        yield berth_factory(config, name="idp", port=port)


def sign_in_with_provider(page: Any, server: BerthServer, login: str) -> None:
    """The button, then the provider's own pages (oidc-provider's development login and
    consent forms) when it asks: a provider that remembers the browser skips them."""
    page.goto(f"{server.url}/signin")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    page.wait_for_load_state()
    if "/interaction/" in page.url and page.locator('input[name="login"]').count():
        page.locator('input[name="login"]').fill(login)
        page.locator('input[name="password"]').fill("any-password")
        page.locator('button[type="submit"]').click()
        page.wait_for_load_state()
    if "/interaction/" in page.url:
        page.locator('button[type="submit"]').click()  # consent: "Continue"
    page.wait_for_url(f"{server.url}/repository/")


def test_sign_in_through_the_provider_and_team_sync(
    page: Any, idp_server: BerthServer, shot: Shot
) -> None:
    server = idp_server
    # The provider's development pages load a web font and a favicon it doesn't have:
    # answered here, so the console shows only Berth's own errors (none expected).
    page.route(
        "https://fonts.googleapis.com/**", lambda r: r.fulfill(body="", content_type="text/css")
    )
    page.route("**/favicon.ico", lambda r: r.fulfill(status=204, body=""))
    page.goto(f"{server.url}/signin")
    expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible()
    shot(page, "signin-providers")

    sign_in_with_provider(page, server, "carla")
    page.goto(f"{server.url}/user/carla?tab=settings")
    table = page.get_by_role("grid", name="External logins")
    expect(table).to_contain_text("Test IdP")
    expect(table).to_contain_text("OpenID Connect")
    shot(page, "user-external-login")

    # carla's organization, a team following the group "devs" of the provider's claim
    page.goto(f"{server.url}/organizations/new")
    page.get_by_label("Organization name").fill("lab")
    page.get_by_label("Contact e-mail").fill("lab@example.org")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"{server.url}/organization/lab")
    page.goto(f"{server.url}/organization/lab?tab=teams")
    page.get_by_label("Team name").fill("devs")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(f"{server.url}/organization/lab/teams/devs")
    page.get_by_label("Group name").fill("devs")
    page.get_by_role("button", name="Enable directory synchronization").click()
    page.wait_for_url(f"{server.url}/organization/lab/teams/devs")
    expect(page.locator("#team-synced")).to_contain_text("synchronized")
    expect(page.get_by_role("button", name="Add member")).to_be_visible()  # robots only
    expect(page.get_by_label("Robot")).to_be_visible()

    # carla is in "devs" at the provider: her next sign-in makes her a member
    page.get_by_label("User menu for carla").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{server.url}/signin")
    sign_in_with_provider(page, server, "carla")
    page.goto(f"{server.url}/organization/lab/teams/devs")
    members = page.get_by_role("grid", name="Team members")
    expect(members).to_contain_text("carla")
    expect(members.get_by_role("button", name="Remove")).to_have_count(0)  # read-only
    shot(page, "team-sync")

    # a robot of the organization that CI jobs of the provider's issuer may act as
    page.goto(f"{server.url}/organization/lab?tab=robots")
    page.get_by_label("Robot name").fill("ci")
    page.get_by_role("button", name="Create robot account").click()
    page.wait_for_url(f"{server.url}/organization/lab/robots/ci")
    page.get_by_label("Issuer URL").fill("https://token.actions.githubusercontent.com")
    page.get_by_label("Subject").fill("repo:lab/app:ref:refs/heads/main")
    page.get_by_role("button", name="Add federation").click()
    page.wait_for_url(f"{server.url}/organization/lab/robots/ci")
    federation = page.get_by_role("grid", name="Federation of the robot")
    expect(federation).to_contain_text("repo:lab/app:ref:refs/heads/main")
    page.locator("h2", has_text="Identity federation").evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    shot(page, "robot-federation")
