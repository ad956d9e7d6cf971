"""SECURITY_SCANNER_V4_ENDPOINT: a real ``berth serve`` hands pushed manifests to a Clair v4
and answers Quay's security route from Clair's vulnerability report. Clair cannot run on
these machines; the stand-in here is a real HTTP server implementing the documented
indexer and matcher endpoints and response shapes (``POST /indexer/api/v1/index_report``
-> 201 IndexReport; ``GET /matcher/api/v1/vulnerability_report/{digest}`` -> 200
VulnerabilityReport, 404 before indexing), checking the PSK JWT Quay sends and fetching
every layer from Berth with the URL and headers it was given, as Clair does."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import ClientSession, web

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, StartServer
from tests.support.pushing import push_image
from tests.support.receivers import free_port
from tests.unit.scanner import fixtures as F

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PSK = base64.b64encode(b"clair-shared-secret-0123456789ab").decode()


@dataclass
class FakeClair:
    port: int
    indexed: dict[str, list[str]] = field(default_factory=dict)  # manifest -> layers fetched
    refused: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), base64.b64decode(PSK),
                                algorithms=["HS256"], issuer="quay")  # fmt: skip
        except jwt.PyJWTError as e:
            self.refused.append(str(e))
            return False
        return bool(claims.get("exp"))

    async def index_report(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "unauthorized"}, status=401)
        manifest = await request.json()
        if not manifest.get("hash") or not manifest.get("layers"):
            return web.json_response({"code": "bad-request", "message": "no layers"}, status=400)
        fetched = []
        async with ClientSession() as http:
            for layer in manifest["layers"]:
                headers = {k: v[0] for k, v in layer.get("headers", {}).items()}
                async with http.get(layer["uri"], headers=headers) as r:
                    body = await r.read()
                    if r.status != 200:
                        return web.json_response(
                            {"code": "fetch", "message": f"{r.status}"}, status=500
                        )
                if "sha256:" + hashlib.sha256(body).hexdigest() != layer["hash"]:
                    return web.json_response({"code": "digest"}, status=500)
                fetched.append(layer["hash"])
        self.indexed[manifest["hash"]] = fetched
        report = {
            "manifest_hash": manifest["hash"],
            "state": "IndexFinished",
            "packages": {},
            "distributions": {},
            "environments": {},
            "success": True,
            "err": "",
        }
        return web.json_response(report, status=201)

    async def vulnerability_report(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"code": "unauthorized"}, status=401)
        digest = request.match_info["digest"]
        layers = self.indexed.get(digest)
        if layers is None:
            return web.json_response({"code": "not-found"}, status=404)
        return web.json_response(_report(digest, layers[0]))


def _report(digest: str, layer: str) -> dict[str, Any]:
    """A VulnerabilityReport in Clair v4's documented shape."""
    return {
        "manifest_hash": digest,
        "packages": {
            "10": {"id": "10", "name": "openssl", "version": "3.0.11-1~deb12u2",
                   "kind": "binary", "source": {"id": "9", "name": "openssl"}, "arch": "amd64"},
            "11": {"id": "11", "name": "bash", "version": "5.2.15-2+b8", "kind": "binary"},
        },
        "distributions": {
            "1": {"id": "1", "did": "debian", "name": "Debian GNU/Linux",
                  "version": "12 (bookworm)", "version_id": "12",
                  "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        },
        "environments": {
            "10": [{"package_db": "var/lib/dpkg/status", "introduced_in": layer,
                    "distribution_id": "1"}],
            "11": [{"package_db": "var/lib/dpkg/status", "introduced_in": layer,
                    "distribution_id": "1"}],
        },
        "vulnerabilities": {
            "555": {
                "id": "555", "updater": "debian/updater/bookworm", "name": "CVE-2024-0727",
                "description": "NULL dereference on malformed PKCS12 files",
                "issued": "2024-01-26T00:00:00Z",
                "links": "https://security-tracker.debian.org/tracker/CVE-2024-0727",
                "severity": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
                "normalized_severity": "Medium",
                "package": {"id": "", "name": "openssl", "kind": "binary"},
                "dist": {"id": "", "did": "debian", "version_id": "12"},
                "repo": {"id": "", "name": ""},
                "fixed_in_version": "3.0.13-1~deb12u1",
            },
        },
        "package_vulnerabilities": {"10": ["555"], "11": []},
        "enrichments": {},
    }  # fmt: skip


@pytest.fixture
def clair() -> Iterator[FakeClair]:
    fake = FakeClair(free_port())
    ready = threading.Event()
    stop: list[Any] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            done = asyncio.Event()
            stop.append(lambda: loop.call_soon_threadsafe(done.set))
            app = web.Application()
            app.router.add_post("/indexer/api/v1/index_report", fake.index_report)
            app.router.add_get(
                "/matcher/api/v1/vulnerability_report/{digest}", fake.vulnerability_report
            )
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", fake.port).start()
            ready.set()
            await done.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake
    stop[0]()
    thread.join(10)


def test_manifests_go_to_clair_and_the_route_answers_from_it(
    berth_factory: StartServer, tmp_path: Any, clair: FakeClair
) -> None:
    config = embedded_config(
        tmp_path,
        FEATURE_SECURITY_SCANNER=True,
        SECURITY_SCANNER_V4_ENDPOINT=clair.url,
        SECURITY_SCANNER_V4_PSK=PSK,
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],
    )
    server = berth_factory(config, name="clair")
    server.create_user(*ALICE)
    base = F.layer({"etc/os-release": F.DEBIAN_OS_RELEASE})
    top = F.layer({"var/lib/dpkg/status": F.dpkg_status(("bash", "5.2.15-2+b8", None))})
    with httpx.Client(base_url=server.url, auth=ALICE, timeout=60) as api:
        pushed = push_image(api, "alice/app", "v1", [base, top])
        url = f"/api/v1/repository/alice/app/manifest/{pushed.digest}/security"
        deadline = time.monotonic() + 120  # a bound on the job runner, not a timing assertion
        while True:
            r = api.get(url)
            assert r.status_code == 200, r.text
            if r.json()["status"] != "queued" or time.monotonic() > deadline:
                break
            time.sleep(0.25)
    body = r.json()
    assert body["status"] == "scanned", body
    # Clair fetched both layers from Berth's /v2 with the pull token Berth gave it.
    assert clair.indexed[pushed.digest] == [F.digest(base), F.digest(top)]
    assert clair.refused == []
    layer = body["data"]["Layer"]
    assert (layer["Name"], layer["IndexedByVersion"]) == (pushed.digest, 4)
    features = {f["Name"]: f for f in layer["Features"]}
    assert set(features) == {"openssl", "bash"}
    (vuln,) = features["openssl"]["Vulnerabilities"]
    assert vuln["Name"] == "CVE-2024-0727"
    assert vuln["Severity"] == "Medium"
    assert vuln["FixedBy"] == "3.0.13-1~deb12u1"
    assert vuln["NamespaceName"] == "debian/updater/bookworm"
    assert vuln["Metadata"]["DistroName"] == "Debian GNU/Linux"
    assert vuln["Metadata"]["NVD"]["CVSSv3"]["Score"] == 6.5
    assert features["openssl"]["CVEIds"] == ["CVE-2024-0727"]
    assert features["openssl"]["AddedBy"] == F.digest(base)
    assert features["bash"]["Vulnerabilities"] == []
