"""Repository permissions over /api/v1 (users, robots, teams; Quay's error shapes; ``%2F``
paths; permission before existence; scope caps) and Quay's robot-push scenario checked
through them."""

from __future__ import annotations

from typing import Any

from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.api.test_robots import auth, logs, make_acme
from tests.integration.conftest import OCI_MANIFEST, Berth, token_access

APP = "/api/v1/repository/acme/app/permissions"
NO_USER_PERM = "User does not have permission for repo."
NO_TEAM_PERM = "Team does not have permission for repo."


async def make_app(registry: Berth) -> dict[str, str]:
    """acme (see make_acme) with acme/app pushed by alice and the robot acme+ci; alice's
    headers."""
    await make_acme(registry)
    h = await auth(registry, "alice")
    assert (
        await registry.http.put("/api/v1/organization/acme/robots/ci", headers=h)
    ).status_code == 201
    await registry.client("alice").push_image("acme/app", "v1")
    return h


def entity(view: dict[str, Any]) -> dict[str, Any]:
    """A user permission view with its avatar checked (kind) and left out."""
    out = dict(view)
    avatar = out.pop("avatar")
    assert avatar["name"] == out["name"]
    assert avatar["kind"] == ("robot" if out["is_robot"] else "user")
    return out


async def test_user_permissions(registry: Berth) -> None:
    h = await make_app(registry)
    r = await registry.http.put(f"{APP}/user/bob", headers=h, json={"role": "read"})
    assert r.status_code == 200, r.text
    assert entity(r.json()) == {
        "role": "read",
        "name": "bob",
        "is_robot": False,
        "is_org_member": True,
    }
    # Terraform's generated client escapes the slash.
    r = await registry.http.put(
        "/api/v1/repository/acme%2Fapp/permissions/user/carol", headers=h, json={"role": "write"}
    )
    assert r.status_code == 200, r.text
    assert entity(r.json())["is_org_member"] is False
    r = await registry.http.put(f"{APP}/user/acme+ci", headers=h, json={"role": "write"})
    assert entity(r.json()) == {
        "role": "write",
        "name": "acme+ci",
        "is_robot": True,
        "is_org_member": True,
    }
    r = await registry.http.put(f"{APP}/user/bob", headers=h, json={"role": "admin"})  # a change
    assert r.json()["role"] == "admin"

    r = await registry.http.get(f"{APP}/user/", headers=h)
    assert r.status_code == 200
    perms = {name: entity(view) for name, view in r.json()["permissions"].items()}
    assert {name: (p["role"], p["is_org_member"]) for name, p in perms.items()} == {
        "alice": ("admin", True),  # the creator
        "bob": ("admin", True),
        "carol": ("write", False),
        "acme+ci": ("write", True),
    }
    r = await registry.http.get(f"{APP}/user/carol", headers=h)
    assert entity(r.json()) == {
        "role": "write",
        "name": "carol",
        "is_robot": False,
        "is_org_member": False,
    }
    r = await registry.http.get(f"{APP}/user", headers=h)
    assert r.status_code == 308  # the collection wants its slash

    r = await registry.http.delete(f"{APP}/user/carol", headers=h)
    assert r.status_code == 204
    r = await registry.http.get(f"{APP}/user/carol", headers=h)
    assert (r.status_code, r.json()) == (400, {"message": NO_USER_PERM})
    r = await registry.http.delete(f"{APP}/user/carol", headers=h)
    assert_problem(r, 400, "invalid_request", NO_USER_PERM)
    r = await registry.http.get(f"{APP}/user/", headers=h)
    assert set(r.json()["permissions"]) == {"alice", "bob", "acme+ci"}

    entries = [x for x in await logs(registry, "acme") if "repo_permission" in x.kind]
    assert [(x.kind, x.repository, x.performer, x.metadata) for x in entries[:2]] == [
        (
            "delete_repo_permission",
            "app",
            "alice",
            {"username": "carol", "repo": "app", "namespace": "acme"},
        ),
        (
            "change_repo_permission",
            "app",
            "alice",
            {"username": "bob", "role": "admin", "repo": "app", "namespace": "acme"},
        ),
    ]
    assert [x.kind for x in entries[2:]] == ["change_repo_permission"] * 3


async def test_user_permission_errors_change_nothing(registry: Berth) -> None:
    h = await make_app(registry)
    await registry.http.put("/api/v1/user/robots/bot", headers=h)  # alice+bot
    before = (await registry.http.get(f"{APP}/user/", headers=h)).json()
    for user, role, detail in (
        ("ghost", "read", "Invalid username: ghost"),
        ("alice+bot", "read", "Cannot add robot alice+bot under namespace acme"),
        ("bob", "owner", None),
    ):
        r = await registry.http.put(f"{APP}/user/{user}", headers=h, json={"role": role})
        assert_problem(r, 400, "invalid_request", detail or r.json()["detail"])
    r = await registry.http.put(f"{APP}/user/bob", headers=h, json={})
    assert_problem(r, 400, "invalid_request", "'role' is a required property")
    r = await registry.http.put(f"{APP}/user/bob", headers=h)
    assert r.status_code == 415
    # The owner of a user namespace is admin, and stays so.
    await registry.client("alice").push_image("alice/tool", "v1")
    for role in ("read", "admin"):
        r = await registry.http.put(
            "/api/v1/repository/alice/tool/permissions/user/alice", headers=h, json={"role": role}
        )
        assert_problem(r, 400, "invalid_request", "Namespace owner must always be admin.")
    r = await registry.http.delete(
        "/api/v1/repository/alice/tool/permissions/user/alice", headers=h
    )
    assert_problem(r, 400, "invalid_request", "Namespace owner must always be admin.")
    r = await registry.http.get("/api/v1/repository/alice/tool/permissions/user/", headers=h)
    (owner,) = r.json()["permissions"].values()
    assert (owner["name"], owner["role"], "is_org_member" in owner) == ("alice", "admin", False)
    assert (await registry.http.get(f"{APP}/user/", headers=h)).json() == before
    assert [x.kind for x in await logs(registry, "acme") if "repo_permission" in x.kind] == []


async def test_team_permissions(registry: Berth) -> None:
    """Ansible's repository module and Terraform's escaped path."""
    h = await make_app(registry)
    r = await registry.http.put(f"{APP}/team/devs", headers=h, json={"role": "read"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["role"], body["name"], body["avatar"]["kind"]) == ("read", "devs", "team")
    r = await registry.http.put(
        "/api/v1/repository/acme%2Fapp/permissions/team/devs", headers=h, json={"role": "write"}
    )
    assert r.status_code == 200
    r = await registry.http.get(f"{APP}/team/", headers=h)
    assert r.json() == {"permissions": {"devs": {**body, "role": "write"}}}
    r = await registry.http.get("/api/v1/repository/acme%2Fapp/permissions/team/devs", headers=h)
    assert r.json() == {"role": "write"}
    r = await registry.http.put(f"{APP}/team/ghosts", headers=h, json={"role": "read"})
    assert_problem(r, 400, "invalid_request", "No team ghosts in organization acme")
    r = await registry.http.get(f"{APP}/team/owners", headers=h)
    assert (r.status_code, r.json()) == (400, {"message": NO_TEAM_PERM})
    r = await registry.http.delete(f"{APP}/team/devs", headers=h)
    assert r.status_code == 204
    r = await registry.http.delete(f"{APP}/team/devs", headers=h)
    assert_problem(r, 400, "invalid_request", NO_TEAM_PERM)
    assert (await registry.http.get(f"{APP}/team/", headers=h)).json() == {"permissions": {}}
    kinds = [
        (x.kind, x.metadata.get("team"))
        for x in await logs(registry, "acme")
        if "repo_permission" in x.kind
    ]
    assert kinds == [
        ("delete_repo_permission", "devs"),
        ("change_repo_permission", "devs"),
        ("change_repo_permission", "devs"),
    ]


async def test_transitive_permission(registry: Berth) -> None:
    h = await make_app(registry)
    await registry.http.put(f"{APP}/team/devs", headers=h, json={"role": "write"})
    r = await registry.http.get(f"{APP}/user/bob/transitive", headers=h)
    assert r.json() == {"permissions": [{"role": "write"}]}  # through team devs
    await registry.http.put(f"{APP}/user/bob", headers=h, json={"role": "read"})
    r = await registry.http.get(f"{APP}/user/bob/transitive", headers=h)
    assert sorted(p["role"] for p in r.json()["permissions"]) == ["read", "write"]
    for nobody in ("carol", "ghost"):
        r = await registry.http.get(f"{APP}/user/{nobody}/transitive", headers=h)
        assert_problem(r, 404, "not_found", "Not Found")


async def test_repository_admins_only_permission_before_existence(registry: Berth) -> None:
    h = await make_app(registry)
    await registry.http.put(f"{APP}/user/carol", headers=h, json={"role": "write"})
    before = (await registry.http.get(f"{APP}/user/", headers=h)).json()
    bob = await auth(registry, "bob")  # org member without a role on acme/app
    carol = await auth(registry, "carol")  # write on acme/app: not enough
    routes = [
        ("GET", f"{APP}/user/", None),
        ("GET", f"{APP}/team/", None),
        ("GET", f"{APP}/user/carol", None),
        ("GET", f"{APP}/user/carol/transitive", None),
        ("PUT", f"{APP}/user/carol", {"role": "admin"}),
        ("DELETE", f"{APP}/user/carol", None),
        ("GET", f"{APP}/team/devs", None),
        ("PUT", f"{APP}/team/devs", {"role": "admin"}),
        ("DELETE", f"{APP}/team/devs", None),
    ]
    for hdrs in (bob, carol):
        for method, path, payload in routes:
            r = await registry.http.request(method, path, headers=hdrs, json=payload)
            assert_problem(r, 403, "insufficient_scope", "Unauthorized")
            missing = path.replace("/acme/app/", "/acme/nope/")
            r = await registry.http.request(method, missing, headers=hdrs, json=payload)
            assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get(f"{APP}/user/")
    assert_problem(r, 401, "invalid_token", "Requires authentication")
    r = await registry.http.put(f"{APP}/user/bob", json={"role": "admin"})
    assert (r.status_code, r.json()) == (403, CSRF_BODY)
    r = await registry.http.get("/api/v1/repository/acme/nope/permissions/user/", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.put(
        "/api/v1/repository/acme/nope/permissions/user/bob", headers=h, json={"role": "read"}
    )
    assert_problem(r, 404, "not_found", "Not Found")
    # Scopes cap the role: repo:admin is needed; org:admin does not imply it.
    for scope in ("repo:write user:admin", "org:admin"):
        weak = await auth(registry, "alice", scope)
        r = await registry.http.put(f"{APP}/user/bob", headers=weak, json={"role": "admin"})
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert (await registry.http.get(f"{APP}/user/", headers=h)).json() == before
    repo_admin = await auth(registry, "alice", "repo:admin")
    assert (await registry.http.get(f"{APP}/team/", headers=repo_admin)).status_code == 200
    # A direct admin permission is enough.
    await registry.http.put(f"{APP}/user/carol", headers=h, json={"role": "admin"})
    r = await registry.http.put(f"{APP}/user/bob", headers=carol, json={"role": "read"})
    assert r.status_code == 200


async def test_robot_push_creates_private_repo_as_admin_with_prototypes(registry: Berth) -> None:
    """Quay's scenarios 3 and 4: a creator-team robot pushes a new repository; it is
    private, the robot is its admin (its own write prototype skipped), the team prototype
    applies -- all read through the permission routes."""
    await make_acme(registry)
    h = await auth(registry, "alice")
    r = await registry.http.put("/api/v1/organization/acme/robots/cirobot", headers=h, json={})
    assert r.status_code == 201
    token = r.json()["token"]
    await registry.services.teams.create_or_update("acme", "creators", role="creator")
    await registry.services.teams.add_member("acme", "creators", "acme+cirobot", performer="alice")
    for delegate in ({"name": "acme+cirobot", "kind": "user"}, {"name": "devs", "kind": "team"}):
        role = "write" if delegate["kind"] == "user" else "read"
        r = await registry.http.post(
            "/api/v1/organization/acme/prototypes",
            headers=h,
            json={"role": role, "delegate": delegate},
        )
        assert r.status_code == 200

    robot = registry.client("acme+cirobot", password=token)
    resp = await robot.token("repository:acme/newrepo:pull,push")
    assert resp.status_code == 200
    assert token_access(resp.json()["token"])["acme/newrepo"] >= {"push", "pull"}
    await robot.push_image("acme/newrepo", "latest")

    base = "/api/v1/repository/acme/newrepo/permissions"
    r = await registry.http.get(f"{base}/user/", headers=h)
    assert {name: (p["role"], p["is_robot"]) for name, p in r.json()["permissions"].items()} == {
        "acme+cirobot": ("admin", True)
    }
    r = await registry.http.get(f"{base}/team/", headers=h)
    assert {name: p["role"] for name, p in r.json()["permissions"].items()} == {"devs": "read"}
    r = await registry.http.get(f"{base}/user/acme+cirobot/transitive", headers=h)
    assert r.json() == {"permissions": [{"role": "admin"}]}
    r = await registry.client(None).get("/v2/acme/newrepo/manifests/latest")
    assert r.status_code == 401  # private
    member = await registry.client("bob").get(
        "/v2/acme/newrepo/manifests/latest", headers={"Accept": OCI_MANIFEST}
    )
    assert member.status_code == 200  # bob reads through team devs
