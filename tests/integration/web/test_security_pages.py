"""The security pages over ASGI: a Debian image built here with a real dpkg status file,
indexed by the job runner in process, matched against the Debian tracker's JSON. The tags
table's security cell, the manifest's security report (grouped by severity, fixed-in
versions, "only fixable") and its packages show what the security API answers."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from berth.scanner import vulndb
from tests.integration.api.conftest import configured  # noqa: F401 - the fixture
from tests.integration.api.test_security import DEBIAN_BASE, DEBIAN_TOP, push, security
from tests.integration.conftest import BASE_URL, Berth, digest_of
from tests.integration.web.conftest import Browser
from tests.unit.scanner import fixtures as F


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]  # noqa: F811
    async with configured(FEATURE_SECURITY_SCANNER=True) as b:
        yield b


@pytest.fixture
async def browser(berth: Berth) -> AsyncIterator[Browser]:
    transport = httpx.ASGITransport(app=berth.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        b = Browser(http)
        await b.sign_in("alice")
        yield b


def rows_of(html: str, attr: str) -> list[str]:
    return re.findall(rf'<tr role="row" {attr}="([^"]+)"', html)


async def test_tags_cell_report_and_packages(
    berth: Berth, browser: Browser, tmp_path: Path
) -> None:
    (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
    vulndb.import_path(berth.settings.scanner.db_dir, tmp_path / "debian.json")
    digest = await push(berth, "deb", [DEBIAN_BASE, DEBIAN_TOP])
    api = await security(berth, digest, "scanned")  # waits for the indexing job
    api_vulns = sorted(
        (v["Name"], f["Name"], v["FixedBy"])
        for f in api["data"]["Layer"]["Features"]
        for v in f["Vulnerabilities"]
    )
    assert api_vulns == [
        ("CVE-2024-0001", "libssl3", "3.0.11-1~deb12u3"),
        ("CVE-2024-0002", "libssl3", ""),
    ]

    # The tags table: one High, one Negligible, one fixable; the cell links to the report.
    r = await browser.get("/repository/alice/app?tab=tags")
    assert r.status_code == 200
    assert ">Security</th>" in r.text
    cell = r.text[r.text.index('class="berth-security-cell"') :]
    cell = cell[: cell.index("</td>")]
    assert 'data-security="high"' in cell
    assert "1&nbsp;High" in cell
    assert "1&nbsp;Negligible" in cell
    assert "1 fixable" in cell
    assert f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities" in cell

    # The report: grouped by severity (worst first), with the fixed-in version.
    r = await browser.get(f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities")
    assert r.status_code == 200
    html = r.text
    assert re.findall(r'data-severity="(\w+)"', html) == ["High", "Negligible"]
    assert rows_of(html, "data-advisory") == ["CVE-2024-0001", "CVE-2024-0002"]
    high = html[html.index('data-advisory="CVE-2024-0001"') :]
    assert "3.0.11-1~deb12u3" in high[: high.index("</tr>")]
    assert "Debian GNU/Linux 12 (bookworm)" in html
    assert "2 vulnerabilities in 3 packages" in html

    # Only fixable: the open CVE (no fix yet) goes.
    r = await browser.get(f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities&fixable=1")
    assert rows_of(r.text, "data-advisory") == ["CVE-2024-0001"]
    assert 'aria-current="true"><span class="pf-v5-c-toggle-group__text">Only fixable' in r.text
    # htmx swaps only the report.
    r = await browser.get(
        f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities&fixable=1",
        headers={"HX-Request": "true", "HX-Target": "security-report"},
    )
    assert r.text.lstrip().startswith('<div id="security-report">')
    assert rows_of(r.text, "data-advisory") == ["CVE-2024-0001"]

    # Packages: each with its layer (curl, removed by the top layer, is not there).
    r = await browser.get(f"/repository/alice/app/manifest/{digest}?tab=packages")
    assert rows_of(r.text, "data-package") == ["bash", "libssl3", "requests"]
    req = r.text[r.text.index('data-package="requests"') :]
    assert f'title="{digest_of(DEBIAN_TOP)}">#2<' in req[: req.index("</tr>")]
    ssl = r.text[r.text.index('data-package="libssl3"') :]
    assert "source openssl" in ssl[: ssl.index("</tr>")]


async def test_queued_and_unscanned_states(berth: Berth, browser: Browser) -> None:
    digest = await push(
        berth,
        "chart",
        [b"not a tar"],
        layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        config_type="application/vnd.cncf.helm.config.v1+json",
    )
    await security(berth, digest, "unsupported")
    r = await browser.get(f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities")
    assert 'data-security="unsupported"' in r.text
    r = await browser.get("/repository/alice/app?tab=tags")
    assert 'data-security="unsupported"' in r.text


async def test_no_security_tabs_with_the_scanner_off(
    configured,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    async with configured() as b:
        pushed = await b.client("alice").push_image("alice/app", "v1", layers=[DEBIAN_BASE])
        transport = httpx.ASGITransport(app=b.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            br = Browser(http)
            await br.sign_in("alice")
            r = await br.get("/repository/alice/app?tab=tags")
            assert ">Security</th>" not in r.text
            digest = digest_of(pushed.manifest)
            r = await br.get(f"/repository/alice/app/manifest/{digest}?tab=vulnerabilities")
            assert r.status_code == 200
            assert "Security report" not in r.text
            assert 'id="layers"' in r.text


async def test_superuser_panel_shows_the_scanner(berth: Berth, tmp_path: Path) -> None:
    (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
    vulndb.import_path(berth.settings.scanner.db_dir, tmp_path / "debian.json")
    digest = await push(berth, "deb", [DEBIAN_BASE])
    await security(berth, digest, "scanned")
    transport = httpx.ASGITransport(app=berth.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        root = Browser(http)
        await root.sign_in("root")
        r = await root.get("/superuser")
    assert r.status_code == 200
    assert 'id="scanner-generation">1<' in r.text
    assert 'data-source="debian-tracker"' in r.text
    manifests = r.text[r.text.index('id="scanner-manifests"') :]
    assert "1 scanned" in manifests[: manifests.index("</dd>")]
