"""An organization's proxy-cache tab in chromium against a real ``berth serve`` and a real CNCF
distribution upstream: validate, save, pull through the cache with skopeo, delete; a refused
upstream shows the API's message. Screenshot: docs/ui/organization-proxy-cache.png."""

from __future__ import annotations

import json
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
from tests.web.test_organizations import create_org

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[DistributionServer]:
    server = DistributionServer(tmp_path / "upstream")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy_server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    config = embedded_config(tmp_path, FEATURE_PROXY_CACHE=True, SSRF_ALLOWED_HOSTS=["127.0.0.1"])
    s = berth_factory(config, name="web-proxy")
    s.create_user(*ALICE)
    return s


def test_proxy_cache_tab_validates_saves_and_deletes(
    page: Any,
    proxy_server: BerthServer,
    upstream: DistributionServer,
    tmp_path: Path,
    shot: Shot,
) -> None:
    server = proxy_server
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(20_000,), seed=91)
    run("skopeo", "copy", "--dest-tls-verify=false", layout.reference,
        f"docker://{upstream.host}/team/app:v1", check=True)  # fmt: skip
    sign_in(page, server)
    create_org(page, server, "cache")
    page.get_by_role("tab", name="Proxy cache").click()

    page.get_by_label("Upstream registry").fill("169.254.169.254")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The provided registry URL is not allowed")).to_be_visible()

    page.get_by_label("Upstream registry").fill(upstream.host)
    page.get_by_label("Insecure").check()
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_text("Validated: anonymous access works (Anonymous).")).to_be_visible()

    page.get_by_label("Upstream registry").fill(upstream.host)
    page.get_by_label("Expiration (seconds)").fill("3600")
    page.get_by_label("Insecure").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Proxy cache configured.")).to_be_visible()
    expect(page.locator("#proxy-upstream")).to_have_text(upstream.host)
    shot(page, "organization-proxy-cache")

    out = tmp_path / "out"
    run("skopeo", "copy", "--src-tls-verify=false", "--src-creds", ":".join(ALICE),
        f"docker://{server.host}/cache/team/app:v1", f"oci:{out}:v1", check=True)  # fmt: skip
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layout.digest

    page.get_by_role("button", name="Delete proxy cache configuration").click()
    expect(page.get_by_text("Proxy cache configuration deleted.")).to_be_visible()
    expect(page.get_by_label("Upstream registry")).to_be_visible()
