"""The web UI's foundation flows in chromium against a real ``berth serve``: sign-in and
sign-out, the first-user page, creating a repository, pushing with podman and seeing the
tag, a user without rights, CSRF, and inert descriptions. Each main page is saved to
docs/ui/*.png for docs/ui.md."""

from __future__ import annotations

import re
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
from tests.web.conftest import BOB, Console, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    """Private containers-storage for podman (vfs; the runroot must be short: /tmp)."""
    runroot = tempfile.mkdtemp(prefix="berth-web-", dir="/tmp")
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def create_repository(page: Any, server: BerthServer, name: str, description: str = "") -> None:
    page.goto(f"{server.url}/new")
    page.get_by_label("Repository name").fill(name)
    if description:
        page.get_by_label("Description (Markdown)").fill(description)
    page.get_by_role("button", name="Create repository").click()
    page.wait_for_url(f"{server.url}/repository/alice/{name}")


def test_sign_in_and_sign_out(page: Any, server: BerthServer, shot: Shot, console: Console) -> None:
    page.goto(f"{server.url}/new")
    assert page.url == f"{server.url}/signin?next=%2Fnew"
    shot(page, "signin")
    console.allow("status of 403")  # the failed sign-in's answer, as /api/v1/signin's
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().strip().endswith("Invalid Username or Password")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(ALICE[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/new")
    assert page.get_by_role("heading", name="Create a new repository").is_visible()

    page.get_by_label("User menu for alice").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{server.url}/signin")
    assert "You are signed out." in page.get_by_role("status").inner_text()
    page.goto(f"{server.url}/new")
    assert page.url.startswith(f"{server.url}/signin")


def test_first_user_page(page: Any, berth_factory: StartServer, tmp_path: Path, shot: Shot) -> None:
    empty = berth_factory(
        {**embedded_config(tmp_path), "FEATURE_USER_INITIALIZE": True}, name="empty"
    )
    page.goto(f"{empty.url}/")
    page.goto(f"{empty.url}/signin")
    assert page.get_by_role("heading", name="Create the first user").is_visible()
    shot(page, "first-user")
    page.get_by_label("Username").fill("founder")
    page.get_by_label("E-mail address").fill("founder@example.com")
    page.locator("#field-password").fill("founder-password-1")
    page.get_by_label("Confirm password").fill("founder-password-1")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{empty.url}/repository/")
    assert "Welcome, founder" in page.get_by_role("status").inner_text()
    # Now that a user exists the page is the ordinary sign-in.
    page.get_by_label("User menu for founder").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{empty.url}/signin")
    assert page.get_by_role("heading", name="Sign in to Berth").is_visible()


def test_create_a_repository_push_with_podman_and_see_the_tag(
    page: Any, server: BerthServer, tmp_path: Path, store: list[str], shot: Shot
) -> None:
    sign_in(page, server)
    assert page.get_by_role("heading", name="No repositories yet").is_visible()
    page.get_by_label("Create new").click()
    page.get_by_role("menuitem", name="New repository").click()
    page.wait_for_url(f"{server.url}/new")
    page.get_by_label("Repository name").fill("hello")
    page.get_by_label("Description (Markdown)").fill(
        "# Hello\n\nA *small* image for the **docs**: see [Berth](https://example.com/)."
    )
    page.get_by_label("Public").check()
    shot(page, "new-repository")
    page.get_by_role("button", name="Create repository").click()
    page.wait_for_url(f"{server.url}/repository/alice/hello")
    assert page.get_by_role("heading", name="Hello", exact=True).is_visible()
    commands = page.locator("#push-commands").inner_text()
    assert f"podman push {server.host}/alice/hello:latest" in commands
    shot(page, "repository-empty")

    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(300_000,), seed=7)
    image_id = run("podman", *store, "pull", "-q", layout.reference, check=True).stdout.split()[-1]
    creds = f"{ALICE[0]}:{ALICE[1]}"
    target = f"docker://{server.host}/alice/hello:v1"
    run("podman", *store, "push", "--tls-verify=false", "--creds", creds, image_id, target,
        check=True)  # fmt: skip
    index = write_oci_layout(
        tmp_path / "multi", tag="multi", platforms=("linux/amd64", "linux/arm64")
    )
    run("skopeo", "copy", "--all", "--dest-tls-verify=false", "--dest-creds", creds,
        index.reference, f"docker://{server.host}/alice/hello:multi", check=True)  # fmt: skip

    page.get_by_role("tab", name="Tags").click()
    page.wait_for_url(re.compile(r".*\?tab=tags$"))
    rows = page.locator("#tags-table tbody tr")
    assert rows.count() == 4  # v1, and multi with its two platforms
    text = page.locator("#tags-table").inner_text()
    assert "v1" in text
    assert "linux/amd64" in text
    assert "linux/arm64" in text
    assert "Index" in text
    shot(page, "tags")

    page.get_by_label("Tag name contains").fill("v")
    expect(page.locator("#tags-table tbody tr")).to_have_count(1)
    assert "v1" in page.locator("#tags-table tbody").inner_text()
    assert "tab=tags" in page.url
    assert "filter=v" in page.url

    page.get_by_role("tab", name="Information").click()
    page.wait_for_url(re.compile(r".*\?tab=info$"))
    pull = page.get_by_role("textbox", name="podman pull command")
    assert pull.input_value() == f"podman pull {server.host}/alice/hello"
    page.get_by_role("button", name="Copy podman pull command").click()
    assert page.locator("#push-commands").count() == 0  # no longer empty
    shot(page, "repository-info")

    page.goto(f"{server.url}/repository/")
    page.get_by_role("button", name="Star alice/hello").click()
    page.get_by_role("button", name="Unstar alice/hello").wait_for()
    page.get_by_label("Show").select_option("starred")
    page.get_by_role("button", name="Apply").click()
    assert page.get_by_role("link", name="alice/hello").is_visible()
    page.goto(f"{server.url}/repository/")
    shot(page, "repositories")

    page.get_by_label("Search repositories and users").fill("hel")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/search?q=hel")
    assert page.get_by_role("link", name="alice/hello").is_visible()
    shot(page, "search")


def test_a_user_without_rights_gets_the_api_answer_and_no_controls(
    page: Any, server: BerthServer, console: Console
) -> None:
    sign_in(page, server)
    create_repository(page, server, "private-one")
    page.context.clear_cookies()

    sign_in(page, server, BOB)
    console.allow("status of 403")
    console.allow("status of 404")
    response = page.goto(f"{server.url}/repository/alice/private-one")
    assert response.status == 403
    assert page.get_by_role("heading", name="Access denied").is_visible()
    assert page.locator("#push-commands").count() == 0
    assert page.get_by_role("tab").count() == 0
    with httpx.Client(base_url=server.url, auth=BOB) as api:
        token_free = api.get("/api/v1/repository/alice/private-one")
    assert token_free.status_code in (401, 403)  # Basic is not an API credential
    response = page.goto(f"{server.url}/repository/bob/nothing")
    assert response.status == 404
    page.goto(f"{server.url}/repository/")
    assert page.get_by_role("link", name="alice/private-one").count() == 0


def test_a_form_without_its_csrf_token_is_refused(
    page: Any, server: BerthServer, console: Console
) -> None:
    sign_in(page, server)
    console.allow("status of 403")
    page.goto(f"{server.url}/new")
    status = page.evaluate(
        """async () => {
            const body = new URLSearchParams({namespace: "alice", name: "sneaky"});
            const r = await fetch("/new", {method: "POST", body});
            return r.status;
        }"""
    )
    assert status == 403
    page.goto(f"{server.url}/repository/")
    assert page.get_by_role("link", name="alice/sneaky").count() == 0


def test_a_description_with_script_and_javascript_links_renders_inert(
    page: Any, server: BerthServer
) -> None:
    sign_in(page, server)
    create_repository(
        page,
        server,
        "evil",
        '<script>alert("owned")</script>\n\n'
        '[click me](javascript:alert(1)) <a href="javascript:alert(2)">raw link</a> '
        "<img src=x onerror=alert(3)>",
    )
    markdown = page.locator(".berth-markdown")
    assert '<script>alert("owned")</script>' in markdown.inner_text()  # shown as text
    assert markdown.locator("script, img, a").count() == 0
    page.get_by_text("[click me]").click()  # plain text: nothing runs (a dialog fails the test)
    assert page.url == f"{server.url}/repository/alice/evil"
