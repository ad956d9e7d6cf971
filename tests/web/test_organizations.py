"""Organization, user-settings and superuser flows in chromium against a real ``berth
serve``: create a user in the superuser panel and change its password (seed 002, 1.2);
create an organization (1.3); create a robot, grant it write, copy its credentials from the
page and push with podman (3.2); create a team, add a robot and a user, give the team a
repository permission (3.3); generate an OAuth token in the UI and use it on /api/v1; the
invited user's bell and dismissing the invitation with htmx.
Screenshots go to docs/ui/*.png."""

from __future__ import annotations

import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.web.conftest import BOB, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]
ROOT = ("root", "root-password-1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    runroot = tempfile.mkdtemp(prefix="berth-web-", dir="/tmp")
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def create_org(page: Any, server: BerthServer, name: str = "acme") -> None:
    page.get_by_label("Create new").click()
    page.get_by_role("menuitem", name="New organization").click()
    page.wait_for_url(f"{server.url}/organizations/new")
    page.get_by_label("Organization name").fill(name)
    page.get_by_label("Contact e-mail").fill(f"{name}@example.com")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(f"{server.url}/organization/{name}")


def test_superuser_creates_a_user_and_changes_its_password(
    page: Any, berth_factory: StartServer, tmp_path: Path, shot: Shot
) -> None:
    server = berth_factory({**embedded_config(tmp_path), "SUPER_USERS": ["root"]}, name="su")
    server.create_user(*ROOT, superuser=True)
    sign_in(page, server, ROOT)
    page.get_by_role("link", name="Superuser").click()
    page.wait_for_url(f"{server.url}/superuser")
    page.get_by_label("User name").fill("carol")
    page.get_by_label("E-mail", exact=True).fill("carol@example.com")
    page.get_by_role("button", name="Create user").click()
    initial = page.get_by_role("textbox", name="initial password").input_value()
    assert len(initial) == 32
    page.get_by_role("link", name="Back to the superuser panel").click()
    page.get_by_text("Manage carol").click()
    page.get_by_label("New password of carol").fill("carol-password-2")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{server.url}/superuser")
    assert "Password changed: carol." in page.get_by_role("status").first.inner_text()
    shot(page, "superuser")
    page.get_by_label("User menu for root").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{server.url}/signin")
    sign_in(page, server, ("carol", "carol-password-2"))
    page.get_by_label("User menu for carol").click()
    page.get_by_role("menuitem", name="Account settings").click()
    page.wait_for_url(f"{server.url}/user/carol?tab=settings")
    assert page.get_by_role("heading", name="CLI password").is_visible()
    shot(page, "user-settings")


def test_organization_robot_push_team_and_oauth_token(
    page: Any, server: BerthServer, tmp_path: Path, store: list[str], shot: Shot
) -> None:
    sign_in(page, server)
    create_org(page, server)
    assert page.get_by_role("heading", name="No repositories yet").is_visible()
    page.goto(f"{server.url}/new?namespace=acme")
    page.get_by_label("Repository name").fill("app")
    page.get_by_role("button", name="Create repository").click()
    page.wait_for_url(f"{server.url}/repository/acme/app")
    page.goto(f"{server.url}/organization/acme")
    shot(page, "organization")

    # 3.2: a robot with write on acme/app, its credentials copied from the page
    page.get_by_role("tab", name="Robot accounts").click()
    page.get_by_label("Robot name").fill("ci")
    page.get_by_label("Description").fill("pushes from CI")
    page.get_by_role("button", name="Create robot account").click()
    page.wait_for_url(f"{server.url}/organization/acme/robots/ci")
    page.get_by_label("Repository in acme").fill("app")
    page.get_by_label("Permission").select_option("write")
    page.get_by_role("button", name="Set permission").click()
    page.wait_for_url(f"{server.url}/organization/acme/robots/ci")
    assert page.get_by_role("cell", name="write").is_visible()
    page.get_by_role("link", name="Show the token and credentials").click()
    page.get_by_role("button", name="Copy Podman login").click()
    login = page.get_by_label("Podman login", exact=True).input_value()
    assert "kind: Secret" in page.get_by_label("Kubernetes secret", exact=True).input_value()
    shot(page, "robot")
    args = shlex.split(login)
    user = next(a for a in args if a.startswith("-u=")).removeprefix("-u=")
    token = next(a for a in args if a.startswith("-p=")).removeprefix("-p=")
    assert user == "acme+ci"
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=3)
    image_id = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.split()[-1]
    run("podman", *store, "push", "--tls-verify=false", "--creds", f"{user}:{token}", image_id,
        f"docker://{server.host}/acme/app:v1", check=True)  # fmt: skip
    page.goto(f"{server.url}/repository/acme/app?tab=tags")
    assert "v1" in page.locator("#tags-table").inner_text()

    # 3.3: a team with the robot and bob, and a repository permission
    page.goto(f"{server.url}/organization/acme?tab=teams")
    page.get_by_label("Team name").fill("devs")
    page.get_by_label("Team role").select_option("member")
    page.get_by_role("button", name="Create team").click()
    page.wait_for_url(f"{server.url}/organization/acme/teams/devs")
    for member in ("acme+ci", BOB[0]):
        page.get_by_label("User or robot").fill(member)
        page.get_by_role("button", name="Add member").click()
        page.wait_for_url(f"{server.url}/organization/acme/teams/devs")
    members = page.get_by_role("grid", name="Team members").inner_text()
    assert "acme+ci" in members
    assert "bob" in members
    page.get_by_label("Repository in acme").fill("app")
    page.get_by_label("Permission").select_option("read")
    page.get_by_role("button", name="Grant permission").click()
    page.wait_for_url(f"{server.url}/organization/acme/teams/devs")
    perms = page.get_by_role("grid", name="Repository permissions of the team").inner_text()
    assert "app" in perms
    assert "read" in perms
    shot(page, "team")

    # generate an OAuth token and use it on /api/v1
    page.goto(f"{server.url}/organization/acme?tab=applications")
    page.get_by_label("Application name").fill("automation")
    page.get_by_role("button", name="Create application").click()
    page.get_by_label("View all visible repositories").check()
    page.get_by_label("Read User Information").check()
    page.get_by_role("button", name="Generate access token").click()
    bearer = page.get_by_role("textbox", name="access token").input_value()
    shot(page, "oauth-token")
    r = httpx.get(f"{server.url}/api/v1/user/", headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 200
    assert r.json()["username"] == ALICE[0]
    r = httpx.get(
        f"{server.url}/api/v1/repository/acme/app", headers={"Authorization": f"Bearer {bearer}"}
    )
    assert r.status_code == 200

    # bob's bell: the team invitation, dismissed with htmx
    page.get_by_label(f"User menu for {ALICE[0]}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{server.url}/signin")
    sign_in(page, server, BOB)
    expect(page.locator(".berth-bell-count")).to_contain_text("1")
    page.get_by_role("link", name="Notifications", exact=True).first.click()
    page.wait_for_url(f"{server.url}/notifications")
    row = page.get_by_role("row").filter(has_text="invited you to the team devs of acme")
    assert row.get_by_role("link", name="Accept").is_visible()
    shot(page, "notifications")
    row.get_by_role("button", name="Dismiss").click()
    expect(row).to_contain_text("dismissed")
    assert page.url == f"{server.url}/notifications"  # swapped in place
