"""Default permissions (prototypes) over /api/v1: create (200), list, update, delete, the
delegate kinds (robots as ``user``), Quay's errors, and who may touch them."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.api.conftest import bearer, oauth_token
from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.api.test_robots import auth, logs, make_acme
from tests.integration.conftest import Berth

PROTOS = "/api/v1/organization/acme/prototypes"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def user_view(name: str, *, robot: bool = False, member: bool = True) -> dict[str, Any]:
    return {"name": name, "is_robot": robot, "kind": "user", "is_org_member": member}


def without_avatars(view: dict[str, Any]) -> dict[str, Any]:
    """The prototype view with each avatar checked for its kind and then left out."""
    out = dict(view)
    for key in ("activating_user", "delegate"):
        entity = out[key]
        if entity is None:
            continue
        entity = dict(entity)
        avatar = entity.pop("avatar")
        assert set(avatar) == {"name", "hash", "color", "kind"}
        expected = "team" if entity["kind"] == "team" else "robot" if entity["is_robot"] else "user"
        assert (avatar["name"], avatar["kind"]) == (entity["name"], expected)
        out[key] = entity
    return out


async def test_prototypes_create_list_update_delete(registry: Berth) -> None:
    """quaytool/RDO: a robot as a ``user`` delegate; bridge-operator's extra delegate keys;
    a prototype for one activating user."""
    await make_acme(registry)
    h = await auth(registry, "alice")
    assert (
        await registry.http.put("/api/v1/organization/acme/robots/cirobot", headers=h)
    ).status_code == 201

    r = await registry.http.post(
        PROTOS,
        headers=h,
        json={"role": "write", "delegate": {"name": "acme+cirobot", "kind": "user"}},
    )
    assert r.status_code == 200, r.text  # not 201
    robot_proto = r.json()
    assert UUID.match(robot_proto["id"])
    assert without_avatars(robot_proto) == {
        "activating_user": None,
        "delegate": user_view("acme+cirobot", robot=True),
        "role": "write",
        "id": robot_proto["id"],
    }
    r = await registry.http.post(
        PROTOS,
        headers=h,
        json={
            "role": "read",
            "delegate": {"name": "devs", "kind": "team", "is_robot": False, "is_org_member": True},
        },
    )
    assert r.status_code == 200, r.text
    team_proto = r.json()
    assert without_avatars(team_proto)["delegate"] == {"name": "devs", "kind": "team"}
    r = await registry.http.post(
        PROTOS,
        headers=h,
        json={
            "role": "admin",
            "delegate": {"name": "carol", "kind": "user"},
            "activating_user": {"name": "bob"},
        },
    )
    assert r.status_code == 200, r.text
    carol_proto = r.json()
    assert without_avatars(carol_proto)["activating_user"] == user_view("bob")
    assert without_avatars(carol_proto)["delegate"] == user_view("carol", member=False)

    r = await registry.http.get(PROTOS, headers=h)
    assert r.status_code == 200
    assert r.json() == {"prototypes": [robot_proto, team_proto, carol_proto]}

    r = await registry.http.put(f"{PROTOS}/{team_proto['id']}", headers=h, json={"role": "admin"})
    assert r.status_code == 200
    assert r.json() == {**team_proto, "role": "admin"}
    r = await registry.http.delete(f"{PROTOS}/{carol_proto['id']}", headers=h)
    assert r.status_code == 204
    assert r.content == b""
    r = await registry.http.get(PROTOS, headers=h)
    assert r.json() == {"prototypes": [robot_proto, {**team_proto, "role": "admin"}]}

    entries = await logs(registry, "acme")
    proto_logs = [(x.kind, x.metadata) for x in entries if "prototype" in x.kind]
    assert proto_logs[0] == (
        "delete_prototype_permission",
        {
            "prototypeid": carol_proto["id"],
            "username": "alice",
            "activating_username": "bob",
            "role": "admin",
            "delegate_user": "carol",
        },
    )
    assert proto_logs[1] == (
        "modify_prototype_permission",
        {
            "prototypeid": team_proto["id"],
            "username": "alice",
            "activating_username": None,
            "role": "admin",
            "delegate_team": "devs",
            "original_role": "read",
        },
    )
    assert [k for k, _ in proto_logs[2:]] == ["create_prototype_permission"] * 3


async def test_prototype_errors_change_nothing(registry: Berth) -> None:
    await make_acme(registry)
    h = await auth(registry, "alice")
    await registry.http.put("/api/v1/user/robots/bot", headers=h)  # alice+bot: not acme's
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "role": "read",
                "delegate": {"name": "devs", "kind": "team"},
                "activating_user": {"name": "ghost"},
            },
            "Unknown activating user",
        ),
        (
            {"role": "read", "delegate": {"name": "ghost", "kind": "user"}},
            "Missing delegate user or team",
        ),
        (
            {"role": "read", "delegate": {"name": "ghosts", "kind": "team"}},
            "Missing delegate user or team",
        ),
        (
            {"role": "read", "delegate": {"name": "alice+bot", "kind": "user"}},
            "Cannot add robot alice+bot under namespace acme",
        ),
        ({"role": "read"}, "'delegate' is a required property"),
        ({"role": "read", "delegate": {"name": "devs"}}, "'kind' is a required property"),
    ]
    for body, detail in cases:
        r = await registry.http.post(PROTOS, headers=h, json=body)
        assert_problem(r, 400, "invalid_request", detail)
    for body in (
        {"role": "owner", "delegate": {"name": "devs", "kind": "team"}},
        {"role": "read", "delegate": {"name": "devs", "kind": "robot"}},
    ):
        r = await registry.http.post(PROTOS, headers=h, json=body)
        assert_problem(r, 400, "invalid_request", r.json()["detail"])
        assert "is not one of" in r.json()["detail"]
    r = await registry.http.post(
        PROTOS, headers=h, json={"role": "read", "delegate": {"name": "devs", "kind": "team"}}
    )
    proto = r.json()
    r = await registry.http.put(f"{PROTOS}/{proto['id']}", headers=h, json={"role": "owner"})
    assert r.status_code == 400
    missing = "00000000-0000-0000-0000-000000000000"
    r = await registry.http.put(f"{PROTOS}/{missing}", headers=h, json={"role": "admin"})
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(f"{PROTOS}/{missing}", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(PROTOS, headers=h)
    assert r.json() == {"prototypes": [proto]}
    kinds = [x.kind for x in await logs(registry, "acme") if "prototype" in x.kind]
    assert kinds == ["create_prototype_permission"]


async def test_prototypes_are_for_org_admins(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await make_acme(registry)
    h = await auth(registry, "alice")
    body = {"role": "read", "delegate": {"name": "devs", "kind": "team"}}
    proto = (await registry.http.post(PROTOS, headers=h, json=body)).json()
    one = f"{PROTOS}/{proto['id']}"
    outsiders = {
        "member": await auth(registry, "bob"),
        "outsider": await auth(registry, "carol"),
        "no org:admin": await auth(registry, "alice", "repo:admin user:admin repo:create"),
        "superuser": bearer(await oauth_token(registry, "root")),
    }
    for who, hdrs in outsiders.items():
        for method, path, payload in (
            ("GET", PROTOS, None),
            ("POST", PROTOS, body),
            ("PUT", one, {"role": "admin"}),
            ("DELETE", one, None),
        ):
            r = await registry.http.request(method, path, headers=hdrs, json=payload)
            assert r.status_code == 403, (who, method, r.text)
            assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert_problem(await registry.http.get(PROTOS), 401, "invalid_token", "Requires authentication")
    r = await registry.http.post(PROTOS, json=body)
    assert (r.status_code, r.json()) == (403, CSRF_BODY)
    r = await registry.http.get(PROTOS, headers=h)
    assert r.json() == {"prototypes": [proto]}  # nothing changed
    # Unknown organizations: 403 for everyone but those who could administer them.
    r = await registry.http.get("/api/v1/organization/nowhere/prototypes", headers=h)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get("/api/v1/organization/alice/prototypes", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")  # a user namespace is no organization
    async with configured(FEATURE_SUPERUSERS_FULL_ACCESS=True) as b:
        root = outsiders["superuser"]
        r = await b.http.get("/api/v1/organization/nowhere/prototypes", headers=root)
        assert_problem(r, 404, "not_found", "Not Found")
        r = await b.http.put(one, headers=root, json={"role": "write"})
        assert r.status_code == 200
        assert r.json()["role"] == "write"
