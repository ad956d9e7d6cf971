"""The repository's Mirroring tab in chromium against a real ``berth serve`` and a real CNCF
distribution upstream: the tab appears once the repository is in MIRROR state, the form
configures the mirror, "Sync now" copies the matching tags, and the tab shows the status and
the per-tag results. Screenshot: docs/ui/repository-mirroring.png."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.support.clients import run
from tests.support.distribution import DistributionServer
from tests.support.images import write_oci_layout
from tests.web.conftest import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "upstream")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mirror_server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    config = embedded_config(
        tmp_path,
        FEATURE_REPO_MIRROR=True,
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
        REPO_MIRROR_INTERVAL=3600,
    )
    s = berth_factory(config, name="web-mirror")
    s.create_user(*ALICE)
    return s


def _copy(source: str, target: str, creds: str | None = None) -> None:
    auth = ["--dest-creds", creds] if creds else []
    run("skopeo", "copy", "--dest-tls-verify=false", *auth, source, target, check=True)


def test_mirroring_tab_configures_and_syncs(
    page: Any,
    mirror_server: BerthServer,
    upstream: DistributionServer,
    tmp_path: Path,
    shot: Shot,
) -> None:
    server = mirror_server
    for tag, seed in (("v1", 81), ("v2", 82), ("dev", 83)):
        layout = write_oci_layout(tmp_path / tag, tag=tag, layers=(30_000,), seed=seed)
        _copy(layout.reference, f"docker://{upstream.host}/team/app:{tag}")
    seed = write_oci_layout(tmp_path / "seed", tag="seed", layers=(1_000,), seed=84)
    _copy(seed.reference, f"docker://{server.host}/alice/mirror:seed", ":".join(ALICE))

    sign_in(page, server)
    token = page.request.get(f"{server.url}/csrf_token").json()["csrf_token"]
    r = page.request.put(
        f"{server.url}/api/v1/user/robots/sync",
        data={"description": "mirror"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status == 201, r.text()

    # A NORMAL repository has no Mirroring tab; MIRROR state brings it.
    page.goto(f"{server.url}/repository/alice/mirror?tab=settings")
    expect(page.get_by_role("tab", name="Mirroring")).to_have_count(0)
    page.locator("#repo-state").select_option("MIRROR")
    page.get_by_role("button", name="Change state").click()
    page.get_by_role("tab", name="Mirroring").click()
    expect(page.get_by_text("No mirror is configured yet")).to_be_visible()

    page.get_by_label("Registry location").fill(f"{upstream.host}/team/app")
    page.get_by_label("Tags").fill("v*")
    page.get_by_label("Robot").fill("alice+sync")
    page.get_by_label("Verify TLS").uncheck()
    page.get_by_role("button", name="Enable mirroring").click()
    expect(page.get_by_text("Mirroring configured.")).to_be_visible()
    expect(page.locator("#mirror-sync-status")).to_have_text("NEVER_RUN")

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_text("Sync requested.")).to_be_visible()
    for _ in range(60):
        if page.locator("#mirror-sync-status").inner_text() not in ("SYNC_NOW", "SYNCING"):
            break
        page.wait_for_timeout(500)
        page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#mirror-sync-status")).to_have_text("SUCCESS")
    results = page.get_by_role("grid", name="Last sync by tag")
    expect(results.get_by_role("row")).to_have_count(4)  # header, v1, v2, seed removed
    expect(results).to_contain_text("Copied")
    expect(results).to_contain_text("Removed (not upstream)")
    expect(page.locator("#mirror-last-message")).to_have_text("2 tags mirrored")
    shot(page, "repository-mirroring")

    page.get_by_role("tab", name="Tags").click()
    expect(page.locator('#tags-table tr[data-tag="v1"]')).to_have_count(1)
    expect(page.locator('#tags-table tr[data-tag="v2"]')).to_have_count(1)
    expect(page.locator('#tags-table tr[data-tag="dev"]')).to_have_count(0)
