"""Quay's security route over real pushes: images built here with real package databases,
indexed by the job runner in process, matched against data imported in upstream formats."""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from berth.scanner import vulndb
from berth.scanner.errors import ImportRefused
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import PASSWORDS, Berth, digest_of
from tests.support.receivers import HttpReceiver, async_wait_for, http_receiver
from tests.unit.scanner import fixtures as F

API = "/api/v1/repository/alice/app/manifest/"


@pytest.fixture
async def berth(configured) -> AsyncIterator[Berth]:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_SECURITY_SCANNER=True) as b:
        yield b


async def security(b: Berth, digest: str, status: str | None = None) -> dict[str, Any]:
    """The route's answer; with ``status``, once the indexing job has left "queued"."""
    headers = bearer(await oauth_token(b, "alice"))
    async with asyncio.timeout(60):  # a bound on the job runner, not a timing assertion
        while True:
            r = await b.http.get(API + digest + "/security?vulnerabilities=true", headers=headers)
            assert r.status_code == 200, r.text
            if status is None or r.json()["status"] != "queued":
                break
            await asyncio.sleep(0.1)
    body: dict[str, Any] = r.json()
    if status is not None:
        assert body["status"] == status, body
    return body


async def push(b: Berth, tag: str, layers: list[bytes], **extra: Any) -> str:
    pushed = await b.client("alice").push_image("alice/app", tag, layers=layers, **extra)
    return digest_of(pushed.manifest)


def vulns(body: dict[str, Any]) -> dict[str, list[tuple[str, str, str]]]:
    return {
        f["Name"]: sorted((v["Name"], v["FixedBy"], v["Severity"]) for v in f["Vulnerabilities"])
        for f in body["data"]["Layer"]["Features"]
    }


DEBIAN_BASE = F.layer(
    {
        "etc/os-release": F.DEBIAN_OS_RELEASE,
        "var/lib/dpkg/status": F.dpkg_status(
            ("libssl3", "3.0.11-1~deb12u2", "openssl"),
            ("bash", "5.2.15-2+b8", "bash (5.2.15-2)"),
            ("curl", "7.88.1-10", None),
        ),
    }
)
# Removes curl (its CVE must not be reported) and adds a Python distribution.
DEBIAN_TOP = F.layer(
    {
        "var/lib/dpkg/status": F.dpkg_status(
            ("libssl3", "3.0.11-1~deb12u2", "openssl"), ("bash", "5.2.15-2+b8", "bash (5.2.15-2)")
        ),
        F.REQUESTS_PATH: F.REQUESTS_METADATA,
    },
    "zstd",
)


def _import(b: Berth, path: Path) -> None:
    vulndb.import_path(b.settings.scanner.db_dir, path)


async def test_a_debian_image_reports_exactly_its_vulnerabilities(
    berth: Berth, tmp_path: Path
) -> None:
    (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
    _import(berth, tmp_path / "debian.json")
    digest = await push(berth, "deb", [DEBIAN_BASE, DEBIAN_TOP])
    body = await security(berth, digest, "scanned")
    assert vulns(body) == {
        "bash": [],
        "libssl3": [
            ("CVE-2024-0001", "3.0.11-1~deb12u3", "High"),
            ("CVE-2024-0002", "", "Negligible"),
        ],
        "requests": [],
    }
    layer = body["data"]["Layer"]
    assert layer["Name"] == digest
    assert (layer["ParentName"], layer["NamespaceName"], layer["IndexedByVersion"]) == ("", "", 4)
    added = {f["Name"]: f["AddedBy"] for f in layer["Features"]}
    assert added == {
        "bash": digest_of(DEBIAN_BASE),
        "libssl3": digest_of(DEBIAN_BASE),
        "requests": digest_of(DEBIAN_TOP),
    }

    # New data: matched again on the next read, without indexing the image again.
    osv_zip = F.osv_zip(
        tmp_path / "all.zip",
        [F.osv("PYSEC-2024-1", "PyPI", "requests", [{"introduced": "0"}, {"fixed": "2.32.0"}])],
    )
    _import(berth, osv_zip)
    assert vulns(await security(berth, digest, "scanned"))["requests"] == [
        ("PYSEC-2024-1", "2.32.0", "Unknown")
    ]
    jobs = await berth.services.jobs.list(kind="index_manifest")
    assert len(jobs) == 1

    # A bad bundle is refused and the loaded data stays.
    bundle = F.bundle_dir(
        tmp_path / "bundle", {"debian.json": ("debian-tracker", b'{"openssl": {}}')}
    )
    (bundle / "debian.json").write_text("{}")
    with pytest.raises(ImportRefused, match="checksum mismatch"):
        _import(berth, bundle)
    assert vulns(await security(berth, digest, "scanned"))["libssl3"][0][0] == "CVE-2024-0001"


async def test_alpine_image_matched_by_origin(berth: Berth, tmp_path: Path) -> None:
    (tmp_path / "main.json").write_text(json.dumps(F.alpine_secdb()))
    _import(berth, tmp_path / "main.json")
    image = F.layer(
        {
            "etc/os-release": F.ALPINE_OS_RELEASE,
            "lib/apk/db/installed": F.apk_installed(
                ("libcrypto3", "3.1.4-r0", "openssl"), ("busybox", "1.36.1-r15", "busybox")
            ),
        }
    )
    body = await security(berth, await push(berth, "alpine", [image]), "scanned")
    assert vulns(body) == {
        "libcrypto3": [("CVE-2023-5678", "3.1.4-r1", "Unknown")],
        "busybox": [("CVE-2023-42363", "1.36.1-r16", "Unknown")],
    }


def _evil_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return gzip.compress(buf.getvalue())


async def test_bad_layers_fail_their_manifest_only(berth: Berth) -> None:
    good = await push(berth, "good", [DEBIAN_BASE])
    evil = await push(berth, "evil", [DEBIAN_BASE, _evil_layer()])
    bomb = await push(
        berth,
        "bomb",
        [gzip.compress(F.tar_bytes({"zero": b"\0" * (300 * 1024 * 1024)}), compresslevel=9)],
    )
    bad_db = await push(
        berth, "baddb", [F.layer({"lib/apk/db/installed": b"P:x\nthis is not apk\n"})]
    )
    for digest in (evil, bomb, bad_db):
        assert await security(berth, digest, "failed") == {"status": "failed", "data": None}
    assert "'..'" in (await berth.services.scanner.error(evil) or "")
    assert "decompression bomb" in (await berth.services.scanner.error(bomb) or "")
    assert "malformed package database" in (await berth.services.scanner.error(bad_db) or "")
    assert (await security(berth, good, "scanned"))["status"] == "scanned"


async def test_artifacts_are_unsupported(berth: Berth) -> None:
    chart = await push(
        berth,
        "chart",
        [b"not a tar"],
        layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        config_type="application/vnd.cncf.helm.config.v1+json",
    )
    assert await security(berth, chart, "unsupported") == {"status": "unsupported", "data": None}


async def test_unknown_manifest_404_and_route_off_by_default(berth: Berth, registry: Berth) -> None:
    headers = bearer(await oauth_token(berth, "alice"))
    digest = await push(berth, "x", [DEBIAN_BASE])
    r = await berth.http.get(API + "sha256:" + "0" * 64 + "/security", headers=headers)
    assert r.status_code == 404
    await push(registry, "x", [DEBIAN_BASE])
    off = await registry.http.get(
        API + digest + "/security", headers=bearer(await oauth_token(registry, "alice"))
    )
    assert off.status_code == 404


# ------------------------------------------------------------------ vulnerability_found
@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


async def test_an_import_fires_vulnerability_found_for_new_findings_only(
    configured,  # type: ignore[no-untyped-def]
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    async with configured(
        FEATURE_SECURITY_SCANNER=True,
        FEATURE_SECURITY_NOTIFICATIONS=True,
        SECURITY_SCANNER_INDEXING_INTERVAL=1,
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
    ) as b:
        headers = bearer(await oauth_token(b, "alice"))
        (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
        _import(b, tmp_path / "debian.json")
        # The repository must exist before its notification: push first.
        digest = await push(b, "v1", [DEBIAN_BASE, DEBIAN_TOP])
        await security(b, digest, "scanned")
        r = await b.http.post(
            "/api/v1/repository/alice/app/notification/",
            headers=headers,
            json={
                "event": "vulnerability_found",
                "method": "webhook",
                "config": {"url": receiver.url("/vuln")},
                "eventConfig": {"level": "3"},  # Medium and above
            },
        )
        assert r.status_code == 201, r.text

        high = F.osv(
            "GHSA-high",
            "PyPI",
            "requests",
            [{"introduced": "0"}, {"fixed": "2.32.0"}],
            database_specific={"severity": "HIGH"},
        )
        low = F.osv(
            "GHSA-low",
            "PyPI",
            "requests",
            [{"introduced": "0"}],
            database_specific={"severity": "LOW"},
        )
        _import(b, F.osv_zip(tmp_path / "all.zip", [high, low]))
        (got,) = await async_wait_for(lambda: receiver.on("/vuln"), what="the webhook")
        body = got.json()
        assert body["repository"] == "alice/app"
        assert body["tags"] == ["v1"]
        assert body["vulnerability"] == {
            "id": "GHSA-high",
            "description": "GHSA-high in requests",
            "link": "https://example.test/GHSA-high",
            "priority": "High",
            "has_fix": True,
        }
        # The same data again: nothing new, nothing sent (the re-match has run when the
        # stored generation caught up).
        _import(b, tmp_path / "all.zip")
        gen = vulndb.generation(b.settings.scanner.db_dir)

        async def caught_up() -> bool:
            async with b.services.db.read() as s:
                row = (
                    await s.execute(text("SELECT min(matched_generation) FROM manifest_security"))
                ).scalar()
            return bool(row == gen)

        async with asyncio.timeout(60):  # a bound on the scheduled re-match
            while True:
                if await caught_up():
                    break
                await asyncio.sleep(0.1)
        assert len(receiver.on("/vuln")) == 1
        assert len(vulns(await security(b, digest, "scanned"))["requests"]) == 2


async def test_a_first_index_announces_findings_at_or_above_high(
    configured,  # type: ignore[no-untyped-def]
    receiver: HttpReceiver,
    tmp_path: Path,
) -> None:
    async with configured(
        FEATURE_SECURITY_SCANNER=True,
        FEATURE_SECURITY_NOTIFICATIONS=True,
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
    ) as b:
        (tmp_path / "debian.json").write_text(json.dumps(F.debian_tracker()))
        _import(b, tmp_path / "debian.json")
        await push(b, "empty", [F.layer({"etc/hostname": b"x\n"})])  # creates the repository
        r = await b.http.post(
            "/api/v1/repository/alice/app/notification/",
            headers=bearer(await oauth_token(b, "alice")),
            json={
                "event": "vulnerability_found",
                "method": "webhook",
                "config": {"url": receiver.url("/new")},
                "eventConfig": {"level": "6"},  # everything
            },
        )
        assert r.status_code == 201, r.text
        await push(b, "v2", [DEBIAN_BASE, DEBIAN_TOP])
        (got,) = await async_wait_for(lambda: receiver.on("/new"), what="the webhook")
        body = got.json()
        assert body["tags"] == ["v2"]
        assert body["vulnerable_index_report_created"] == "true"
        assert body["vulnerability"]["id"] == "CVE-2024-0001"
        assert body["vulnerability"]["priority"] == "High"


async def test_basic_credentials_and_anonymous_access(berth: Berth) -> None:
    """The Container Security Operator's ways in: registry credentials over Basic, or
    nothing on a public repository."""
    digest = await push(berth, "v1", [DEBIAN_BASE])
    await security(berth, digest, "scanned")
    url = API + digest + "/security?features=true&vulnerabilities=true"

    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    r = await berth.http.get(url, headers=basic("alice", PASSWORDS["alice"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scanned"
    assert (await berth.http.get(url, headers=basic("alice", "wrong"))).status_code == 401
    assert (await berth.http.get(url)).status_code == 401  # private, anonymous
    assert (await berth.http.get(url, headers=basic("bob", PASSWORDS["bob"]))).status_code == 403
    await berth.set_public("alice/app")
    r = await berth.http.get(url)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scanned"


async def test_app_capabilities_name_the_security_route(berth: Berth) -> None:
    r = await berth.http.get("/.well-known/app-capabilities")
    assert r.status_code == 200, r.text
    caps = r.json()
    assert caps["appName"] == "io.quay"
    template = caps["capabilities"]["io.quay.manifest-security"]["rest-api-template"]
    assert template == (
        "http://localhost:5000/api/v1/repository/{namespace}/{reponame}/manifest/{digest}/security"
    )
