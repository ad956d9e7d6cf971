"""The repository's Builds tab in chromium against a real ``berth serve`` whose worker runs
Debian's buildah: a ``FROM scratch`` + ``COPY`` archive uploaded from the page is built, the
build page's log fills while htmx follows it, the phase reaches ``complete``, the image is
in the repository, and the history lists the build. Screenshots: docs/ui/builds.png,
docs/ui/build-log.png and docs/ui/build-trigger.png (a custom git trigger set up on its page)."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.web.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


@pytest.fixture
def build_server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    config = embedded_config(
        tmp_path,
        BUILD_MANAGER=["local", {"EXECUTORS": [{"EXECUTOR": "local", "MAXIMUM_BUILD_TIME": "5m"}]}],
    )
    s = berth_factory(config, name="web-builds")
    s.create_user(*ALICE)
    return s


def _context(path: Path) -> Path:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        files = {
            "Dockerfile": b"FROM scratch\nCOPY hello.txt /hello.txt\nCOPY etc/ /etc/\n",
            "hello.txt": b"built from the page\n",
            "etc/motd": b"hi\n",
        }
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(out.getvalue())
    return path


def test_build_started_from_the_page(
    page: Any, build_server: BerthServer, tmp_path: Path, shot: Shot
) -> None:
    server = build_server
    sign_in(page, server)
    token = page.request.get(f"{server.url}/csrf_token").json()["csrf_token"]
    r = page.request.post(
        f"{server.url}/api/v1/repository",
        data={"repository": "built", "visibility": "private", "description": ""},
        headers={"X-CSRF-Token": token},
    )
    assert r.status == 201, r.text()

    page.goto(f"{server.url}/repository/alice/built?tab=builds")
    expect(page.get_by_text("No builds yet")).to_be_visible()
    page.get_by_label("Dockerfile or archive").set_input_files(str(_context(tmp_path / "c.tgz")))
    page.get_by_label("Tags").fill("v1 latest")
    page.get_by_role("button", name="Start build").click()
    page.wait_for_url("**/repository/alice/built/build/*")

    # htmx follows the build: the steps appear and the phase label ends at complete.
    log = page.locator("#build-log")
    expect(log).to_contain_text("COPY hello.txt /hello.txt", timeout=180_000)
    expect(page.locator("#build-phase .berth-build-phase")).to_have_attribute(
        "data-phase", "complete", timeout=180_000
    )
    expect(log).to_contain_text("pushing")
    expect(page.locator("#build-log-poll")).to_have_count(0)  # stopped following
    expect(page.locator("#build-cancel")).to_have_count(0)  # nothing left to cancel
    log.scroll_into_view_if_needed()
    shot(page, "build-log")

    # The image is there, under both tags (the API, as any client would see it).
    for tag in ("v1", "latest"):
        got = page.request.get(
            f"{server.url}/api/v1/repository/alice/built/tag/?specificTag={tag}",
            headers={"X-Requested-With": "XMLHttpRequest"},
        )
        assert got.status == 200, got.text()
        assert [t["name"] for t in got.json()["tags"]] == [tag]

    # After the end the page still shows the whole log, and the history lists the build.
    page.reload()
    expect(page.locator("#build-log")).to_contain_text("COPY hello.txt /hello.txt")
    page.goto(f"{server.url}/repository/alice/built?tab=builds")
    row = page.locator(".berth-build-row")
    expect(row).to_have_count(1)
    expect(row.locator(".berth-build-phase")).to_have_text("complete")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("v1")
    shot(page, "builds")

    # A custom git trigger: set up on its page, then its webhook URL and deploy key shown.
    page.get_by_role("link", name="Add custom git trigger").click()
    page.wait_for_url("**/repository/alice/built/trigger/*")
    page.get_by_label("Git repository URL").fill("https://git.example.com/team/app.git")
    page.get_by_label("Tag templates").fill("${commit_info.short_sha}, ${parsed_ref.branch}")
    page.get_by_role("button", name="Activate trigger").click()
    expect(page.locator("#trigger-credentials")).to_contain_text("Webhook endpoint URL")
    expect(page.locator("#trigger-key")).to_have_value(re.compile(r"^ssh-ed25519 "))
    shot(page, "build-trigger")
