"""The build API over ASGI (no builder runs: the job runner is off, builds stay queued):
Quay's shapes and refusals, the file drop, cancel, logs access, the events and usage-log
entries a build writes, and the internal-error retry."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from berth.builds.types import BuildContext
from berth.registry.models import Repository
from berth.registry.repositories import RepoName
from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.conftest import Berth

pytestmark = pytest.mark.asyncio
BUILDS = "/api/v1/repository/alice/app/build/"
DOCKERFILE = b"FROM scratch\nCOPY a /a\n"


def context(files: dict[str, bytes] | None = None) -> bytes:
    files = files or {"Dockerfile": DOCKERFILE, "a": b"a"}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture
async def b(configured: Callable[..., Any]) -> AsyncIterator[Berth]:
    async with configured(BERTH_RUN_WORKERS_IN_PROCESS=False, BERTH_BUILD_MAX_QUEUED=3) as reg:
        r = await reg.http.post(
            "/api/v1/repository",
            json={"repository": "app", "visibility": "private", "description": ""},
            headers=await h(reg),
        )
        assert r.status_code == 201, r.text
        yield reg


async def h(b: Berth, who: str = "alice", scope: str | None = None) -> dict[str, str]:
    return bearer(await oauth_token(b, who, *([scope] if scope else [])))


async def drop(b: Berth, data: bytes) -> str:
    r = await b.http.post(
        "/api/v1/filedrop/", json={"mimeType": "application/gzip"}, headers=await h(b)
    )
    assert r.status_code == 200, r.text
    url = httpx.URL(r.json()["url"])
    assert url.host == "localhost"  # Berth's own URL (SERVER_HOSTNAME), not a storage's
    put = await b.http.put(url.raw_path.decode(), content=data)
    assert put.status_code == 200, put.text
    return str(r.json()["file_id"])


async def start(b: Berth, status: int = 201, **body: Any) -> Any:
    r = await b.http.post(BUILDS, json=body, headers=await h(b))
    assert r.status_code == status, r.text
    return r.json()


async def test_start_get_list_and_cancel(b: Berth) -> None:
    file_id = await drop(b, context())
    build = await start(b, file_id=file_id, docker_tags=["v1"], dockerfile_path="/Dockerfile")
    assert build["phase"] == "waiting"
    assert len(build["display_name"]) == 7
    assert build["started"].endswith("-0000")
    assert build["tags"] == ["v1"]
    assert build["error"] is None
    got = await b.http.get(BUILDS + build["id"], headers=await h(b))
    assert got.status_code == 200
    assert got.json() == build
    status = await b.http.get(BUILDS + build["id"] + "/status", headers=await h(b))
    assert status.json() == build
    listed = await b.http.get(BUILDS, params={"limit": 1}, headers=await h(b))
    assert listed.json() == {"builds": [build]}
    # a reader sees the build but neither the file nor the logs
    await b.services.permissions.set_user_permission(_app(), "bob", "read")
    seen = (await b.http.get(BUILDS + build["id"], headers=await h(b, "bob"))).json()
    assert seen["is_writer"] is False
    assert seen["resource_key"] is None
    logs = await b.http.get(BUILDS + build["id"] + "/logs", headers=await h(b, "bob"))
    assert logs.status_code == 403
    mine = await b.http.get(BUILDS + build["id"] + "/logs", headers=await h(b))
    assert mine.json() == {"start": 0, "total": 0, "logs": []}
    # cancel: "Okay", the phase, then 400 the second time
    r = await b.http.delete(BUILDS + build["id"], headers=await h(b))
    assert r.status_code == 201
    assert r.json() == "Okay"
    after = (await b.http.get(BUILDS + build["id"], headers=await h(b))).json()
    assert after["phase"] == "cancelled"
    logs_after = (await b.http.get(BUILDS + build["id"] + "/logs", headers=await h(b))).json()
    assert [e["message"] for e in logs_after["logs"]] == ["cancelled"]
    assert logs_after["logs"][0]["type"] == "phase"
    again = await b.http.delete(BUILDS + build["id"], headers=await h(b))
    assert again.status_code == 400
    assert again.json()["error_message"] == "Build cannot be cancelled"
    unknown = await b.http.get(BUILDS + "no-such-build", headers=await h(b))
    assert unknown.status_code == 404


def _app() -> RepoName:
    return RepoName("alice", "app")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing required parameter: file_id or archive_url"),
        ({"file_id": "nope"}, "not found"),
        ({"archive_url": "ftp://example.com/x.tar"}, "http or https URL"),
        ({"archive_url": "https://example.com/x.tgz", "docker_tags": ["bad tag"]}, "Invalid tag"),
        ({"archive_url": "https://example.com/x.tgz", "dockerfile_path": "../x"}, "'..'"),
        ({"archive_url": "https://example.com/x.tgz", "pull_robot": "alice+ghost"}, "robot"),
    ],
)
async def test_bad_requests_are_400_and_queue_nothing(
    b: Berth, body: dict[str, Any], message: str
) -> None:
    r = await b.http.post(BUILDS, json=body, headers=await h(b))
    assert r.status_code == 400, r.text
    assert message in r.json()["error_message"]
    assert (await b.http.get(BUILDS, headers=await h(b))).json() == {"builds": []}
    assert not await b.services.jobs.list(kind="run_build")


async def test_queue_limit_is_429_and_repository_state_503(b: Berth) -> None:
    for _ in range(3):
        await start(b, archive_url="https://example.com/ctx.tgz")
    r = await b.http.post(BUILDS, json={"archive_url": "https://example.com/x"}, headers=await h(b))
    assert r.status_code == 429
    assert r.json() == {"message": "Maximum queued build rate exceeded."}
    async with b.services.db.write() as s:
        await s.execute(update(Repository).where(Repository.name == "app").values(state="MIRROR"))
    for build in (await b.http.get(BUILDS, headers=await h(b))).json()["builds"]:
        await b.http.delete(BUILDS + build["id"], headers=await h(b))
    r = await b.http.post(BUILDS, json={"archive_url": "https://example.com/x"}, headers=await h(b))
    assert r.status_code == 503
    assert r.json() == {"message": "Repository is in read only or mirror mode: MIRROR"}


async def test_who_may_start_and_cancel(b: Berth) -> None:
    await b.services.permissions.set_user_permission(_app(), "bob", "write")
    r = await b.http.post(
        BUILDS, json={"archive_url": "https://example.com/x"}, headers=await h(b, "bob")
    )
    assert r.status_code == 201, r.text
    # bob writes but doesn't administer: no cancel; and alice's robot isn't his to use
    cancel = await b.http.delete(BUILDS + r.json()["id"], headers=await h(b, "bob"))
    assert cancel.status_code == 403
    await b.services.robots.create("alice", "puller", performer="alice")
    robot = await b.http.post(
        BUILDS,
        json={"archive_url": "https://example.com/x", "pull_robot": "alice+puller"},
        headers=await h(b, "bob"),
    )
    assert robot.status_code == 403
    # a token without repo:write can't start one
    read_only = await b.http.post(
        BUILDS,
        json={"archive_url": "https://example.com/x"},
        headers=await h(b, "alice", "repo:read"),
    )
    assert read_only.status_code == 403


async def test_file_drop_signature_size_and_reuse(configured: Callable[..., Any]) -> None:
    async with configured(
        BERTH_RUN_WORKERS_IN_PROCESS=False, BERTH_BUILD_MAX_CONTEXT_BYTES=1000
    ) as b:
        r = await b.http.post(
            "/api/v1/filedrop/", json={"mimeType": "text/plain"}, headers=await h(b)
        )
        url = httpx.URL(r.json()["url"])
        path = url.raw_path.decode()
        forged = path.replace("signature=", "signature=0")
        assert (await b.http.put(forged, content=b"FROM scratch\n")).status_code == 403
        assert (await b.http.put(path, content=b"x" * 1001)).status_code == 413
        assert (await b.http.put(path, content=b"FROM scratch\n")).status_code == 200
        assert (await b.http.put(path, content=b"FROM scratch\n")).status_code == 404  # once
        anon = await b.http.post("/api/v1/filedrop/", json={"mimeType": "text/plain"})
        assert anon.status_code in (401, 403)


async def test_feature_off_hides_the_routes(configured: Callable[..., Any]) -> None:
    async with configured(FEATURE_BUILD_SUPPORT=False) as b:
        r = await b.http.get(BUILDS, headers=await h(b))
        assert r.status_code == 404


async def test_events_and_usage_logs(b: Berth) -> None:
    for event in ("build_queued", "build_cancelled"):
        r = await b.http.post(
            "/api/v1/repository/alice/app/notification/",
            json={
                "event": event,
                "method": "quay_notification",
                "config": {"target": {"kind": "user", "name": "alice"}},
                "eventConfig": {},
            },
            headers=await h(b),
        )
        assert r.status_code == 201, r.text
    file_id = await drop(b, context())
    build = await start(b, file_id=file_id, docker_tags=["v1", "latest"])
    await b.http.delete(BUILDS + build["id"], headers=await h(b))
    jobs = await b.services.jobs.list(kind="deliver_notification")
    by_event = {j.payload["event"]: j.payload["data"] for j in jobs}
    assert set(by_event) == {"build_queued", "build_cancelled"}
    queued = by_event["build_queued"]
    assert queued["build_id"] == build["id"]
    assert queued["docker_tags"] == ["v1", "latest"]
    assert queued["repository"] == "alice/app"
    assert queued["namespace"] == "alice"
    assert queued["name"] == "app"
    assert queued["repo"] == "app"
    assert queued["docker_url"] == "localhost:5000/alice/app"
    assert queued["homepage"] == f"http://localhost:5000/repository/alice/app/build/{build['id']}"
    assert queued["is_manual"] is True
    assert queued["manual_user"] == "alice"
    assert queued["build_name"] == build["display_name"]
    assert queued["trigger_metadata"] == {}
    assert "trigger_id" not in queued
    r = await b.http.get("/api/v1/repository/alice/app/logs", headers=await h(b))
    kinds = [(e["kind"], e["metadata"]) for e in r.json()["logs"]]
    (queued_log,) = [m for k, m in kinds if k == "build_dockerfile"]
    assert queued_log["build_id"] == build["id"]
    assert queued_log["fileid"] == file_id
    assert queued_log["docker_tags"] == ["v1", "latest"]
    assert queued_log["manual_user"] == "alice"
    assert [m["build_id"] for k, m in kinds if k == "cancel_build"] == [build["id"]]


async def test_a_trigger_build_through_the_service(b: Berth) -> None:
    """What the triggers feature calls: the caller's transaction, the trigger's metadata."""
    svc = b.services.builds
    r = await b.http.post(
        "/api/v1/repository/alice/app/notification/",
        json={
            "event": "build_queued",
            "method": "quay_notification",
            "config": {"target": {"kind": "user", "name": "alice"}},
            "eventConfig": {},
        },
        headers=await h(b),
    )
    assert r.status_code == 201, r.text
    metadata = {"commit": "a" * 40, "ref": "refs/heads/main", "default_branch": "main"}
    async with b.services.db.write() as s:
        build = await svc.start_build(
            s,
            namespace="alice",
            repository="app",
            performer=None,
            context=BuildContext.git("https://git.example/app.git", "refs/heads/main", "a" * 40),
            docker_tags=["main"],
            subdirectory="/sub",
            trigger_uuid="6a1e2f3c-0000-4000-8000-000000000001",
            trigger_metadata=metadata,
            trigger_kind="custom-git",
        )
    assert build.display_name == "a" * 7
    assert build.context == "/sub"
    assert build.dockerfile_path == "/sub/Dockerfile"
    view = (await b.http.get(BUILDS + build.uuid, headers=await h(b))).json()
    assert view["trigger"] == {"id": "6a1e2f3c-0000-4000-8000-000000000001"}
    assert view["trigger_metadata"] == metadata
    assert view["manual_user"] is None
    (job,) = await b.services.jobs.list(kind="deliver_notification")
    data = job.payload["data"]
    assert data["trigger_kind"] == "custom-git"
    assert data["trigger_id"] == "6a1e2f3c-0000-4000-8000-000000000001"
    assert data["trigger_metadata"] == metadata
    assert data["is_manual"] is False


async def test_a_lost_workers_build_is_internalerror_and_retryable(b: Berth) -> None:
    """The manager's path when it finds its build past ``waiting`` (the worker died)."""
    svc = b.services.builds
    assert svc is not None
    build = await start(b, archive_url="https://example.com/x")
    lost = "The build's worker was lost"
    await svc.transition(build["id"], "building")
    assert await svc.restart(build["id"], lost) is True  # one retry by default
    assert (await svc.find(build["id"])).phase == "waiting"
    await svc.transition(build["id"], "building")
    assert await svc.restart(build["id"], lost) is False
    after = (await b.http.get(BUILDS + build["id"], headers=await h(b))).json()
    assert after["phase"] == "internalerror"
    assert after["error"] == lost
    retried = await svc.retry(build["id"], performer=None)
    assert retried.phase == "waiting"
    runs = [j for j in await b.services.jobs.list(kind="run_build") if j.state == "queued"]
    assert len(runs) == 2  # the first queueing, and the retry's


async def test_running_builds_are_bounded_per_namespace_and_overall(
    configured: Callable[..., Any],
) -> None:
    """The manager's slots (PostgreSQL: under an advisory lock): per_namespace 1, total 2."""
    keys = {"BERTH_RUN_WORKERS_IN_PROCESS": False, "BERTH_BUILD_CONCURRENCY": {"total": 2}}
    async with configured(**keys) as b:
        for ns in ("alice", "bob"):
            r = await b.http.post(
                "/api/v1/repository",
                json={"repository": "app", "visibility": "private", "description": ""},
                headers=await h(b, ns),
            )
            assert r.status_code == 201, r.text
        svc = b.services.builds
        assert svc is not None

        async def queued(ns: str) -> str:
            r = await b.http.post(
                f"/api/v1/repository/{ns}/app/build/",
                json={"archive_url": "https://example.com/x"},
                headers=await h(b, ns),
            )
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        a1, a2, b1 = await queued("alice"), await queued("alice"), await queued("bob")
        first = await svc.claim_slot(a1)
        assert not isinstance(first, bool)
        assert first is not None
        assert first.phase == "build-scheduled"
        assert await svc.claim_slot(a2) is False  # alice already runs one
        assert await svc.claim_slot(b1) not in (None, False)  # bob's is the second overall
        c1 = await queued("alice")
        await svc.transition(a1, "complete")
        assert await svc.claim_slot(a2) not in (None, False)
        assert await svc.claim_slot(c1) is False  # two running: a2 and b1
        assert await svc.claim_slot(a1) is None  # not waiting any more


async def test_an_upload_is_its_uploaders_and_old_ones_are_forgotten(b: Berth) -> None:
    svc = b.services.builds
    assert svc is not None
    await b.services.permissions.set_user_permission(_app(), "bob", "write")
    file_id = await drop(b, context())  # alice's
    r = await b.http.post(BUILDS, json={"file_id": file_id}, headers=await h(b, "bob"))
    assert r.status_code == 400
    assert "not found" in r.json()["error_message"]
    build = await start(b, file_id=file_id)
    unused = await drop(b, context())
    # a day later: the unused upload goes, the waiting build's stays ...
    assert await svc.purge_files(older_than_s=0) == 1
    assert (await svc.context_source(build["id"]))[0] is not None
    r = await b.http.post(BUILDS, json={"file_id": unused}, headers=await h(b))
    assert r.status_code == 400
    # ... until the build has ended
    await b.http.delete(BUILDS + build["id"], headers=await h(b))
    assert await svc.purge_files(older_than_s=0) == 1
    assert (await svc.context_source(build["id"]))[0] is None
    assert await svc.purge_files() == 0  # nothing a day old
