"""Identity over the registry protocol: robots log in and push, tokens regenerate, repositories
created by push get their creator and default permissions, login backoff, org deletion."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from berth.audit.services import list_logs
from berth.db.base import now_ms
from berth.identity.models import User
from berth.registry.repositories import RepoName
from tests.integration.conftest import OCI_MANIFEST, Berth, assert_error, token_access
from tests.integration.identity_scenario import APP, PASSWORD, add_users, build


async def test_robot_logs_in_and_pushes_into_granted_org_repo(registry: Berth) -> None:
    sc = await build(registry)
    token = sc.tokens["acme+writer"]
    robot = registry.client("acme+writer", password=token)
    resp = await robot.token(f"repository:{APP.full}:pull,push")
    assert resp.status_code == 200, resp.text
    assert token_access(resp.json()["token"])[APP.full] == {"pull", "push"}
    pushed = await robot.push_image(APP.full, "from-robot")
    reader = registry.client("reader", password=PASSWORD)
    resp = await reader.get(
        f"/v2/{APP.full}/manifests/from-robot", headers={"Accept": OCI_MANIFEST}
    )
    assert resp.status_code == 200
    assert resp.content == pushed.manifest
    # Not granted elsewhere: another org repository stays closed.
    resp = await robot.token("repository:acme/pub:pull,push")
    assert token_access(resp.json()["token"])["acme/pub"] == {"pull"}  # public: pull only

    await registry.services.robots.regenerate("acme", "writer", performer="orgadmin")
    resp = await registry.client("acme+writer", password=token).token(f"repository:{APP.full}:pull")
    assert_error(resp, 401, "UNAUTHORIZED")
    new = (await registry.services.robots.get("acme", "writer")).token
    resp = await registry.client("acme+writer", password=new).token(f"repository:{APP.full}:push")
    assert token_access(resp.json()["token"])[APP.full] == {"push"}


async def test_robot_push_creates_repo_as_admin_with_prototypes(registry: Berth) -> None:
    """Quay's scenario: a creator-team robot pushes a new repository; it is private, the robot
    is its admin (its own write prototype skipped), the team prototype applies."""
    await build(registry)
    svc = registry.services
    robot = await svc.robots.create("acme", "cirobot", performer="orgadmin")
    await svc.teams.add_member("acme", "builders", "acme+cirobot", performer="orgadmin")
    await svc.permissions.create_prototype("acme", "write", delegate_user="acme+cirobot")
    await svc.permissions.create_prototype("acme", "read", delegate_team="devs")
    client = registry.client("acme+cirobot", password=robot.token)
    await client.push_image("acme/newrepo", "latest")
    repo = RepoName("acme", "newrepo")
    users = {p.name: p.role for p in await svc.permissions.list_user_permissions(repo)}
    assert users == {"acme+cirobot": "admin"}
    teams = {t.name: t.role for t in await svc.permissions.list_team_permissions(repo)}
    assert teams == {"devs": "read"}
    anon = registry.client(None)
    resp = await anon.get("/v2/acme/newrepo/manifests/latest")
    assert resp.status_code == 401  # private
    member = registry.client("member", password=PASSWORD)  # team devs: read
    resp = await member.get("/v2/acme/newrepo/manifests/latest", headers={"Accept": OCI_MANIFEST})
    assert resp.status_code == 200
    async with svc.db.read() as s:
        logs = await list_logs(s, kind="create_repo", repository="newrepo")
    assert [(log.namespace, log.performer) for log in logs] == [("acme", "acme+cirobot")]


async def test_basic_auth_push_by_creator_makes_it_admin(registry: Berth) -> None:
    await build(registry)
    creator = registry.client("creator", password=PASSWORD, basic=True)
    pushed = await creator.push_image("acme/made-by-basic", "v1")
    resp = await creator.get(
        "/v2/acme/made-by-basic/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert resp.status_code == 200
    assert resp.content == pushed.manifest
    resp = await creator.delete(f"/v2/acme/made-by-basic/manifests/{pushed.digest}")
    assert resp.status_code == 202


async def test_login_backoff_is_429_then_clears(registry: Berth) -> None:
    await add_users(registry, "carol")
    db = registry.services.db

    async def attempts() -> int:
        async with db.read() as s:
            q = select(User.invalid_login_attempts).where(User.username == "carol")
            return int((await s.execute(q)).scalar_one())

    wrong = registry.client("carol", password="wrong-password")
    resp = await wrong.token("repository:carol/app:pull")
    assert_error(resp, 401, "UNAUTHORIZED")
    assert await attempts() == 1
    # After 4 consecutive failures the user is locked out for 0.5 * (2**4 - 1) = 7.5 s,
    # even with the right password.
    async with db.write() as s:
        await s.execute(
            update(User)
            .where(User.username == "carol")
            .values(invalid_login_attempts=4, last_invalid_login=now_ms())
        )
    resp = await registry.client("carol", password=PASSWORD).token("repository:carol/app:pull")
    assert resp.status_code == 429
    # 7.5 s from the failure stamped above, less the time since (seconds on a loaded machine).
    assert 3 <= int(resp.headers["retry-after"]) <= 8
    async with db.write() as s:
        await s.execute(update(User).where(User.username == "carol").values(last_invalid_login=1))
    resp = await registry.client("carol", password=PASSWORD).token("repository:carol/app:pull")
    assert resp.status_code == 200
    assert await attempts() == 0


async def test_disabled_user_is_refused(registry: Berth) -> None:
    await add_users(registry, "dave")
    async with registry.services.db.write() as s:
        await s.execute(update(User).where(User.username == "dave").values(enabled=False))
    resp = await registry.client("dave", password=PASSWORD).token("repository:dave/app:pull")
    err = assert_error(resp, 401, "UNAUTHORIZED")
    assert err["message"] == "User account is disabled"


async def test_deleted_org_disappears_and_the_job_removes_it(registry: Berth) -> None:
    sc = await build(registry)
    svc = registry.services
    # This test runs the delete job itself: the server's own runner must not claim it first.
    await svc.runner.stop()
    await svc.orgs.delete("acme", performer="orgadmin")
    root = registry.client("root")
    resp = await root.get(f"/v2/{APP.full}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert resp.status_code == 401  # the namespace no longer exists: no actions at all
    job = await svc.jobs.claim("test", ["delete_namespace"])
    assert job is not None
    await svc.runner.bindings["delete_namespace"].run(job.payload)
    await svc.jobs.finish(job)
    # The name is free again; the old robot token is gone with its namespace.
    await svc.orgs.create("acme", creator="orgadmin")
    resp = await registry.client("root").get(
        f"/v2/{APP.full}/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert_error(resp, 404, "NAME_UNKNOWN")
    resp = await registry.client("acme+writer", password=sc.tokens["acme+writer"]).token(
        f"repository:{APP.full}:pull"
    )
    assert_error(resp, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("user", ["orgadmin"])
async def test_catalog_lists_only_visible(registry: Berth, user: str) -> None:
    await build(registry)
    await registry.client(user, password=PASSWORD).push_image(f"{user}/own", "v1")
    for who, expected in (
        ("orgadmin", ["acme/app", "acme/pub", "orgadmin/own"]),
        ("reader", ["acme/app"]),
        ("bob", []),
    ):
        c = registry.client(who, password=None if who == "bob" else PASSWORD)
        tok = (await c.token()).json()["token"]
        resp = await registry.http.get("/v2/_catalog", headers={"Authorization": f"Bearer {tok}"})
        assert resp.json()["repositories"] == expected, who
