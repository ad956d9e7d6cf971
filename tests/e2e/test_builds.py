"""Dockerfile builds through the API, run by Debian's buildah in a real ``berth serve``.

A context uploaded through the file drop is built and pushed back into Berth, and pulled
with skopeo; a build ``FROM`` an image of a private repository pulls it with a robot; a
cancel stops a running build; the log grows while a build runs; bad archives are refused
before anything is queued.
"""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import embedded_config
from tests.e2e.conftest import ALICE, BerthServer, StartServer
from tests.e2e.support import get_blob, get_manifest
from tests.support.clients import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BUSYBOX = Path("/bin/busybox")
FINISHED = {"complete", "error", "cancelled", "expired", "internalerror"}


def tar_context(files: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name == "busybox" else 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return out.getvalue()


@pytest.fixture
def server(berth_factory: StartServer, tmp_path: Path) -> BerthServer:
    config = embedded_config(
        tmp_path,
        BERTH_BUILD_CONCURRENCY={"total": 2, "per_namespace": 2},
        BUILD_MANAGER=["local", {"EXECUTORS": [{"EXECUTOR": "local", "MAXIMUM_BUILD_TIME": "5m"}]}],
    )
    server = berth_factory(config, name="builds")
    server.create_user(*ALICE)
    with signed_in(server) as http:
        for name in ("built", "base", "slow"):
            r = http.post(
                "/api/v1/repository",
                json={"repository": name, "visibility": "private", "description": ""},
            )
            assert r.status_code == 201, r.text
    return server


@contextlib.contextmanager
def signed_in(server: BerthServer) -> Iterator[httpx.Client]:
    """An /api/v1 client signed in as alice, its CSRF token in every request."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        csrf = http.get("/csrf_token").json()["csrf_token"]
        r = http.post(
            "/api/v1/signin",
            json={"username": ALICE[0], "password": ALICE[1]},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 200, r.text
        http.headers["X-CSRF-Token"] = r.headers["x-next-csrf-token"]
        yield http


def upload(http: httpx.Client, data: bytes, mime: str = "application/gzip") -> str:
    r = http.post("/api/v1/filedrop/", json={"mimeType": mime})
    assert r.status_code == 200, r.text
    drop = r.json()
    assert set(drop) == {"url", "file_id"}
    assert drop["url"].startswith(str(http.base_url).rstrip("/") + "/api/v1/filedrop/")
    put = httpx.put(drop["url"], content=data, timeout=60)  # the signed URL, no credentials
    assert put.status_code == 200, put.text
    return str(drop["file_id"])


def start(http: httpx.Client, repo: str, **body: Any) -> dict[str, Any]:
    r = http.post(f"/api/v1/repository/alice/{repo}/build/", json=body)
    assert r.status_code == 201, r.text
    build: dict[str, Any] = r.json()
    assert r.headers["Location"].endswith(f"/api/v1/repository/alice/{repo}/build/{build['id']}")
    return build


def wait(
    http: httpx.Client, repo: str, uuid: str, phases: set[str], limit: float = 300
) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = http.get(f"/api/v1/repository/alice/{repo}/build/{uuid}/status")
        assert r.status_code == 200, r.text
        build: dict[str, Any] = r.json()
        if build["phase"] in phases:
            return build
        time.sleep(0.3)
    logs = http.get(f"/api/v1/repository/alice/{repo}/build/{uuid}/logs").json()
    pytest.fail(
        f"build {uuid} never reached {phases}: {build['phase']}\n{json.dumps(logs)[-3000:]}"
    )


def logs(http: httpx.Client, repo: str, uuid: str, start: int = 0) -> dict[str, Any]:
    r = http.get(f"/api/v1/repository/alice/{repo}/build/{uuid}/logs", params={"start": start})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_scratch_copy_built_pushed_and_pulled_back(server: BerthServer, tmp_path: Path) -> None:
    hello = b"hello from a Berth build\n"
    dockerfile = b'FROM scratch\nCOPY hello.txt /hello.txt\nLABEL built.by="berth"\n'
    with signed_in(server) as http, server.client() as v2:
        file_id = upload(http, tar_context({"Dockerfile": dockerfile, "hello.txt": hello}))
        build = start(http, "built", file_id=file_id, docker_tags=["v1", "latest"])
        assert build["phase"] == "waiting"
        assert build["tags"] == ["v1", "latest"]
        assert build["manual_user"] == "alice"
        assert build["repository"] == {"namespace": "alice", "name": "built"}
        assert build["resource_key"] == file_id
        assert build["is_writer"] is True
        assert build["trigger"] is None
        assert build["dockerfile_path"] == "/Dockerfile"
        assert build["context"] == "/"
        assert set(build) >= {
            "id", "phase", "started", "display_name", "status", "subdirectory",
            "dockerfile_path", "context", "tags", "manual_user", "is_writer", "trigger",
            "trigger_metadata", "resource_key", "pull_robot", "repository", "error",
        }  # fmt: skip

        done = wait(http, "built", build["id"], FINISHED)
        entries = logs(http, "built", build["id"])
        assert done["phase"] == "complete", json.dumps(entries)[-3000:]
        assert done["error"] is None

        # the log: Quay's entry kinds, phases in order, the builder's steps as commands
        assert entries["start"] == 0
        assert entries["total"] == len(entries["logs"])
        phases = [e["message"] for e in entries["logs"] if e.get("type") == "phase"]
        assert phases == [
            "build-scheduled", "unpacking", "pulling", "building", "pushing", "complete"
        ]  # fmt: skip
        commands = [e["message"] for e in entries["logs"] if e.get("type") == "command"]
        assert any("COPY hello.txt /hello.txt" in c for c in commands)
        tail = logs(http, "built", build["id"], start=3)
        assert tail["start"] == 3
        assert tail["logs"] == entries["logs"][3:]

        listed = http.get("/api/v1/repository/alice/built/build/").json()["builds"]
        assert [b["id"] for b in listed] == [build["id"]]

        # pulled back over /v2: the layer holds the file, the config the label
        body, _, digest = get_manifest(v2, "alice/built", "v1")
        _, _, latest = get_manifest(v2, "alice/built", "latest")
        assert latest == digest
        manifest = json.loads(body)
        config = json.loads(get_blob(v2, "alice/built", manifest["config"]["digest"]))
        assert config["config"]["Labels"]["built.by"] == "berth"
        (layer,) = manifest["layers"]
        blob = get_blob(v2, "alice/built", layer["digest"])
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            member = tar.extractfile("hello.txt")
            assert member is not None
            assert member.read() == hello

    # and a real client pulls it
    out = tmp_path / "pulled"
    run(
        "skopeo", "copy", "--src-tls-verify=false", "--src-creds", f"{ALICE[0]}:{ALICE[1]}",
        f"docker://{server.host}/alice/built:v1", f"dir:{out}", check=True,
    )  # fmt: skip
    assert (out / "manifest.json").read_bytes() == body


def _push_base(server: BerthServer, tmp_path: Path) -> None:
    """A busybox image (``FROM scratch`` + the static busybox) in the private alice/base."""
    with signed_in(server) as http:
        files = {
            "Dockerfile": b"FROM scratch\nCOPY busybox /bin/busybox\n",
            "busybox": BUSYBOX.read_bytes(),
        }
        build = start(http, "base", file_id=upload(http, tar_context(files)), docker_tags=["1"])
        assert wait(http, "base", build["id"], FINISHED)["phase"] == "complete"


def _robot(server: BerthServer) -> str:
    with signed_in(server) as http:
        r = http.put("/api/v1/user/robots/puller", json={"description": "pulls base images"})
        assert r.status_code == 201, r.text
        r = http.put(
            "/api/v1/repository/alice/base/permissions/user/alice+puller", json={"role": "read"}
        )
        assert r.status_code == 200, r.text
    return "alice+puller"


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")
def test_from_a_private_repository_with_a_pull_robot(server: BerthServer, tmp_path: Path) -> None:
    _push_base(server, tmp_path)
    robot = _robot(server)
    dockerfile = (
        f"FROM {server.host}/alice/base:1\n"
        'RUN ["/bin/busybox", "sh", "-c", "echo built-on-base > /marker"]\n'
    ).encode()
    with signed_in(server) as http, server.client() as v2:
        # without the robot the private base can't be pulled: the build fails
        failed = start(http, "built", file_id=upload(http, tar_context({"Dockerfile": dockerfile})))
        done = wait(http, "built", failed["id"], FINISHED)
        assert done["phase"] == "error"
        build = start(
            http, "built", file_id=upload(http, tar_context({"Dockerfile": dockerfile})),
            pull_robot=robot, docker_tags=["on-base"],
        )  # fmt: skip
        assert build["pull_robot"] == {"name": robot, "kind": "user", "is_robot": True}
        done = wait(http, "built", build["id"], FINISHED)
        text = json.dumps(logs(http, "built", build["id"]))
        assert done["phase"] == "complete", text[-3000:]
        body, _, _ = get_manifest(v2, "alice/built", "on-base")
        manifest = json.loads(body)
        assert len(manifest["layers"]) == 2
        top = get_blob(v2, "alice/built", manifest["layers"][-1]["digest"])
        with tarfile.open(fileobj=io.BytesIO(top)) as tar:
            marker = tar.extractfile("marker")
            assert marker is not None
            assert marker.read() == b"built-on-base\n"


def processes_with(marker: str) -> list[str]:
    """Command lines of this machine's processes that mention ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(cmdline)
    return found


def gone(marker: str, limit: float = 20) -> bool:
    deadline = time.monotonic() + limit
    while processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")
def test_cancel_stops_a_running_build_and_its_log_grows(
    server: BerthServer, tmp_path: Path
) -> None:
    _push_base(server, tmp_path)
    robot = _robot(server)
    marker = f"berth-cancel-{uuid.uuid4().hex[:10]}"
    dockerfile = (
        f"FROM {server.host}/alice/base:1\n"
        'RUN ["/bin/busybox", "sh", "-c", '
        f'"i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done # {marker}"]\n'
    ).encode()
    with signed_in(server) as http, server.client() as v2:
        build = start(
            http, "slow", file_id=upload(http, tar_context({"Dockerfile": dockerfile})),
            pull_robot=robot,
        )  # fmt: skip
        wait(http, "slow", build["id"], {"building", *FINISHED})
        seen: list[int] = []
        deadline = time.monotonic() + 120
        while len(set(seen)) < 3 and time.monotonic() < deadline:
            seen.append(logs(http, "slow", build["id"])["total"])
            time.sleep(0.7)
        assert seen == sorted(seen), seen  # only grows
        assert len(set(seen)) >= 3, f"the log did not grow while the build ran: {seen}"
        ticks = [
            e for e in logs(http, "slow", build["id"])["logs"] if e["message"].startswith("tick")
        ]
        assert ticks
        assert "type" not in ticks[0]  # output lines carry no type
        assert processes_with(marker), "the RUN step should be running"

        r = http.delete(f"/api/v1/repository/alice/slow/build/{build['id']}")
        assert r.status_code == 201
        assert r.json() == "Okay"
        done = wait(http, "slow", build["id"], FINISHED, limit=30)
        assert done["phase"] == "cancelled"
        # the builder stopped, its RUN step included: nothing of it is left running
        assert gone(marker), processes_with(marker)
        total = logs(http, "slow", build["id"])["total"]
        time.sleep(2)
        assert logs(http, "slow", build["id"])["total"] == total
        again = http.delete(f"/api/v1/repository/alice/slow/build/{build['id']}")
        assert again.status_code == 400
        assert v2.get("/v2/alice/slow/tags/list").json().get("tags") in (None, [])


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")
def test_a_build_whose_server_dies_is_retried(server: BerthServer, tmp_path: Path) -> None:
    """SIGKILL while a RUN step runs: the builder dies with the server; after the restart
    the job's lease expires (a minute), the build is logged as an internal error and built
    again, to completion."""
    _push_base(server, tmp_path)
    robot = _robot(server)
    marker = f"berth-crash-{uuid.uuid4().hex[:10]}"
    dockerfile = (
        f"FROM {server.host}/alice/base:1\n"
        'RUN ["/bin/busybox", "sh", "-c", '
        f'"echo start; sleep 4; echo done > /done # {marker}"]\n'
    ).encode()
    with signed_in(server) as http:
        build = start(
            http, "slow", file_id=upload(http, tar_context({"Dockerfile": dockerfile})),
            pull_robot=robot, docker_tags=["crash"],
        )  # fmt: skip
        wait(http, "slow", build["id"], {"building", *FINISHED})
        deadline = time.monotonic() + 60
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_with(marker)
    server.kill()
    assert gone(marker), "the builder outlived its worker"
    server.start()
    with signed_in(server) as http:
        done = wait(http, "slow", build["id"], FINISHED, limit=240)
        entries = logs(http, "slow", build["id"])["logs"]
        assert done["phase"] == "complete", json.dumps(entries)[-3000:]
        errors = [e["message"] for e in entries if e.get("type") == "error"]
        assert any("worker was lost" in m for m in errors), errors
        phases = [e["message"] for e in entries if e.get("type") == "phase"]
        assert phases.count("build-scheduled") == 2
        assert phases[-1] == "complete"


def _server_with(
    berth_factory: StartServer, tmp_path: Path, name: str, **executor: Any
) -> tuple[BerthServer, str]:
    """A server whose local executor has ``executor``'s keys, with alice/base and a robot."""
    manager = ["local", {"EXECUTORS": [{"EXECUTOR": "local", **executor}]}]
    server = berth_factory(embedded_config(tmp_path / name, BUILD_MANAGER=manager), name=name)
    server.create_user(*ALICE)
    with signed_in(server) as http:
        for repo in ("base", "slow"):
            r = http.post(
                "/api/v1/repository",
                json={"repository": repo, "visibility": "private", "description": ""},
            )
            assert r.status_code == 201, r.text
    _push_base(server, tmp_path)
    return server, _robot(server)


def _reach(server: BerthServer, robot: str) -> tuple[dict[str, Any], str]:
    """A build whose RUN step connects to Berth's port on the host's loopback."""
    ip, port = server.host.split(":")
    dockerfile = (
        f"FROM {server.host}/alice/base:1\n"
        'RUN ["/bin/busybox", "sh", "-c", '
        f'"/bin/busybox nc -w 3 {ip} {port} </dev/null; echo EXIT=$?"]\n'
    ).encode()
    with signed_in(server) as http:
        build = start(
            http, "slow", file_id=upload(http, tar_context({"Dockerfile": dockerfile})),
            pull_robot=robot,
        )  # fmt: skip
        done = wait(http, "slow", build["id"], FINISHED)
        return done, json.dumps(logs(http, "slow", build["id"]))


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")
def test_no_network_unless_configured(berth_factory: StartServer, tmp_path: Path) -> None:
    """RUN steps reach nothing by default; with BUILDER_NETWORK host the same step reaches
    the server (so the first answer is the network's absence, not a broken probe)."""
    server, robot = _server_with(berth_factory, tmp_path, "nonet")
    done, text = _reach(server, robot)
    assert done["phase"] == "complete", text[-2000:]
    assert "EXIT=0" not in text
    assert "EXIT=" in text
    server.stop()
    host, robot = _server_with(
        berth_factory, tmp_path, "hostnet", BUILDER_NETWORK="host", ISOLATION="chroot"
    )
    done, text = _reach(host, robot)
    assert done["phase"] == "complete", text[-2000:]
    assert "EXIT=0" in text, text[-2500:]


@pytest.mark.skipif(not BUSYBOX.exists(), reason="needs busybox-static")
def test_a_build_that_runs_forever_stops_at_the_time_limit(
    berth_factory: StartServer, tmp_path: Path
) -> None:
    server, robot = _server_with(berth_factory, tmp_path, "limits", MAXIMUM_BUILD_TIME="20s")
    forever = (
        f"FROM {server.host}/alice/base:1\n"
        'RUN ["/bin/busybox", "sh", "-c", "while true; do sleep 1; done"]\n'
    ).encode()
    with signed_in(server) as http:
        build = start(
            http, "slow", file_id=upload(http, tar_context({"Dockerfile": forever})),
            pull_robot=robot,
        )  # fmt: skip
        done = wait(http, "slow", build["id"], FINISHED, limit=120)
        assert done["phase"] == "error"
        assert done["error"] == "The build took longer than 20 seconds"


@pytest.mark.parametrize(
    ("files", "symlinks", "message"),
    [
        ({"Dockerfile": b"FROM scratch\n", "../escape": b"x"}, None, "'..'"),
        ({"Dockerfile": b"FROM scratch\n", "/etc/evil": b"x"}, None, "absolute"),
        ({"Dockerfile": b"FROM scratch\n"}, {"link": "../../etc/passwd"}, "outside the context"),
        ({"Dockerfile": b"FROM scratch\n", "big": b"\0" * (3 * 1024 * 1024)}, None, "more than"),
        ({"README": b"no dockerfile here"}, None, "no Dockerfile"),
    ],
)
def test_bad_archives_are_refused_and_nothing_is_queued(
    berth_factory: StartServer,
    tmp_path: Path,
    files: dict[str, bytes],
    symlinks: dict[str, str] | None,
    message: str,
) -> None:
    config = embedded_config(tmp_path, BERTH_BUILD_MAX_UNPACKED_BYTES=1024 * 1024)
    server = berth_factory(config, name="bad-archives")
    server.create_user(*ALICE)
    with signed_in(server) as http:
        r = http.post(
            "/api/v1/repository",
            json={"repository": "built", "visibility": "private", "description": ""},
        )
        assert r.status_code == 201
        file_id = upload(http, tar_context(files, symlinks=symlinks))
        r = http.post("/api/v1/repository/alice/built/build/", json={"file_id": file_id})
        assert r.status_code == 400, r.text
        assert message in r.json()["error_message"]
        assert http.get("/api/v1/repository/alice/built/build/").json() == {"builds": []}


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[str]:
    """A local HTTP server answering ``body`` at /ctx.tar.gz; yields its URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/ctx.tar.gz"
    finally:
        srv.shutdown()
        srv.server_close()


def test_an_archive_url_is_fetched_through_the_ssrf_guard(
    berth_factory: StartServer, tmp_path: Path
) -> None:
    """The worker fetches ``archive_url`` through the outbound client: a loopback URL is
    refused (the build ends in ``error`` saying so) until SSRF_ALLOWED_HOSTS lists it."""
    ctx = tar_context({"Dockerfile": b"FROM scratch\nCOPY a /a\n", "a": b"from a URL\n"})
    for allowed, phase in ((False, "error"), (True, "complete")):
        extra = {"SSRF_ALLOWED_HOSTS": ["127.0.0.1"]} if allowed else {}
        name = f"url-{allowed}"
        server = berth_factory(embedded_config(tmp_path / name, **extra), name=name)
        server.create_user(*ALICE)
        with signed_in(server) as http, serving(ctx) as url:
            r = http.post(
                "/api/v1/repository",
                json={"repository": "built", "visibility": "private", "description": ""},
            )
            assert r.status_code == 201, r.text
            build = start(http, "built", archive_url=url, docker_tags=["url"])
            assert build["archive_url"] == url
            done = wait(http, "built", build["id"], FINISHED)
            text = json.dumps(logs(http, "built", build["id"]))
            assert done["phase"] == phase, text[-2000:]
            if not allowed:
                assert "could not fetch" in done["error"]
        server.stop()
