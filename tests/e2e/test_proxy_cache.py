"""Proxy-cache organizations against a real upstream (CNCF distribution): skopeo and podman
pull byte-identical images through Berth, tags revalidate, a dead upstream still serves
what is cached, concurrent cold pulls fetch each blob once, pushes are refused, and the
proxycache routes answer as Quay's."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from berth.audit.models import LogEntry
from berth.config import load_settings
from berth.db.session import Database
from tests.conftest import embedded_config, write_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.e2e.support import ACCEPT, sha256
from tests.support.clients import run
from tests.support.distribution import DistributionServer, make_tls
from tests.support.images import OciLayout, write_oci_layout

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = ("admin", "password123")
UPSTREAM_USER = ("mirror", "upstream-secret-1")
ORG = "cache"
CREDS = f"{ADMIN[0]}:{ADMIN[1]}"


@dataclass
class Setup:
    berth: BerthServer
    upstream: DistributionServer
    token: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.berth.url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60.0,
        )

    def v2(self) -> httpx.Client:
        # follow_redirects: a stored blob may be a redirect to S3 (distributed deployment)
        return httpx.Client(
            base_url=self.berth.url, auth=ADMIN, timeout=60.0, follow_redirects=True
        )

    def configure(self, **extra: Any) -> None:
        body = {"upstream_registry": self.upstream.host, "insecure": True, **extra}
        with self.api() as api:
            r = api.post(f"/organization/{ORG}/proxycache", json=body)
        assert r.status_code == 201, r.text
        assert r.json() == "Created"


def _start(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    *,
    htpasswd: tuple[str, str] | None = None,
    **config: Any,
) -> Setup:
    upstream = DistributionServer(tmp_path / "upstream", htpasswd=htpasswd)
    upstream.start()
    berth = berth_factory(
        {
            **deployment,
            "FEATURE_PROXY_CACHE": True,
            "FEATURE_USER_INITIALIZE": True,
            "SUPER_USERS": [ADMIN[0]],
            "BROWSER_API_CALLS_XHR_ONLY": False,
            "FEATURE_MAILING": False,
            "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
            **config,
        },
        name="proxy",
    )
    r = httpx.post(
        f"{berth.url}/api/v1/user/initialize",
        json={
            "username": ADMIN[0],
            "password": ADMIN[1],
            "email": "admin@example.com",
            "access_token": True,
        },
        timeout=60.0,
    )
    assert r.status_code == 200, r.text
    setup = Setup(berth, upstream, r.json()["access_token"])
    with setup.api() as api:
        r = api.post("/organization/", json={"name": ORG, "email": "cache@example.com"})
        assert r.status_code == 201, r.text
    return setup


@pytest.fixture
def proxy(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> Iterator[Setup]:
    setup = _start(tmp_path, deployment, berth_factory)
    yield setup
    setup.upstream.stop()


def _log_entries(berth: BerthServer, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """(kind, metadata) of the namespace's usage-log entries, read from Berth's database
    (there is no usage-logs API yet)."""

    async def read() -> list[tuple[str, dict[str, Any]]]:
        settings = load_settings(berth.config_path, persist_secrets=False)
        db = Database(settings.db_url, pool_size=1)
        try:
            async with db.read() as s:
                rows = await s.execute(
                    select(LogEntry.kind, LogEntry.meta)
                    .where(LogEntry.namespace == namespace)
                    .order_by(LogEntry.id)
                )
                return [(kind, dict(meta or {})) for kind, meta in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _push_upstream(layout: OciLayout, upstream: DistributionServer, repo: str, tag: str) -> None:
    run(
        "skopeo", "copy", "--all", "--dest-tls-verify=false", layout.reference,
        f"docker://{upstream.host}/{repo}:{tag}", check=True,
    )  # fmt: skip


def _skopeo_pull(berth: BerthServer, repo: str, tag: str, out: Path) -> None:
    run(
        "skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", CREDS,
        f"docker://{berth.host}/{repo}:{tag}", f"oci:{out}:{tag}", check=True,
    )  # fmt: skip


def _blobs(directory: Path) -> dict[str, bytes]:
    return {f"sha256:{p.name}": p.read_bytes() for p in (directory / "blobs" / "sha256").iterdir()}


@pytest.mark.parametrize("platforms", [None, ["linux/amd64", "linux/arm64/v8"]],
                         ids=["image", "index"])  # fmt: skip
def test_skopeo_pulls_byte_identical_images(
    proxy: Setup, tmp_path: Path, platforms: list[str] | None
) -> None:
    layout = write_oci_layout(
        tmp_path / "src", tag="v1", layers=(1_200_000, 40_000), platforms=platforms, seed=3
    )
    _push_upstream(layout, proxy.upstream, "team/app", "v1")
    proxy.configure(expiration_s=3600)

    out = tmp_path / "out"
    _skopeo_pull(proxy.berth, f"{ORG}/team/app", "v1", out)
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layout.digest
    pulled = _blobs(out)
    source = _blobs(layout.path)
    assert {d: source[d] for d in pulled} == pulled  # every byte as pushed upstream
    for digest, data in pulled.items():
        assert sha256(data) == digest

    with proxy.v2() as v2:
        r = v2.get(f"/v2/{ORG}/team/app/manifests/v1", headers={"Accept": ACCEPT})
        assert r.status_code == 200
        assert r.headers["x-proxy-cache"] == "HIT"
        assert r.headers["docker-content-digest"] == layout.digest
    with proxy.api() as api:
        repo = api.get(f"/repository/{ORG}/team/app")
        assert repo.status_code == 200, repo.text  # appeared on first pull
        tags = api.get(f"/repository/{ORG}/team/app/tag/", params={"specificTag": "v1"}).json()
        (tag,) = tags["tags"]
        assert tag["manifest_digest"] == layout.digest
        expires_in = tag["end_ts"] - time.time()
        assert 3000 < expires_in <= 3600  # expiration_s after the pull

    # Pulled a second time: nothing more is asked of the upstream for blobs.
    before = proxy.upstream.requests(
        "GET", f"/v2/team/app/blobs/{layout.images[0].layers[0].digest}"
    )
    _skopeo_pull(proxy.berth, f"{ORG}/team/app", "v1", tmp_path / "again")
    after = proxy.upstream.requests(
        "GET", f"/v2/team/app/blobs/{layout.images[0].layers[0].digest}"
    )
    assert before == after == 1


def test_podman_pulls_through(proxy: Setup, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "src", tag="v2", layers=(500_000,), seed=5)
    _push_upstream(layout, proxy.upstream, "library/tool", "v2")
    proxy.configure()
    runroot = tempfile.mkdtemp(prefix="berth-proxy-", dir="/tmp")
    store = ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    try:
        target = f"{proxy.berth.host}/{ORG}/library/tool:v2"
        run("podman", *store, "pull", "--tls-verify=false", "--creds", CREDS, target, check=True)
        (image,) = json.loads(run("podman", *store, "image", "inspect", target, check=True).stdout)
        assert image["Digest"] == layout.digest
        assert image["RootFS"]["Layers"] == list(layout.images[0].diff_ids)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_stale_tag_revalidates_and_dead_upstream_serves_cache(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> None:
    setup = _start(tmp_path, deployment, berth_factory, BERTH_PROXY_CACHE_REVALIDATE="0s")
    first = write_oci_layout(tmp_path / "one", tag="latest", layers=(300_000,), seed=21)
    _push_upstream(first, setup.upstream, "team/svc", "latest")
    setup.configure()
    repo = f"{ORG}/team/svc"
    with setup.v2() as v2:
        r = v2.get(f"/v2/{repo}/manifests/latest", headers={"Accept": ACCEPT})
        assert (r.status_code, r.headers["x-proxy-cache"]) == (200, "MISS")
        layer = first.images[0].layers[0].digest
        assert sha256(v2.get(f"/v2/{repo}/blobs/{layer}").content) == layer

        heads = setup.upstream.requests("HEAD", "/v2/team/svc/manifests/latest")
        r = v2.get(f"/v2/{repo}/manifests/latest", headers={"Accept": ACCEPT})
        assert (r.status_code, r.headers["x-proxy-cache"]) == (200, "REVALIDATED")
        assert setup.upstream.requests("HEAD", "/v2/team/svc/manifests/latest") == heads + 1

        # The upstream moves the tag: the next pull gets the new image.
        second = write_oci_layout(tmp_path / "two", tag="latest", layers=(200_000,), seed=22)
        _push_upstream(second, setup.upstream, "team/svc", "latest")
        r = v2.get(f"/v2/{repo}/manifests/latest", headers={"Accept": ACCEPT})
        assert (r.status_code, r.headers["x-proxy-cache"]) == (200, "MISS")
        assert r.headers["docker-content-digest"] == second.digest
        layer2 = second.images[0].layers[0].digest
        assert sha256(v2.get(f"/v2/{repo}/blobs/{layer2}").content) == layer2
        _skopeo_pull(setup.berth, repo, "latest", tmp_path / "warm")  # the rest of it

        # The upstream dies: the cached copy is served, and says it is stale.
        setup.upstream.stop()
        r = v2.get(f"/v2/{repo}/manifests/latest", headers={"Accept": ACCEPT})
        assert r.status_code == 200, r.text
        assert r.headers["x-proxy-cache"] == "STALE"
        assert r.headers["warning"] == '110 - "Response is Stale"'
        assert r.headers["docker-content-digest"] == second.digest
        assert sha256(v2.get(f"/v2/{repo}/blobs/{layer2}").content) == layer2
        # Never cached and the upstream is down: 503, not a hang.
        r = v2.get(f"/v2/{ORG}/team/other/manifests/v1", headers={"Accept": ACCEPT})
        assert r.status_code == 503
        assert r.json()["errors"][0]["code"] == "UNAVAILABLE"

    # skopeo pulls the whole image from the cache alone.
    _skopeo_pull(setup.berth, repo, "latest", tmp_path / "out")
    assert (
        json.loads((tmp_path / "out" / "index.json").read_text())["manifests"][0]["digest"]
        == second.digest
    )

    # The stale pull is in the usage log, with the upstream's error (pull entries are
    # written within a second).
    deadline = time.monotonic() + 10
    stale: list[tuple[str, dict[str, Any]]] = []
    while time.monotonic() < deadline and not stale:
        entries = _log_entries(setup.berth, ORG)
        stale = [e for e in entries if e[1].get("proxy_cache") == "stale"]
        time.sleep(0.2)
    assert stale, "no usage-log entry for the stale pull"
    kind, meta = stale[0]
    assert kind == "pull_repo"
    assert meta["upstream_error"]
    assert meta["tag"] == "latest"


def test_concurrent_cold_pulls_fetch_each_blob_once(proxy: Setup, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(3_000_000, 1_000_000), seed=9)
    _push_upstream(layout, proxy.upstream, "team/big", "v1")
    proxy.configure()

    def pull(n: int) -> None:
        _skopeo_pull(proxy.berth, f"{ORG}/team/big", "v1", tmp_path / f"out{n}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(pull, range(8)))
    image = layout.images[0]
    for digest in [image.config.digest, *(layer.digest for layer in image.layers)]:
        assert proxy.upstream.requests("GET", f"/v2/team/big/blobs/{digest}") == 1, digest
    assert proxy.upstream.requests("GET", "/v2/team/big/manifests/v1") == 1
    for n in range(8):
        assert _blobs(tmp_path / f"out{n}") == _blobs(tmp_path / "out0")


def test_pushes_are_refused(proxy: Setup, tmp_path: Path) -> None:
    proxy.configure()
    with proxy.v2() as v2:
        r = v2.post(f"/v2/{ORG}/team/app/blobs/uploads/")
        assert r.status_code == 403
        (error,) = r.json()["errors"]
        assert error["code"] == "DENIED"
        assert "proxy cache" in error["message"]
        assert proxy.upstream.host in error["message"]
        r = v2.put(
            f"/v2/{ORG}/team/app/manifests/v1",
            content=b"{}",
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert (r.status_code, r.json()["errors"][0]["code"]) == (403, "DENIED")
    # Anonymous callers get the usual challenge: nothing about the organization.
    r = httpx.post(f"{proxy.berth.url}/v2/{ORG}/team/app/blobs/uploads/")
    assert r.status_code == 401
    assert "proxy" not in r.text
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(1000,), seed=1)
    pushed = run(
        "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, layout.reference,
        f"docker://{proxy.berth.host}/{ORG}/team/app:v1",
    )  # fmt: skip
    assert pushed.returncode != 0


def test_proxycache_routes(proxy: Setup) -> None:
    path = f"/organization/{ORG}/proxycache"
    with proxy.api() as api:
        r = api.get(path)
        assert (r.status_code, r.json()) == (
            200,
            {"upstream_registry": "", "expiration_s": "", "insecure": ""},
        )
        # SSRF: metadata and link-local addresses are refused at configuration.
        r = api.post(path, json={"upstream_registry": "169.254.169.254"})
        assert r.status_code == 400
        assert r.json()["detail"] == "The provided registry URL is not allowed"
        r = api.post(path, json={"upstream_registry": "no-such-host.invalid"})
        assert r.status_code == 400
        assert r.json()["detail"] == "Cannot resolve hostname 'no-such-host.invalid'"

        body = {
            "upstream_registry": proxy.upstream.host,
            "insecure": True,
            "expiration_s": 600,
            "upstream_registry_username": "someone",
            "upstream_registry_password": "sekrit",
            "org_name": ORG,  # Ansible sends it
        }
        assert (api.post(path, json=body).status_code, api.get(path).json()) == (
            201,
            {"upstream_registry": proxy.upstream.host, "expiration_s": 600, "insecure": True},
        )
        r = api.post(path, json=body)
        assert (r.status_code, r.json()["detail"]) == (
            400,
            "Proxy Cache Configuration already exists",
        )
        assert "sekrit" not in api.get(path).text

        r = api.post(
            f"/organization/{ORG}/validateproxycache",
            json={"upstream_registry": proxy.upstream.host, "insecure": True},
        )
        assert (r.status_code, r.json()) == (202, "Anonymous")

        r = api.delete(path)
        assert (r.status_code, r.json()) == (201, "Deleted")
        assert api.delete(path).status_code == 404
    kinds = [kind for kind, _ in _log_entries(proxy.berth, ORG)]
    assert "create_proxy_cache_config" in kinds
    assert "delete_proxy_cache_config" in kinds


def test_upstream_with_htpasswd(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> None:
    setup = _start(tmp_path, deployment, berth_factory, htpasswd=UPSTREAM_USER)
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(100_000,), seed=4)
    run(
        "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(UPSTREAM_USER),
        layout.reference, f"docker://{setup.upstream.host}/team/private:v1", check=True,
    )  # fmt: skip
    validate = f"/organization/{ORG}/validateproxycache"
    base = {"upstream_registry": setup.upstream.host, "insecure": True}
    with setup.api() as api:
        r = api.post(
            validate,
            json={
                **base,
                "upstream_registry_username": UPSTREAM_USER[0],
                "upstream_registry_password": UPSTREAM_USER[1],
            },
        )
        assert (r.status_code, r.json()) == (202, "Valid")
        r = api.post(
            validate,
            json={
                **base,
                "upstream_registry_username": UPSTREAM_USER[0],
                "upstream_registry_password": "wrong",
            },
        )
        assert r.status_code == 400
        assert "Failed login" in r.json()["detail"]
    setup.configure(
        upstream_registry_username=UPSTREAM_USER[0], upstream_registry_password=UPSTREAM_USER[1]
    )
    out = tmp_path / "out"
    _skopeo_pull(setup.berth, f"{ORG}/team/private", "v1", out)
    assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == layout.digest
    setup.upstream.stop()


def test_ssrf_refused_at_connection(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> None:
    """Allowed when configured, refused once SSRF_ALLOWED_HOSTS no longer lists it."""
    setup = _start(tmp_path, deployment, berth_factory)
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(1000,), seed=2)
    _push_upstream(layout, setup.upstream, "team/app", "v1")
    setup.configure()
    setup.berth.stop()
    setup.berth.config["SSRF_ALLOWED_HOSTS"] = []
    setup.berth.config_path = write_config(setup.berth.config_path.parent, setup.berth.config)
    setup.berth.start()
    with setup.v2() as v2:
        r = v2.get(f"/v2/{ORG}/team/app/manifests/v1", headers={"Accept": ACCEPT})
    assert r.status_code == 503
    assert "loopback" in r.json()["errors"][0]["detail"]["error"]
    assert setup.upstream.requests("GET", "/v2/team/app/manifests/v1") == 0
    setup.upstream.stop()


def test_corrupted_upstream_blob_is_not_stored(proxy: Setup, tmp_path: Path) -> None:
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(200_000,), seed=8)
    _push_upstream(layout, proxy.upstream, "team/app", "v1")
    proxy.configure()
    layer = layout.images[0].layers[0].digest
    original = proxy.upstream.blob_file(layer).read_bytes()
    proxy.upstream.blob_file(layer).write_bytes(bytes(len(original)))  # same size, zeros
    repo = f"{ORG}/team/app"
    with proxy.v2() as v2:
        assert v2.get(f"/v2/{repo}/manifests/v1", headers={"Accept": ACCEPT}).status_code == 200
        with pytest.raises(httpx.HTTPError):
            v2.get(f"/v2/{repo}/blobs/{layer}")  # the body is cut short of its end
        # Nothing was stored: the next request asks the upstream again.
        proxy.upstream.blob_file(layer).write_bytes(original)
        r = v2.get(f"/v2/{repo}/blobs/{layer}")
        assert r.status_code == 200
        assert r.headers["x-proxy-cache"] == "MISS"
        assert sha256(r.content) == layer
    assert proxy.upstream.requests("GET", f"/v2/team/app/blobs/{layer}") == 2


def test_tls_upstream_with_extra_ca(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> None:
    """An HTTPS upstream whose CA is in ``extra_ca_certs/`` beside config.yaml: verified.
    The same upstream through a Berth without that CA: refused, nothing cached."""
    ca, cert, key = make_tls(tmp_path / "tls")
    upstream = DistributionServer(tmp_path / "tls-upstream", tls=(cert, key))
    upstream.start()
    try:
        layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(50_000,), seed=12)
        run(
            "skopeo", "copy", "--dest-tls-verify=false", layout.reference,
            f"docker://{upstream.host}/team/app:v1", check=True,
        )  # fmt: skip
        (tmp_path / "extra_ca_certs").mkdir()
        shutil.copy(ca, tmp_path / "extra_ca_certs" / "lab-ca.pem")
        setup = _start(tmp_path, deployment, berth_factory)
        with setup.api() as api:
            r = api.post(
                f"/organization/{ORG}/proxycache",
                json={"upstream_registry": upstream.host, "insecure": False},
            )
            assert r.status_code == 201, r.text
        out = tmp_path / "out"
        _skopeo_pull(setup.berth, f"{ORG}/team/app", "v1", out)
        assert (
            json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == layout.digest
        )
        setup.upstream.stop()

        # Without the CA: the certificate does not verify.
        shutil.rmtree(tmp_path / "extra_ca_certs")
        setup.berth.stop()
        setup.berth.start()
        with setup.v2() as v2:
            r = v2.get(f"/v2/{ORG}/team/other/manifests/v1", headers={"Accept": ACCEPT})
        assert r.status_code == 503
        assert "certificate verification failed" in r.json()["errors"][0]["detail"]["error"]
    finally:
        upstream.stop()


def test_berth_upstream_with_the_token_flow(
    tmp_path: Path, deployment: dict[str, Any], berth_factory: StartServer
) -> None:
    """A second Berth as the upstream: it answers with a Bearer challenge, so the proxy
    fetches registry tokens from its realm with the configured credentials."""
    upstream = berth_factory(embedded_config(tmp_path / "upstream-berth"), name="upstream")
    upstream.create_user(*ALICE)
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(80_000,), seed=14)
    run(
        "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ":".join(ALICE),
        layout.reference, f"docker://{upstream.host}/alice/app:v1", check=True,
    )  # fmt: skip
    setup = _start(tmp_path, deployment, berth_factory)
    body = {
        "upstream_registry": f"{upstream.host}/alice",
        "insecure": True,
        "upstream_registry_username": ALICE[0],
        "upstream_registry_password": ALICE[1],
    }
    with setup.api() as api:
        r = api.post(f"/organization/{ORG}/validateproxycache", json=body)
        assert (r.status_code, r.json()) == (202, "Valid")
        wrong = {**body, "upstream_registry_password": "wrong-password"}
        r = api.post(f"/organization/{ORG}/validateproxycache", json=wrong)
        assert r.status_code == 400
        assert api.post(f"/organization/{ORG}/proxycache", json=body).status_code == 201
    out = tmp_path / "out"
    _skopeo_pull(setup.berth, f"{ORG}/app", "v1", out)  # the namespace is the upstream's
    assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == layout.digest
    assert _blobs(out) == {d: b for d, b in _blobs(layout.path).items() if d in _blobs(out)}
    setup.upstream.stop()
