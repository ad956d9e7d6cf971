"""Robot accounts over /api/v1: the caller's (``/user/robots``) and organizations'
(``/organization/{org}/robots``), their permissions, token regeneration as /v2/auth sees it,
Berth's credentials route and ROBOTS_DISALLOW."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import yaml

from berth.audit.services import LogRecord, list_logs
from tests.integration.api.conftest import ALL_SCOPES, bearer, oauth_token
from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.conftest import HOST, Berth, assert_error
from tests.integration.identity_scenario import add_users

TOKEN = re.compile(r"^[A-Z0-9]{64}$")
RFC2822 = re.compile(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} -0000$")
NO_ROBOT = {"message": "Could not find robot with specified username"}
METHOD_NOT_ALLOWED = {"message": "The method is not allowed for the requested URL."}
BARE_403 = {
    "message": "You don't have the permission to access the requested resource. It is either "
    "read-protected or not readable by the server."
}
ORG = "/api/v1/organization/acme/robots"


async def make_acme(registry: Berth) -> None:
    """acme: alice owns it (team owners), bob is in team devs (member), carol is outside."""
    svc = registry.services
    await add_users(registry, "carol")
    await svc.orgs.create("acme", creator="alice")
    await svc.teams.create_or_update("acme", "devs", role="member")
    added = await svc.teams.add_member("acme", "devs", "bob", performer="alice")
    if added.invited:
        await svc.teams.accept_invite(added.code, "bob")


async def auth(registry: Berth, user: str, scope: str = ALL_SCOPES) -> dict[str, str]:
    return bearer(await oauth_token(registry, user, scope))


async def logs(registry: Berth, namespace: str, kind: str | None = None) -> list[LogRecord]:
    async with registry.services.db.read() as s:
        return await list_logs(s, namespace=namespace, kind=kind)


async def v2_login(registry: Berth, username: str, password: str) -> httpx.Response:
    return await registry.http.get(
        f"/v2/auth?service={HOST}&scope=repository:{username.partition('+')[0]}/x:pull",
        auth=httpx.BasicAuth(username, password),
    )


def assert_robot(body: dict[str, Any], name: str, description: str = "") -> None:
    assert set(body) == {
        "name", "created", "last_accessed", "description", "token", "unstructured_metadata",
    }  # fmt: skip
    assert body["name"] == name
    assert body["description"] == description
    assert RFC2822.match(body["created"])
    assert body["last_accessed"] is None
    assert TOKEN.match(body["token"])


# ------------------------------------------------------------------------- /user/robots


async def test_user_robot_create_get_list_delete(registry: Berth) -> None:
    h = await auth(registry, "alice")
    r = await registry.http.put(
        "/api/v1/user/robots/ci",
        headers=h,
        json={"description": "builds", "unstructured_metadata": {"team": "x"}},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert_robot(created, "alice+ci", "builds")
    assert created["unstructured_metadata"] == {"team": "x"}
    # An empty PUT is valid (no body, no content type).
    r = await registry.http.put("/api/v1/user/robots/deployer", headers=h)
    assert r.status_code == 201, r.text
    assert_robot(r.json(), "alice+deployer")

    r = await registry.http.get("/api/v1/user/robots/ci", headers=h)
    assert r.status_code == 200
    assert r.json() == created  # the token is shown again

    r = await registry.http.get("/api/v1/user/robots", headers=h)
    assert r.status_code == 200
    robots = r.json()["robots"]
    assert [x["name"] for x in robots] == ["alice+ci", "alice+deployer"]
    assert robots[0] == created  # tokens by default
    r = await registry.http.get("/api/v1/user/robots?token=false&limit=1", headers=h)
    assert [set(x) for x in r.json()["robots"]] == [
        {"name", "created", "last_accessed", "description", "unstructured_metadata"}
    ]
    # Quay's truthy_bool: Ansible's capitalised False is false, any unknown word is true.
    r = await registry.http.get("/api/v1/user/robots?token=False&permissions=yes", headers=h)
    assert [(x["name"], "token" in x, x["teams"]) for x in r.json()["robots"]] == [
        ("alice+ci", False, []),
        ("alice+deployer", False, []),
    ]
    r = await registry.http.get("/api/v1/user/robots?limit=x", headers=h)
    assert_problem(r, 400, "invalid_request", "limit: invalid integer 'x'")

    r = await registry.http.delete("/api/v1/user/robots/deployer", headers=h)
    assert r.status_code == 204
    assert r.content == b""
    r = await registry.http.get("/api/v1/user/robots/deployer", headers=h)
    assert (r.status_code, r.json()) == (400, NO_ROBOT)
    r = await registry.http.delete("/api/v1/user/robots/deployer", headers=h)
    assert (r.status_code, r.json()) == (400, NO_ROBOT)
    assert (await v2_login(registry, "alice+deployer", "X" * 64)).status_code == 401
    kinds = [(x.kind, x.performer, x.metadata["robot"]) for x in await logs(registry, "alice")]
    assert kinds == [
        ("delete_robot", "alice", "deployer"),
        ("create_robot", "alice", "deployer"),
        ("create_robot", "alice", "ci"),
    ]


async def test_user_robot_bad_requests_change_nothing(registry: Berth) -> None:
    h = await auth(registry, "alice")
    r = await registry.http.put("/api/v1/user/robots/ci", headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    r = await registry.http.put("/api/v1/user/robots/ci", headers=h, json={"description": "x"})
    assert_problem(r, 400, "invalid_request", "Existing robot with name: alice+ci")
    r = await registry.http.put("/api/v1/user/robots/Bad%20Name", headers=h)
    body = assert_problem(r, 400, "invalid_request", r.json()["detail"])
    assert body["detail"].startswith("The name for the robot 'Bad Name' is invalid")
    r = await registry.http.put(
        "/api/v1/user/robots/long", headers=h, json={"description": "d" * 256}
    )
    assert_problem(r, 400, "invalid_request", f"'{'d' * 256}' is too long")
    r = await registry.http.put(
        "/api/v1/user/robots/meta", headers=h, json={"unstructured_metadata": [1]}
    )
    assert_problem(r, 400, "invalid_request", "[1] is not of type 'object'")
    r = await registry.http.get("/api/v1/user/robots", headers=h)
    assert [(x["name"], x["token"], x["description"]) for x in r.json()["robots"]] == [
        ("alice+ci", token, "")
    ]
    assert [x.kind for x in await logs(registry, "alice")] == ["create_robot"]


async def test_user_robots_need_a_user_admin_token(registry: Berth) -> None:
    h = await auth(registry, "alice")
    assert (await registry.http.put("/api/v1/user/robots/ci", headers=h)).status_code == 201
    weak = await auth(registry, "alice", "user:read org:admin repo:admin")
    for method, path in (
        ("GET", "/api/v1/user/robots"),
        ("GET", "/api/v1/user/robots/ci"),
        ("PUT", "/api/v1/user/robots/other"),
        ("DELETE", "/api/v1/user/robots/ci"),
        ("POST", "/api/v1/user/robots/ci/regenerate"),
        ("GET", "/api/v1/user/robots/ci/permissions"),
        ("GET", "/api/v1/user/robots/ci/credentials"),
    ):
        r = await registry.http.request(method, path, headers=weak)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        r = await registry.http.request(method, path)
        if method == "GET":
            assert_problem(r, 401, "invalid_token", "Requires authentication")
        else:  # a write without a token or session fails the CSRF check first
            assert (r.status_code, r.json()) == (403, CSRF_BODY)
    r = await registry.http.get("/api/v1/user/robots", headers=h)
    assert [x["name"] for x in r.json()["robots"]] == ["alice+ci"]  # nothing changed
    # Robots are per namespace: bob sees none of alice's.
    hb = await auth(registry, "bob")
    r = await registry.http.get("/api/v1/user/robots/ci", headers=hb)
    assert (r.status_code, r.json()) == (400, NO_ROBOT)
    assert (await registry.http.get("/api/v1/user/robots", headers=hb)).json() == {"robots": []}


async def test_user_robot_permissions(registry: Berth) -> None:
    h = await auth(registry, "alice")
    await registry.http.put("/api/v1/user/robots/ci", headers=h)
    await registry.client("alice").push_image("alice/app", "v1")
    r = await registry.http.put(
        "/api/v1/repository/alice/app/permissions/user/alice+ci", headers=h, json={"role": "read"}
    )
    assert r.status_code == 200, r.text
    r = await registry.http.get("/api/v1/user/robots/ci/permissions", headers=h)
    assert r.status_code == 200
    assert r.json() == {
        "permissions": [{"repository": {"name": "app", "is_public": False}, "role": "read"}]
    }
    r = await registry.http.get("/api/v1/user/robots/ghost/permissions", headers=h)
    assert (r.status_code, r.json()) == (400, NO_ROBOT)


# ----------------------------------------------------------------- organization robots


async def test_org_robots_for_admins_and_members(registry: Berth) -> None:
    await make_acme(registry)
    h = await auth(registry, "alice")
    r = await registry.http.put(f"{ORG}/ci", headers=h, json={"description": "CI"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert_robot(created, "acme+ci", "CI")
    assert created["unstructured_metadata"] == {}
    r = await registry.http.get(f"{ORG}/ci", headers=h)
    assert r.json() == created
    r = await registry.http.get(ORG, headers=h)
    assert r.json() == {"robots": [created]}

    # bob is a member: he lists robots, without tokens or permission details.
    hb = await auth(registry, "bob")
    r = await registry.http.get(f"{ORG}?permissions=true&token=true", headers=hb)
    assert r.status_code == 200
    (entry,) = r.json()["robots"]
    assert "token" not in entry
    assert "teams" not in entry
    assert entry["name"] == "acme+ci"
    # ... and may do nothing else.
    for method, path in (
        ("GET", f"{ORG}/ci"),
        ("PUT", f"{ORG}/other"),
        ("DELETE", f"{ORG}/ci"),
        ("POST", f"{ORG}/ci/regenerate"),
        ("GET", f"{ORG}/ci/credentials"),
    ):
        r = await registry.http.request(method, path, headers=hb)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get(f"{ORG}/ci/permissions", headers=hb)
    assert (r.status_code, r.json()) == (403, BARE_403)
    # carol is outside: not even the list; anonymous callers need to authenticate.
    r = await registry.http.get(ORG, headers=await auth(registry, "carol"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert_problem(await registry.http.get(ORG), 401, "invalid_token", "Requires authentication")
    # Nothing changed.
    r = await registry.http.get(ORG, headers=h)
    assert r.json() == {"robots": [created]}
    assert [x.kind for x in await logs(registry, "acme", "create_robot")] == ["create_robot"]


async def test_org_robot_scopes(registry: Berth) -> None:
    """org:admin is what administers an organization; repo:create still lets members list."""
    await make_acme(registry)
    h = await auth(registry, "alice")
    await registry.http.put(f"{ORG}/ci", headers=h)
    no_org = await auth(registry, "alice", "repo:admin user:admin")
    r = await registry.http.put(f"{ORG}/other", headers=no_org)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert_problem(
        await registry.http.get(ORG, headers=no_org), 403, "insufficient_scope", "Unauthorized"
    )
    # permissions needs user:admin as well (Quay's require_user_admin), then org admin.
    r = await registry.http.get(f"{ORG}/ci/permissions", headers=no_org)
    assert (r.status_code, r.json()) == (403, BARE_403)
    only_org = await auth(registry, "alice", "org:admin")
    r = await registry.http.get(f"{ORG}/ci/permissions", headers=only_org)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert (await registry.http.get(f"{ORG}/ci", headers=only_org)).status_code == 200
    creator = await auth(registry, "alice", "repo:create")
    r = await registry.http.get(ORG, headers=creator)
    assert r.status_code == 200
    assert "token" not in r.json()["robots"][0]  # a member's view
    r = await registry.http.get(ORG, headers=h)
    assert [x["name"] for x in r.json()["robots"]] == ["acme+ci"]


async def test_org_robot_list_with_permissions_and_errors(registry: Berth) -> None:
    await make_acme(registry)
    h = await auth(registry, "alice")
    await registry.http.put(f"{ORG}/ci", headers=h)
    await registry.http.put(f"{ORG}/idle", headers=h)
    await registry.services.teams.add_member("acme", "devs", "acme+ci", performer="alice")
    await registry.client("alice").push_image("acme/app", "v1")
    r = await registry.http.put(
        "/api/v1/repository/acme/app/permissions/user/acme+ci", headers=h, json={"role": "write"}
    )
    assert r.status_code == 200
    r = await registry.http.get(f"{ORG}?permissions=true", headers=h)
    ci, idle = r.json()["robots"]
    assert set(ci) == {
        "name", "created", "last_accessed", "description", "token", "teams", "repositories",
    }  # fmt: skip
    assert [t["name"] for t in ci["teams"]] == ["devs"]
    assert ci["teams"][0]["avatar"]["kind"] == "team"
    assert ci["repositories"] == ["app"]
    assert (idle["name"], idle["teams"], idle["repositories"]) == ("acme+idle", [], [])
    r = await registry.http.get(f"{ORG}/ci/permissions", headers=h)
    assert r.json() == {
        "permissions": [{"repository": {"name": "app", "is_public": False}, "role": "write"}]
    }
    for method, path in (
        ("GET", f"{ORG}/ghost"),
        ("DELETE", f"{ORG}/ghost"),
        ("POST", f"{ORG}/ghost/regenerate"),
        ("GET", f"{ORG}/ghost/permissions"),
        ("GET", f"{ORG}/ghost/credentials"),
    ):
        r = await registry.http.request(method, path, headers=h)
        assert (r.status_code, r.json()) == (400, NO_ROBOT), path
    r = await registry.http.put(f"{ORG}/ci", headers=h)
    assert_problem(r, 400, "invalid_request", "Existing robot with name: acme+ci")
    # Deleting a robot takes its permissions and memberships with it.
    assert (await registry.http.delete(f"{ORG}/ci", headers=h)).status_code == 204
    r = await registry.http.get("/api/v1/repository/acme/app/permissions/user/", headers=h)
    assert "acme+ci" not in r.json()["permissions"]
    r = await registry.http.get(f"{ORG}?permissions=true", headers=h)
    assert [x["name"] for x in r.json()["robots"]] == ["acme+idle"]


async def test_regenerate_invalidates_the_old_token_at_once(registry: Berth) -> None:
    await make_acme(registry)
    h = await auth(registry, "alice")
    old = (await registry.http.put(f"{ORG}/ci", headers=h)).json()["token"]
    r = await v2_login(registry, "acme+ci", old)
    assert r.status_code == 200, r.text
    # quaytool's PUT is a 405, as on Quay, and changes nothing.
    r = await registry.http.put(f"{ORG}/ci/regenerate", headers=h, json={})
    assert (r.status_code, r.json()) == (405, METHOD_NOT_ALLOWED)
    assert (await v2_login(registry, "acme+ci", old)).status_code == 200
    r = await registry.http.post(f"{ORG}/ci/regenerate", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"name", "created", "last_accessed", "description", "token"}
    new = body["token"]
    assert TOKEN.match(new)
    assert new != old
    assert_error(await v2_login(registry, "acme+ci", old), 401, "UNAUTHORIZED")
    r = await v2_login(registry, "acme+ci", new)
    assert r.status_code == 200
    assert (await registry.http.get(f"{ORG}/ci", headers=h)).json()["token"] == new
    # The user variant too.
    await registry.http.put("/api/v1/user/robots/me", headers=h)
    r = await registry.http.post("/api/v1/user/robots/me/regenerate", headers=h)
    assert r.status_code == 200
    assert (await v2_login(registry, "alice+me", r.json()["token"])).status_code == 200
    entries = await logs(registry, "acme", "regenerate_robot_token")
    assert [(x.performer, x.metadata) for x in entries] == [("alice", {"robot": "ci"})]


# --------------------------------------------------------------------- Berth extensions


async def test_robot_credentials(registry: Berth) -> None:
    await make_acme(registry)
    h = await auth(registry, "alice")
    token = (await registry.http.put(f"{ORG}/ci", headers=h)).json()["token"]
    r = await registry.http.get(f"{ORG}/ci/credentials", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["token"]) == ("acme+ci", token)
    creds = body["credentials"]
    assert creds["docker_login"] == f"docker login -u='acme+ci' -p='{token}' {HOST}"
    assert creds["podman_login"] == f"podman login -u='acme+ci' -p='{token}' {HOST}"
    auth_field = json.loads(creds["docker_config"])["auths"][HOST]["auth"]
    user, _, password = base64.b64decode(auth_field).decode().partition(":")
    assert (await v2_login(registry, user, password)).status_code == 200  # it logs in
    secret = yaml.safe_load(creds["kubernetes_secret"])
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(secret["data"][".dockerconfigjson"])) == json.loads(
        creds["docker_config"]
    )
    assert json.loads(creds["rkt"])["credentials"] == {"user": "acme+ci", "password": token}
    assert HOST in creds["mesos"]
    await registry.http.put("/api/v1/user/robots/mine", headers=h)
    r = await registry.http.get("/api/v1/user/robots/mine/credentials", headers=h)
    assert r.json()["name"] == "alice+mine"
    doc = (await registry.http.get("/api/v1/discovery")).json()
    op = doc["paths"]["/api/v1/organization/{orgname}/robots/{robot_shortname}/credentials"]
    assert op["get"]["summary"].startswith("Berth extension")


async def test_robots_disallow(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await make_acme(registry)
    h = await auth(registry, "alice")
    kept = (await registry.http.put(f"{ORG}/kept", headers=h)).json()["token"]
    listed = (await registry.http.put(f"{ORG}/listed", headers=h)).json()["token"]
    async with configured(ROBOTS_DISALLOW=True, ROBOTS_WHITELIST=["acme+listed"]) as b:
        message = "Robot accounts have been disabled. Please contact your administrator."
        r = await b.http.put(f"{ORG}/new", headers=h)
        assert_problem(r, 400, "invalid_request", message)
        r = await b.http.put("/api/v1/user/robots/new", headers=h)
        assert_problem(r, 400, "invalid_request", message)
        r = await b.http.get(ORG, headers=h)
        assert [x["name"] for x in r.json()["robots"]] == ["acme+kept", "acme+listed"]
        err = assert_error(await v2_login(b, "acme+kept", kept), 401, "UNAUTHORIZED")
        assert (
            err["message"] == "Robot account have been disabled. Please contact your administrator."
        )
        assert (await v2_login(b, "acme+listed", listed)).status_code == 200
    assert (await v2_login(registry, "acme+kept", kept)).status_code == 200  # default: allowed


async def test_superuser_needs_full_access(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await make_acme(registry)
    await registry.http.put(f"{ORG}/ci", headers=await auth(registry, "alice"))
    h = await auth(registry, "root")
    assert_problem(
        await registry.http.get(f"{ORG}/ci", headers=h), 403, "insufficient_scope", "Unauthorized"
    )
    async with configured(FEATURE_SUPERUSERS_FULL_ACCESS=True) as b:
        r = await b.http.get(f"{ORG}/ci", headers=h)
        assert r.status_code == 200
        assert TOKEN.match(r.json()["token"])
        r = await b.http.put(f"{ORG}/by-root", headers=h)
        assert r.status_code == 201
