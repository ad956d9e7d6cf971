"""Quotas in chromium against a real ``berth serve``: a full-access superuser sets an
organization's quota and limits on /superuser/quotas, alice pushes with skopeo, and the
organization page's bar shows the bytes the API reports (``quota_report``), with the
warning banner; the organization's Logs tab; its auto-prune policies.
Screenshots go to docs/ui/*.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.support.clients import run
from tests.support.images import write_oci_layout
from tests.web.conftest import sign_in
from tests.web.test_organizations import ROOT, create_org

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.web]

Shot = Callable[[Any, str], None]


def push(server: BerthServer, tmp_path: Path, repo: str, tag: str, size: int) -> None:
    layout = write_oci_layout(tmp_path / f"src-{tag}", tag=tag, layers=(size,), seed=7)
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(ALICE),
        layout.reference, f"docker://{server.host}/{repo}:{tag}", check=True)  # fmt: skip


def sign_out(page: Any, server: BerthServer, user: str) -> None:
    page.get_by_label(f"User menu for {user}").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(f"{server.url}/signin")


def test_quota_bar_shows_the_bytes_used_after_a_push(
    page: Any, berth_factory: StartServer, tmp_path: Path, shot: Shot
) -> None:
    config = {
        **embedded_config(tmp_path),
        "SUPER_USERS": ["root"],
        "FEATURE_QUOTA_MANAGEMENT": True,
        "FEATURE_SUPERUSERS_FULL_ACCESS": True,
        "FEATURE_AUTO_PRUNE": True,
    }
    server = berth_factory(config, name="quota")
    server.create_user(*ALICE)
    server.create_user(*ROOT, superuser=True)
    sign_in(page, server)
    create_org(page, server)
    sign_out(page, server, "alice")
    # The superuser sets 1 MiB with a warning at 10% and a reject at 100%.
    sign_in(page, server, ROOT)
    page.goto(f"{server.url}/superuser/quotas")
    page.get_by_role("link", name="Edit the quota of acme").click()
    page.get_by_label("Storage quota (e.g. 10 GiB, 500 MB)").fill("1 MiB")
    page.get_by_role("button", name="Set quota").click()
    assert "Quota of acme: 1.0 MiB." in page.get_by_role("status").first.inner_text()
    page.get_by_label("Action").select_option("Warning")
    page.get_by_label("Threshold (%)").fill("10")
    page.get_by_role("button", name="Add limit").click()
    page.get_by_label("Action").select_option("Reject")
    page.get_by_label("Threshold (%)").fill("100")
    page.get_by_role("button", name="Add limit").click()
    limits = page.get_by_role("grid", name="Quota limits of acme").inner_text()
    assert "Warning" in limits
    assert "Reject" in limits
    shot(page, "superuser-quotas")
    sign_out(page, server, "root")
    # alice pushes ~300 KB: past the warning limit, under the reject one.
    push(server, tmp_path, "acme/app", "v1", 300_000)
    sign_in(page, server)
    page.goto(f"{server.url}/organization/acme")
    report = page.request.get(
        f"{server.url}/api/v1/organization/acme", headers={"X-Requested-With": "XMLHttpRequest"}
    ).json()["quota_report"]
    assert report["configured_quota"] == 1024 * 1024
    bar = page.locator("#quota-acme")
    assert bar.get_attribute("data-used") == str(report["quota_bytes"])
    assert report["quota_bytes"] > 300_000
    assert "of 1.0 MiB" in bar.inner_text()
    progress = page.get_by_role("progressbar", name="Storage used by acme")
    assert float(progress.get_attribute("aria-valuenow")) == pytest.approx(
        round(100 * report["quota_bytes"] / (1024 * 1024), 1)
    )
    assert "past its quota's warning limit (10%)" in bar.inner_text()
    shot(page, "organization-quota")
    # The organization's Logs tab: the quota changes and the push are there, as sentences.
    page.get_by_role("tab", name="Logs").click()
    table = page.get_by_role("grid", name="Usage logs").inner_text()
    assert "root" in table  # the superuser's quota changes
    assert "pushed tag v1 to acme/app" in table
    assert page.locator("#logs-chart rect[data-kind='push_repo']").count() == 1
    shot(page, "organization-logs")
    # The organization's auto-prune policies (organization admins).
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("Method").select_option("number_of_tags")
    page.get_by_label("Value").fill("3")
    page.get_by_role("button", name="Add policy").click()
    assert "Keep the newest 3 tags" in page.locator("#autoprune ~ form").first.inner_text()
