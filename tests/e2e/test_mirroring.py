"""Repository mirroring against a real upstream (CNCF distribution): a mirror with tag globs
copies exactly the matching tags byte for byte (skopeo pulls them back), a second sync after
the upstream changed copies only what is new and removes what the upstream dropped, pushes
into the mirror are refused, and refused credentials give a FAIL status, a usage-log entry
and a ``repo_mirror_sync_failed`` webhook."""

from __future__ import annotations

import asyncio
import base64
import json
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
from tests.e2e.conftest import BerthServer, StartServer
from tests.e2e.quay_clients.ansible import QuayApi, quay_repository_mirror
from tests.e2e.support import ACCEPT, sha256
from tests.support.clients import run
from tests.support.distribution import DistributionServer
from tests.support.images import OciLayout, write_oci_layout
from tests.support.receivers import http_receiver, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADMIN = ("admin", "password123")
CREDS = f"{ADMIN[0]}:{ADMIN[1]}"
ORG = "mirrors"
REPO = f"{ORG}/app"
ROBOT = f"{ORG}+syncer"
FAR_FUTURE = "2099-01-01T00:00:00Z"  # no scheduled sync during the test: sync-now only


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

    def mirror_body(self, **extra: Any) -> dict[str, Any]:
        return {
            "is_enabled": True,
            "external_reference": f"{self.upstream.host}/team/app",
            "sync_interval": 3600,
            "sync_start_date": FAR_FUTURE,
            "robot_username": ROBOT,
            "root_rule": {"rule_kind": "tag_glob_csv", "rule_value": ["v*", "release-?"]},
            "external_registry_config": {
                "verify_tls": False,
                "unsigned_images": False,
                "proxy": {"http_proxy": None, "https_proxy": None, "no_proxy": None},
            },
            "skopeo_timeout_interval": 300,
            **extra,
        }

    def sync(self, *, expect: str) -> dict[str, Any]:
        """sync-now, then wait for the status to leave SYNC_NOW/SYNCING."""
        with self.api() as api:
            r = api.post(f"/repository/{REPO}/mirror/sync-now")
            assert r.status_code == 204, r.text

            def done() -> dict[str, Any] | None:
                got = api.get(f"/repository/{REPO}/mirror").json()
                return got if got["sync_status"] not in ("SYNC_NOW", "SYNCING") else None

            got: dict[str, Any] = wait_for(done, timeout=120, what="the sync")
        assert got["sync_status"] == expect, got
        return got


@pytest.fixture
def upstreams() -> Iterator[list[DistributionServer]]:
    started: list[DistributionServer] = []
    yield started
    for server in started:
        server.stop()


def _start(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
    *,
    htpasswd: tuple[str, str] | None = None,
    scheduler_s: int = 1,
) -> Setup:
    upstream = DistributionServer(tmp_path / "upstream", htpasswd=htpasswd)
    upstreams.append(upstream)
    upstream.start()
    berth = berth_factory(
        {
            **deployment,
            "FEATURE_REPO_MIRROR": True,
            "FEATURE_USER_INITIALIZE": True,
            "SUPER_USERS": [ADMIN[0]],
            "BROWSER_API_CALLS_XHR_ONLY": False,
            "FEATURE_MAILING": False,
            "SSRF_ALLOWED_HOSTS": ["127.0.0.1"],
            "REPO_MIRROR_INTERVAL": scheduler_s,
        },
        name="mirror",
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
        r = api.post("/organization/", json={"name": ORG, "email": "mirrors@example.com"})
        assert r.status_code == 201, r.text
        r = api.put(f"/organization/{ORG}/robots/syncer", json={"description": "mirror"})
        assert r.status_code == 201, r.text
        r = api.post(
            "/repository",
            json={
                "namespace": ORG,
                "repository": "app",
                "visibility": "private",
                "description": "",
                "repo_kind": "image",
            },
        )
        assert r.status_code == 201, r.text
    return setup


def _push_upstream(
    layout: OciLayout, upstream: DistributionServer, tag: str, creds: str | None = None
) -> None:
    auth = ["--dest-creds", creds] if creds else []
    run(
        "skopeo", "copy", "--all", "--dest-tls-verify=false", *auth, layout.reference,
        f"docker://{upstream.host}/team/app:{tag}", check=True,
    )  # fmt: skip


def _skopeo_pull(berth: BerthServer, tag: str, out: Path) -> None:
    run(
        "skopeo", "copy", "--all", "--src-tls-verify=false", "--src-creds", CREDS,
        f"docker://{berth.host}/{REPO}:{tag}", f"oci:{out}:{tag}", check=True,
    )  # fmt: skip


def _blobs(directory: Path) -> dict[str, bytes]:
    return {f"sha256:{p.name}": p.read_bytes() for p in (directory / "blobs" / "sha256").iterdir()}


def _log_kinds(berth: BerthServer) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(kind, performer, metadata) of the organization's usage-log entries, oldest first."""

    async def read() -> list[tuple[str, str | None, dict[str, Any]]]:
        settings = load_settings(berth.config_path, persist_secrets=False)
        db = Database(settings.db_url, pool_size=1)
        try:
            async with db.read() as s:
                rows = await s.execute(
                    select(LogEntry.kind, LogEntry.performer, LogEntry.meta)
                    .where(LogEntry.namespace == ORG)
                    .order_by(LogEntry.id)
                )
                return [(k, p, dict(m or {})) for k, p, m in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _tags(setup: Setup) -> dict[str, str]:
    with setup.api() as api:
        r = api.get(f"/repository/{REPO}/tag/", params={"onlyActiveTags": "true"})
        assert r.status_code == 200, r.text
        return {t["name"]: t["manifest_digest"] for t in r.json()["tags"]}


def test_mirror_with_tag_globs_syncs_incrementally(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
) -> None:
    setup = _start(tmp_path, deployment, berth_factory, upstreams)
    v1 = write_oci_layout(tmp_path / "v1", tag="v1", layers=(700_000, 30_000), seed=31)
    multi = write_oci_layout(
        tmp_path / "v2", tag="v2", layers=(200_000,), platforms=["linux/amd64", "linux/arm64/v8"],
        seed=32,
    )  # fmt: skip
    dev = write_oci_layout(tmp_path / "dev", tag="dev", layers=(10_000,), seed=33)
    for layout, tag in ((v1, "v1"), (multi, "v2"), (dev, "dev"), (dev, "release-1")):
        _push_upstream(layout, setup.upstream, tag)

    with setup.api() as api:
        assert api.get(f"/repository/{REPO}/mirror").status_code == 404
        r = api.post(
            f"/repository/{REPO}/mirror",
            json=setup.mirror_body(
                external_registry_username="someone", external_registry_password="s3cret-pw"
            ),
        )
        assert (r.status_code, r.content) == (201, b""), r.text
        r = api.post(f"/repository/{REPO}/mirror", json=setup.mirror_body())
        assert r.status_code == 409
        assert r.json() == {"detail": f"Mirror configuration already exits for repository {REPO}"}
        got = api.get(f"/repository/{REPO}/mirror")
        assert got.status_code == 200
        config = got.json()
        assert "s3cret-pw" not in got.text  # never echoed
        assert config["external_registry_username"] == "someone"
        assert config["sync_status"] == "NEVER_RUN"
        assert config["mirror_type"] == "PULL"
        assert config["root_rule"] == {
            "rule_kind": "tag_glob_csv",
            "rule_value": ["v*", "release-?"],
        }
        assert config["robot_username"] == ROBOT
        assert config["sync_start_date"] == FAR_FUTURE
        assert config["sync_expiration_date"] is None
        assert config["sync_retries_remaining"] == 3
        assert api.get(f"/repository/{REPO}").json()["state"] == "MIRROR"
        # distribution ignores credentials it doesn't ask for; clear them anyway
        r = api.put(
            f"/repository/{REPO}/mirror",
            json={"external_registry_username": None, "external_registry_password": None},
        )
        assert r.status_code == 201, r.text
        r = api.put(f"/repository/{REPO}/mirror", json={"sync_start_date": "tomorrow"})
        assert r.status_code == 400
        assert r.json() == {"detail": "Incorrect DateTime format for sync_start_date."}

    first = setup.sync(expect="SUCCESS")
    assert first["sync_retries_remaining"] == 3
    assert first["sync_expiration_date"] is None
    tags = _tags(setup)
    assert tags == {"v1": v1.digest, "v2": multi.digest, "release-1": dev.digest}  # not "dev"

    # Pulled back with skopeo: the bytes pushed upstream.
    for layout, tag in ((v1, "v1"), (multi, "v2")):
        out = tmp_path / f"out-{tag}"
        _skopeo_pull(setup.berth, tag, out)
        index = json.loads((out / "index.json").read_text())
        assert index["manifests"][0]["digest"] == layout.digest
        pulled, source = _blobs(out), _blobs(layout.path)
        assert {d: source[d] for d in pulled} == pulled
    with httpx.Client(base_url=setup.berth.url, auth=ADMIN, follow_redirects=True) as v2:
        r = v2.get(f"/v2/{REPO}/manifests/v2", headers={"Accept": ACCEPT})
        assert r.status_code == 200
        assert r.headers["docker-content-digest"] == multi.digest  # the index, whole
        for child in json.loads(r.content)["manifests"]:
            c = v2.get(f"/v2/{REPO}/manifests/{child['digest']}", headers={"Accept": ACCEPT})
            assert (c.status_code, sha256(c.content)) == (200, child["digest"])

    # The upstream changes: v1 moves (sharing one layer), v2 goes, v3 appears.
    v1b = write_oci_layout(tmp_path / "v1b", tag="v1", layers=(50_000,), seed=41)
    _push_upstream(v1b, setup.upstream, "v1")
    _push_upstream(v1, setup.upstream, "v3")
    r = httpx.delete(f"{setup.upstream.url}/v2/team/app/manifests/{multi.digest}", timeout=30)
    assert r.status_code == 202, r.text
    shared = v1.images[0].layers[0].digest
    assert setup.upstream.requests("GET", f"/v2/team/app/blobs/{shared}") == 1

    second = setup.sync(expect="SUCCESS")
    assert second["sync_status"] == "SUCCESS"
    assert _tags(setup) == {"v1": v1b.digest, "v3": v1.digest, "release-1": dev.digest}
    # v3 is v1's old image: nothing downloaded again.
    assert setup.upstream.requests("GET", f"/v2/team/app/blobs/{shared}") == 1
    out = tmp_path / "out-v1b"
    _skopeo_pull(setup.berth, "v1", out)
    assert _blobs(out) == {d: _blobs(v1b.path)[d] for d in _blobs(out)}

    # The removed tag is in the time machine.
    with setup.api() as api:
        r = api.get(f"/repository/{REPO}/tag/", params={"specificTag": "v2"})
        (old,) = r.json()["tags"]
        assert old["manifest_digest"] == multi.digest
        assert old["end_ts"] <= time.time() + 1

    kinds = [k for k, _, _ in _log_kinds(setup.berth)]
    assert kinds.count("repo_mirror_sync_started") == 2
    assert kinds.count("repo_mirror_sync_success") == 2
    assert "repo_mirror_sync_tag_success" in kinds
    assert "repo_mirror_enabled" in kinds
    started = [e for e in _log_kinds(setup.berth) if e[0] == "repo_mirror_sync_started"]
    assert started[0][1] == ROBOT  # the mirror writes as its robot

    # Pushes into the mirror are refused, whoever pushes.
    pushed = run(
        "skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", CREDS, dev.reference,
        f"docker://{setup.berth.host}/{REPO}:mine",
    )  # fmt: skip
    assert pushed.returncode != 0
    assert "mine" not in _tags(setup)


def test_refused_credentials_fail_the_sync_and_notify(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
) -> None:
    user = ("upstream", "right-password-1")
    setup = _start(
        tmp_path, deployment, berth_factory, upstreams, htpasswd=user, scheduler_s=3600
    )  # no scheduled retries during the test
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(20_000,), seed=51)
    _push_upstream(layout, setup.upstream, "v1", creds=f"{user[0]}:{user[1]}")
    with http_receiver() as receiver:
        with setup.api() as api:
            r = api.post(
                f"/repository/{REPO}/mirror",
                json=setup.mirror_body(
                    external_registry_username=user[0], external_registry_password="wrong"
                ),
            )
            assert r.status_code == 201, r.text
            for event in ("repo_mirror_sync_failed", "repo_mirror_sync_started"):
                r = api.post(
                    f"/repository/{REPO}/notification/",
                    json={
                        "event": event,
                        "method": "webhook",
                        "config": {"url": receiver.url(f"/{event}")},
                        "eventConfig": {},
                        "title": event,
                    },
                )
                assert r.status_code == 201, r.text

        failed = setup.sync(expect="FAIL")
        # One failure counted (two when the scheduler's first look, queued at start-up in the
        # same lane, ran after it and retried at once, as Quay's worker does).
        assert failed["sync_retries_remaining"] in (1, 2)
        got = wait_for(
            lambda: receiver.on("/repo_mirror_sync_failed"), timeout=60, what="the webhook"
        )[0]  # one per failed sync
        body = got.json()
        assert body["repository"] == REPO
        assert "401" in body["message"] or "refused" in body["message"]
        wait_for(lambda: receiver.on("/repo_mirror_sync_started"), timeout=60, what="started")
    assert _tags(setup) == {}
    entries = [e for e in _log_kinds(setup.berth) if e[0] == "repo_mirror_sync_failed"]
    assert entries
    assert "refused" in entries[0][2]["message"]

    # The right password: the next sync mirrors v1.
    with setup.api() as api:
        r = api.put(f"/repository/{REPO}/mirror", json={"external_registry_password": user[1]})
        assert r.status_code == 201, r.text
    setup.sync(expect="SUCCESS")
    assert _tags(setup) == {"v1": layout.digest}


def test_mirror_routes_refuse_bad_input(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
) -> None:
    setup = _start(tmp_path, deployment, berth_factory, upstreams)
    with setup.api() as api:
        path = f"/repository/{REPO}/mirror"
        assert api.post(f"{path}/sync-now").status_code == 404
        assert api.post(f"{path}/sync-cancel").status_code == 404
        assert api.put(path, json={"is_enabled": False}).status_code == 404
        r = api.post(path, json=setup.mirror_body(robot_username="mirrors+nobody"))
        assert (r.status_code, r.json()) == (
            400,
            {"message": "Could not find robot with specified username"},
        )
        r = api.post(path, json=setup.mirror_body(skopeo_timeout_interval=10))
        assert r.status_code == 400
        assert "detail" in r.json()
        r = api.post(path, json=setup.mirror_body(external_reference="169.254.169.254/x/y"))
        assert (r.status_code, r.json()) == (
            400,
            {"detail": "The provided registry URL is not allowed"},
        )
        assert api.get(path).status_code == 404  # nothing written
        assert api.get(f"/repository/{REPO}").json()["state"] == "NORMAL"

        # Due now: the scheduler (every REPO_MIRROR_INTERVAL seconds) runs it, no sync-now.
        layout = write_oci_layout(tmp_path / "src", tag="v9", layers=(1_000,), seed=61)
        _push_upstream(layout, setup.upstream, "v9")
        body = setup.mirror_body(sync_start_date=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()))  # fmt: skip
        assert api.post(path, json=body).status_code == 201
        done = wait_for(
            lambda: (got := api.get(path).json())["sync_status"] == "SUCCESS" and got,
            timeout=60,
            what="the scheduled sync",
        )
        assert done["sync_start_date"] > body["sync_start_date"]  # the next interval
        assert api.post(f"{path}/sync-cancel").status_code == 404  # nothing queued
        r = api.put(path, json={"is_enabled": False})
        assert r.status_code == 201
        assert api.get(path).json()["is_enabled"] is False
    kinds = [k for k, _, _ in _log_kinds(setup.berth)]
    assert "repo_mirror_disabled" in kinds
    assert "repo_mirror_sync_success" in kinds


def test_cosign_signatures_and_referrers_come_along(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
) -> None:
    """A cosign signature (its ``sha256-<hex>.sig`` tag) and an OCI referrer (oras attach,
    by the referrers tag schema on distribution) of a mirrored image are mirrored with it:
    ``cosign verify`` passes against the mirror, and Berth's referrers API lists the
    attached artifact."""
    setup = _start(tmp_path, deployment, berth_factory, upstreams)
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(20_000,), seed=71)
    _push_upstream(layout, setup.upstream, "v1")
    home = tmp_path / "home"
    docker = tmp_path / "docker"
    home.mkdir()
    docker.mkdir()
    auth = base64.b64encode(CREDS.encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {setup.berth.host: {"auth": auth}}}))
    env = {"HOME": str(home), "DOCKER_CONFIG": str(docker), "COSIGN_PASSWORD": "pw-1"}
    insecure = ("--allow-insecure-registry", "--allow-http-registry")
    run("cosign", "generate-key-pair", env=env, cwd=home, check=True)
    upstream_image = f"{setup.upstream.host}/team/app@{layout.digest}"
    run("cosign", "sign", "--key", str(home / "cosign.key"), "--tlog-upload=false", "-y",
        *insecure, upstream_image, env=env, check=True)  # fmt: skip
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}')
    run("oras", "attach", "--plain-http", "--artifact-type", "application/spdx+json",
        upstream_image, "sbom.json:application/spdx+json", env=env, cwd=tmp_path,
        check=True)  # fmt: skip

    with setup.api() as api:
        r = api.post(f"/repository/{REPO}/mirror", json=setup.mirror_body())
        assert r.status_code == 201, r.text
    setup.sync(expect="SUCCESS")
    sig_tag = layout.digest.replace(":", "-") + ".sig"
    assert set(_tags(setup)) == {"v1", sig_tag}

    verified = run("cosign", "verify", "--key", str(home / "cosign.pub"),
                   "--insecure-ignore-tlog", *insecure,
                   f"{setup.berth.host}/{REPO}@{layout.digest}", env=env, check=True)  # fmt: skip
    (claim,) = json.loads(verified.stdout)
    assert claim["critical"]["image"]["docker-manifest-digest"] == layout.digest
    with httpx.Client(base_url=setup.berth.url, auth=ADMIN, follow_redirects=True) as v2:
        r = v2.get(f"/v2/{REPO}/referrers/{layout.digest}")
        assert r.status_code == 200
        kinds = [m.get("artifactType") for m in r.json()["manifests"]]
        assert kinds == ["application/spdx+json"]

    # A second sync: nothing new, the signature tag stays.
    again = setup.sync(expect="SUCCESS")
    assert again["sync_status"] == "SUCCESS"
    assert set(_tags(setup)) == {"v1", sig_tag}


def test_ansible_repository_mirror_module(
    tmp_path: Path,
    deployment: dict[str, Any],
    berth_factory: StartServer,
    upstreams: list[DistributionServer],
) -> None:
    """``infra.quay_configuration``'s ``quay_repository_mirror``, replayed: create,
    idempotent re-run, a change, and force_sync that mirrors the tag."""
    setup = _start(tmp_path, deployment, berth_factory, upstreams)
    layout = write_oci_layout(tmp_path / "src", tag="v1", layers=(10_000,), seed=91)
    _push_upstream(layout, setup.upstream, "v1")
    args: dict[str, Any] = {
        "external_reference": f"{setup.upstream.host}/team/app",
        "robot_username": ROBOT,
        "image_tags": ["v*"],
        "verify_tls": False,
    }
    with QuayApi(setup.berth.url, token=setup.token) as api:
        first = quay_repository_mirror(api, REPO, **args)
        assert first["changed"] is True
        assert first["sync_status"] == "NEVER_RUN"
        assert quay_repository_mirror(api, REPO, **args)["changed"] is False
        changed = quay_repository_mirror(api, REPO, **{**args, "image_tags": ["v1", "v2"]})
        assert changed["changed"] is True
        assert changed["root_rule"]["rule_value"] == ["v1", "v2"]
        assert quay_repository_mirror(api, REPO, **args, force_sync=True)["changed"] is True
    done = wait_for(
        lambda: _tags(setup) or None, timeout=120, what="the sync started by force_sync"
    )
    assert done == {"v1": layout.digest}
