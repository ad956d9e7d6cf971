"""The repository's tag actions, tag history, settings and manifest page in chromium against
a real ``berth serve``: the fetch-tag commands pasted into podman and skopeo, add, move,
expire and delete a tag, restore it from the history, grant a permission with the
type-ahead, and a manifest with a signature attached by oras. Screenshots go to docs/ui/."""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ALICE, BerthServer
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.web.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]
COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[list[str]]:
    """Private containers-storage for podman (vfs; the runroot must be short: /tmp)."""
    runroot = tempfile.mkdtemp(prefix="berth-web-", dir="/tmp")
    yield ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    shutil.rmtree(runroot, ignore_errors=True)


def push(server: BerthServer, tmp_path: Path, tag: str, seed: int) -> None:
    layout = write_oci_layout(tmp_path / f"src-{tag}", tag=tag, layers=(20_000,), seed=seed)
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(ALICE),
        layout.reference, f"docker://{server.host}/alice/app:{tag}", check=True)  # fmt: skip


def row(page: Any, tag: str) -> Any:
    return page.locator(f'#tags-table tr[data-tag="{tag}"]')


def open_action(page: Any, tag: str, label: str) -> None:
    page.get_by_label(f"Actions for tag {tag}").click()
    page.get_by_role("menuitem", name=label).click()
    page.locator("#tag-action-title").wait_for()


def test_tag_actions_fetch_commands_and_history(
    page: Any, server: BerthServer, tmp_path: Path, store: list[str], shot: Shot
) -> None:
    push(server, tmp_path, "v1", 11)
    push(server, tmp_path, "v2", 12)
    sign_in(page, server)
    page.goto(f"{server.url}/repository/alice/app?tab=tags")

    # Fetch tag: the commands the page shows work when pasted (plus credentials and TLS).
    open_action(page, "v1", "Fetch tag")
    by_tag = page.get_by_role("textbox", name="podman pull by tag").input_value()
    by_digest = page.get_by_role("textbox", name="podman pull by digest").input_value()
    skopeo_cmd = page.get_by_role("textbox", name="skopeo copy by digest").input_value()
    page.get_by_role("button", name="Copy podman pull by tag").click()
    shot(page, "tags-fetch")
    assert by_tag == f"podman pull {server.host}/alice/app:v1"
    creds = ":".join(ALICE)
    for command in (by_tag, by_digest):
        argv = shlex.split(command)
        assert argv[:2] == ["podman", "pull"]
        run("podman", *store, "pull", "--tls-verify=false", "--creds", creds, *argv[2:],
            check=True)  # fmt: skip
    argv = shlex.split(skopeo_cmd)
    assert argv[:2] == ["skopeo", "copy"]
    run("skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds, *argv[2:],
        cwd=tmp_path, check=True)  # fmt: skip
    assert (tmp_path / "app" / "index.json").is_file()

    v1 = row(page, "v1").get_attribute("data-tag")
    assert v1 == "v1"
    v2_digest = row(page, "v2").locator("a.berth-digest-link").inner_text()

    # Add a tag to v1's manifest.
    open_action(page, "v1", "Add new tag")
    page.get_by_label("New tag name").fill("stable")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_text("Tag stable added.")).to_be_visible()
    expect(row(page, "stable")).to_have_count(1)

    # Move it to v2's manifest.
    open_action(page, "stable", "Move tag")
    page.get_by_label("Manifest digest or tag to point at").fill("v2")
    page.get_by_role("button", name="Move tag").click()
    expect(page.get_by_text("Tag stable moved to")).to_be_visible()
    expect(row(page, "stable").locator("a.berth-digest-link")).to_have_text(v2_digest)

    # Set an expiration with the date-time picker.
    when = (datetime.now(UTC) + timedelta(days=7)).replace(second=0, microsecond=0)
    open_action(page, "stable", "Change expiration")
    page.get_by_label("Expires at (UTC)").fill(when.strftime("%Y-%m-%dT%H:%M"))
    shot(page, "tags-expiration")
    page.get_by_role("button", name="Set expiration").click()
    expect(page.get_by_text("Expiration of stable set.")).to_be_visible()
    expect(row(page, "stable")).to_contain_text(when.strftime("%Y-%m-%d %H:%M UTC"))

    # Delete v2, after confirming.
    open_action(page, "v2", "Delete tag")
    expect(page.get_by_text("Delete tag v2?")).to_be_visible()
    page.get_by_role("button", name="Delete v2").click()
    expect(page.get_by_text("Tag v2 deleted.")).to_be_visible()
    expect(row(page, "v2")).to_have_count(0)
    shot(page, "tags-actions")

    # The time machine: v2 deleted, restore it.
    page.get_by_role("tab", name="Tag history").click()
    page.wait_for_url(re.compile(r".*\?tab=history$"))
    deleted = page.locator('tr[data-history-tag="v2"][data-status="deleted"]')
    expect(deleted).to_have_count(1)
    shot(page, "tag-history")
    deleted.get_by_role("button", name=re.compile("^Restore v2")).click()
    page.wait_for_url(re.compile(r".*\?tab=history$"))
    expect(page.get_by_text("Tag v2 restored")).to_be_visible()
    page.get_by_role("tab", name="Tags").click()
    expect(row(page, "v2")).to_have_count(1)


def test_settings_and_manifest_page_with_a_referrer(
    page: Any, server: BerthServer, tmp_path: Path, shot: Shot
) -> None:
    push(server, tmp_path, "v1", 21)
    home, docker = tmp_path / "home", tmp_path / "docker-config"
    home.mkdir()
    docker.mkdir()
    auth = base64.b64encode(":".join(ALICE).encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {server.host: {"auth": auth}}}))
    (tmp_path / "sig.json").write_text('{"critical": {}}')
    env = {"HOME": str(home), "DOCKER_CONFIG": str(docker)}
    run("oras", "attach", "--plain-http", "--artifact-type", COSIGN_SIG,
        f"{server.host}/alice/app:v1", "sig.json:application/json", env=env, cwd=tmp_path,
        check=True)  # fmt: skip

    sign_in(page, server)
    page.goto(f"{server.url}/repository/alice/app?tab=settings")
    shot(page, "repository-settings")
    page.get_by_label("User, robot or team").fill("bo")
    expect(page.locator('#entity-options option[value="bob"]')).to_have_count(1)
    page.get_by_label("User, robot or team").fill("bob")
    page.get_by_role("button", name="Add permission").click()
    expect(page.get_by_text("bob now has read.")).to_be_visible()
    expect(page.locator('tr[data-permission="bob"]')).to_have_count(1)

    page.get_by_role("tab", name="Tags").click()
    row(page, "v1").locator("a.berth-digest-link").click()
    page.wait_for_url(re.compile(r".*/repository/alice/app/manifest/sha256:[0-9a-f]{64}$"))
    expect(page.locator("#manifest-platform")).to_have_text("linux/amd64")
    referrers = page.locator("#referrers")
    expect(referrers).to_contain_text("Signature (cosign)")
    expect(referrers).to_contain_text(COSIGN_SIG)
    page.get_by_label("Key").fill("owner")
    page.get_by_label("Value").fill("<script>alert(1)</script>")
    page.get_by_role("button", name="Add label").click()
    expect(page.get_by_text("owner = <script>alert(1)</script>")).to_be_visible()
    shot(page, "manifest")
