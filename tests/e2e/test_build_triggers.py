"""A custom git trigger end to end: a real ``berth serve`` with the local buildah executor, a
git server (git http-backend) on loopback, a push whose webhook builds the pushed commit with
templated tags, and the image pulled back with skopeo."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.e2e.support import get_blob, get_manifest
from tests.e2e.test_builds import FINISHED, logs, signed_in, wait
from tests.support.clients import run
from tests.support.gitserver import GitServer, git_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    config = embedded_config(
        tmp_path,
        SSRF_ALLOWED_HOSTS=["127.0.0.1"],  # the git server is on loopback
        BUILD_MANAGER=["local", {"EXECUTORS": [{"EXECUTOR": "local", "MAXIMUM_BUILD_TIME": "5m"}]}],
    )
    server = berth_factory(config, name="triggers")
    server.create_user(*ALICE)
    with signed_in(server) as http:
        r = http.post(
            "/api/v1/repository",
            json={"repository": "app", "visibility": "private", "description": ""},
        )
        assert r.status_code == 201, r.text
    return server


@pytest.fixture
def gits(tmp_path: Path) -> Iterator[GitServer]:
    root = tmp_path / "git"
    root.mkdir()
    with git_server(root) as s:
        yield s


def test_a_push_to_a_custom_git_trigger_builds_and_pushes_the_commit(
    server: BerthServer, gits: GitServer, tmp_path: Path
) -> None:
    src = gits.create(
        "app", {"Dockerfile": "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "one\n"}
    )
    with signed_in(server) as http:
        r = http.get("/customtrigger/setup/alice/app", follow_redirects=False)
        assert r.status_code == 302, r.text
        uuid = r.headers["location"].rsplit("/", 1)[1]
        r = http.post(
            f"/api/v1/repository/alice/app/trigger/{uuid}/activate",
            json={
                "config": {
                    "build_source": gits.url("app"),
                    "tag_templates": ["${commit_info.short_sha}", "ci-${parsed_ref.branch}"],
                }
            },
        )
        assert r.status_code == 200, r.text
        creds = {c["name"]: c["value"] for c in r.json()["config"]["credentials"]}
        hook = urlsplit(creds["Webhook Endpoint URL"])
        assert hook.netloc.endswith("@" + server.host)

        sha = src.commit({"hello.txt": "two\n"}, "Say two")
        token = base64.b64encode(f"$token:{hook.password}".encode()).decode()
        r = httpx.post(
            server.url + hook.path,
            json={
                "commit": sha,
                "ref": "refs/heads/main",
                "default_branch": "main",
                "commit_info": {"url": "u", "message": "Say two", "date": "2026-12-07"},
            },
            headers={"Authorization": f"Basic {token}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.text == "Okay"

        [build] = http.get(f"/api/v1/repository/alice/app/trigger/{uuid}/builds").json()["builds"]
        assert sorted(build["tags"]) == sorted([sha[:7], "ci-main", "main", "latest"])
        assert build["trigger"]["id"] == uuid
        assert build["trigger"]["service"] == "custom-git"
        done = wait(http, "app", build["id"], FINISHED)
        assert done["phase"] == "complete", json.dumps(logs(http, "app", build["id"]))[-3000:]
        assert done["trigger_metadata"]["commit"] == sha

    with server.client() as v2:
        body, _, digest = get_manifest(v2, "alice/app", sha[:7])
        for tag in ("ci-main", "main", "latest"):
            assert get_manifest(v2, "alice/app", tag)[2] == digest
        manifest = json.loads(body)
        (layer,) = manifest["layers"]
        with tarfile.open(fileobj=io.BytesIO(get_blob(v2, "alice/app", layer["digest"]))) as tar:
            member = tar.extractfile("hello.txt")
            assert member is not None
            assert member.read() == b"two\n"  # the pushed commit, not the first
    out = tmp_path / "pulled"
    run(
        "skopeo", "copy", "--src-tls-verify=false", "--src-creds", f"{ALICE[0]}:{ALICE[1]}",
        f"docker://{server.host}/alice/app:ci-main", f"dir:{out}", check=True,
    )  # fmt: skip
    assert (out / "manifest.json").read_bytes() == body
