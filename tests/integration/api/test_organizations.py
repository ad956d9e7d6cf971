"""Organizations over /api/v1: create (201 "Created"), the three views of GET, changes,
deletion as a job, members and collaborators, OAuth applications (quay-api.md section 3,
checklist items 3, 27, 37; scenarios 3 and 11)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import text

from berth.registry.repositories import RepoName, create_repository
from tests.integration.api.conftest import bearer, oauth_token, sign_in
from tests.integration.api.test_framework import CSRF_BODY, assert_problem
from tests.integration.conftest import Berth
from tests.integration.identity_scenario import add_users

ORG = "/api/v1/organization/"
ADMIN_ONLY = "org:admin"  # enough to administer organizations, nothing else
NO_ORG_ADMIN = "user:admin repo:admin repo:read repo:write user:read"

# What a refused write must leave as it was (not the applications the tests' own tokens
# come from, nor the sweeps the in-process worker runs by itself).
_QUERIES = (
    "SELECT * FROM namespaces",
    "SELECT * FROM teams",
    "SELECT * FROM team_members",
    "SELECT * FROM team_invites",
    "SELECT a.* FROM oauth_applications a JOIN namespaces n ON n.id = a.namespace_id "
    "WHERE n.kind = 'org'",
    "SELECT * FROM repository_permissions",
    "SELECT * FROM log_entries",
    "SELECT kind, payload FROM jobs WHERE kind = 'delete_namespace'",
)


# ------------------------------------------------------------------------------- helpers


async def auth(registry: Berth, user: str, scope: str | None = None) -> dict[str, str]:
    """Bearer headers for ``user`` (every scope unless ``scope`` is given)."""
    token = await oauth_token(registry, user, scope) if scope else await oauth_token(registry, user)
    return bearer(token)


async def create_org(registry: Berth, name: str, owner: str = "alice") -> None:
    r = await registry.http.post(
        ORG, headers=await auth(registry, owner), json={"name": name, "email": f"{name}@x.test"}
    )
    assert r.status_code == 201, r.text


async def snapshot(registry: Berth) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the identity tables (for "a refused write changed nothing")."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with registry.services.db.read() as s:
        for query in _QUERIES:
            rows = (await s.execute(text(query))).all()
            out[query] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def usage_logs(registry: Berth, namespace: str) -> list[tuple[str, str | None]]:
    """(kind, performer) of the namespace's usage-log entries, oldest first."""
    async with registry.services.db.read() as s:
        rows = await s.execute(
            text("SELECT kind, performer FROM log_entries WHERE namespace = :ns ORDER BY id"),
            {"ns": namespace},
        )
        return [(kind, who) for kind, who in rows.all()]


async def anonymous_write_refused(registry: Berth, method: str, url: str, **kw: Any) -> None:
    """Without a token a write gets Quay's CSRF 403; with a session's CSRF token but no
    user, 401."""
    r = await registry.http.request(method, url, **kw)
    assert r.status_code == 403
    assert r.json() == CSRF_BODY
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry.app), base_url=str(registry.http.base_url)
    ) as anon:
        csrf = (await anon.get("/csrf_token")).json()["csrf_token"]
        r = await anon.request(method, url, headers={"X-CSRF-Token": csrf}, **kw)
    assert_problem(r, 401, "invalid_token", "Requires authentication")


async def add_repo(registry: Berth, namespace: str, name: str, *, public: bool = False) -> None:
    async with registry.services.db.write() as s:
        await create_repository(s, RepoName(namespace, name), is_public=public)


async def join_team(registry: Berth, org: str, team: str, user: str) -> None:
    """Put ``user`` in ``team`` (accepting the invite a non-member gets)."""
    teams = registry.services.teams
    added = await teams.add_member(org, team, user)
    if added.invited:
        await teams.accept_invite(added.code, user)


# -------------------------------------------------------------------------------- create


async def test_create_answers_201_created_and_creator_owns_it(registry: Berth) -> None:
    h = await auth(registry, "alice")
    r = await registry.http.post(ORG, headers=h, json={"name": "lab", "email": "lab@x.test"})
    assert r.status_code == 201
    assert r.text == '"Created"'
    r = await registry.http.get(ORG + "lab", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["email"], body["is_admin"], body["is_member"]) == (
        "lab",
        "lab@x.test",
        True,
        True,
    )
    assert body["ordered_teams"] == ["owners"]
    owners = body["teams"]["owners"]
    assert (owners["role"], owners["member_count"], owners["can_view"]) == ("admin", 1, True)
    assert body["tag_expiration_s"] == 1209600
    r = await registry.http.get("/api/v1/user/", headers=h)
    assert [o["name"] for o in r.json()["organizations"]] == ["lab"]
    assert await usage_logs(registry, "lab") == [("org_create", "alice")]


async def test_create_refusals_change_nothing(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice")
    before = await snapshot(registry)
    exists = "A user or organization with this name already exists"
    cases = [
        ({"name": "lab", "email": "a@x.test"}, exists),
        ({"name": "bob", "email": "b@x.test"}, exists),
        ({"name": "other"}, "Email address is required"),
        ({"name": "other", "email": "nope"}, "Invalid email address: nope"),
        ({"name": "other", "email": "lab@x.test"}, "Email has already been used: lab@x.test"),
        (
            {"name": "Bad", "email": "c@x.test"},
            "Invalid namespace Bad: Namespace must match expression "
            "^([a-z0-9]+(?:[._-][a-z0-9]+)*)$",
        ),
        (
            {"name": "x", "email": "c@x.test"},
            "Invalid namespace x: Namespace must be between 2 and 255 characters in length",
        ),
    ]
    for body, message in cases:
        r = await registry.http.post(ORG, headers=h, json=body)
        assert_problem(r, 400, "invalid_request", message)
    r = await registry.http.post(ORG, headers=h, json={"email": "c@x.test"})
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    r = await registry.http.post(
        ORG, headers=await auth(registry, "alice", "org:admin"), json={"name": "other"}
    )
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")  # needs user:admin
    await anonymous_write_refused(registry, "POST", ORG, json={"name": "other"})
    assert await snapshot(registry) == before


async def test_create_without_mailing_needs_no_email(configured) -> None:  # type: ignore[no-untyped-def]
    """python-quay-tool's ``{"name": org}`` on a registry without FEATURE_MAILING."""
    async with configured(FEATURE_MAILING=False) as b:
        r = await b.http.post(ORG, headers=await auth(b, "alice"), json={"name": "proj"})
        assert r.status_code == 201
        assert r.json() == "Created"
        r = await b.http.get(ORG + "proj", headers=await auth(b, "alice"))
        assert r.json()["email"] == ""


async def test_restricted_users_may_not_create_organizations(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_RESTRICTED_USERS=True, RESTRICTED_USERS_WHITELIST=["bob"]) as b:
        body = {"name": "lab", "email": "lab@x.test"}
        alice = await auth(b, "alice")
        before = await snapshot(b)
        r = await b.http.post(ORG, headers=alice, json=body)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        assert await snapshot(b) == before
        assert (await b.http.post(ORG, headers=await auth(b, "bob"), json=body)).status_code == 201
        body = {"name": "lab2", "email": "lab2@x.test"}
        r = await b.http.post(ORG, headers=await auth(b, "root"), json=body)  # superuser
        assert r.status_code == 201


# ----------------------------------------------------------------------------------- GET


async def test_get_shows_each_caller_what_quay_shows(registry: Berth) -> None:
    await create_org(registry, "lab")
    svc = registry.services
    await svc.teams.create_or_update("lab", "devs", role="member", description="developers")
    await join_team(registry, "lab", "devs", "bob")
    await add_repo(registry, "lab", "app")
    await svc.permissions.set_team_permission(RepoName("lab", "app"), "devs", "write")

    r = await registry.http.get(ORG + "lab")  # anonymous: the minimal view
    assert r.status_code == 200
    assert set(r.json()) == {"name", "email", "avatar", "is_admin", "is_member"}
    assert (r.json()["email"], r.json()["is_member"]) == ("", False)
    assert set(r.json()["avatar"]) == {"name", "hash", "color", "kind"}

    member = (await registry.http.get(ORG + "lab", headers=await auth(registry, "bob"))).json()
    assert (member["is_admin"], member["is_member"], member["email"]) == (False, True, "")
    assert member["ordered_teams"] == ["owners", "devs"]
    devs = member["teams"]["devs"]
    assert devs == {
        "name": "devs",
        "description": "developers",
        "role": "member",
        "avatar": devs["avatar"],
        "can_view": True,
        "repo_count": 1,
        "member_count": 1,
        "is_synced": False,
    }
    assert devs["avatar"]["kind"] == "team"
    assert member["teams"]["owners"]["can_view"] is False
    assert "tag_expiration_s" not in member

    admin = (await registry.http.get(ORG + "lab", headers=await auth(registry, "alice"))).json()
    assert admin["email"] == "lab@x.test"
    assert admin["tag_expiration_s"] == 1209600
    assert (admin["invoice_email"], admin["is_free_account"]) == (False, True)
    assert all(t["can_view"] for t in admin["teams"].values())

    # a token whose scopes allow no team role sees the minimal view of its own org
    r = await registry.http.get(ORG + "lab", headers=await auth(registry, "alice", "user:read"))
    assert set(r.json()) == {"name", "email", "avatar", "is_admin", "is_member"}

    for name in ("nothere", "alice"):  # unknown, and a user namespace
        r = await registry.http.get(ORG + name, headers=await auth(registry, "alice"))
        assert_problem(r, 404, "not_found", "Not Found")


async def test_superusers_see_teams_only_with_full_access(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await create_org(registry, "lab")
    root = await registry.http.get(ORG + "lab", headers=await auth(registry, "root"))
    assert (root.json()["email"], "teams" in root.json()) == ("", False)
    async with configured(FEATURE_SUPERUSERS_FULL_ACCESS=True) as b:  # same database
        body = (await b.http.get(ORG + "lab", headers=await auth(b, "root"))).json()
        assert body["is_admin"] is False
        assert body["email"] == "lab@x.test"
        assert body["teams"]["owners"]["can_view"] is True
        # full access administers any organization; an unknown one is then 404
        r = await b.http.put(ORG + "nothere", headers=await auth(b, "root"), json={})
        assert_problem(r, 404, "not_found", "Not Found")


# ----------------------------------------------------------------------------------- PUT


async def test_update_email_and_tag_expiration(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice", ADMIN_ONLY)
    r = await registry.http.put(
        ORG + "lab", headers=h, json={"tag_expiration_s": 86400, "email": "new@x.test"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["tag_expiration_s"], r.json()["email"]) == (86400, "new@x.test")
    assert r.json()["ordered_teams"] == ["owners"]
    logs = await usage_logs(registry, "lab")
    assert ("org_change_email", "alice") in logs
    assert ("org_change_tag_expiration", "alice") in logs
    r = await registry.http.put(ORG + "lab", headers=h, json={"name": "lab", "email": "new@x.test"})
    assert r.status_code == 200  # Terraform sends ``name`` too; unchanged email is no change


async def test_update_refusals_change_nothing(registry: Berth) -> None:
    await create_org(registry, "lab")
    await create_org(registry, "other")
    h = await auth(registry, "alice")
    before = await snapshot(registry)
    r = await registry.http.put(
        ORG + "lab", headers=h, json={"email": "changed@x.test", "tag_expiration_s": 12345}
    )
    assert r.status_code == 400
    assert r.json() == {"message": "Invalid tag expiration option"}
    r = await registry.http.put(ORG + "lab", headers=h, json={"email": "other@x.test"})
    assert_problem(r, 400, "invalid_request", "E-mail address already used")
    r = await registry.http.put(ORG + "lab", headers=h, json={"tag_expiration_s": -1})
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"
    for headers in (await auth(registry, "bob"), await auth(registry, "alice", NO_ORG_ADMIN)):
        r = await registry.http.put(ORG + "lab", headers=headers, json={"tag_expiration_s": 0})
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    # permission before existence: an unknown organization is 403 to a non-admin
    r = await registry.http.put(ORG + "nothere", headers=h, json={"tag_expiration_s": 0})
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "PUT", ORG + "lab", json={"tag_expiration_s": 0})
    assert await snapshot(registry) == before


# -------------------------------------------------------------------------------- DELETE


async def test_delete_is_204_and_a_job(registry: Berth) -> None:
    """Scenario 11 (bridge-operator): unknown org GET 404; DELETE 204."""
    h = await auth(registry, "alice")
    assert (await registry.http.get(ORG + "lab", headers=h)).status_code == 404
    await create_org(registry, "lab")
    await add_repo(registry, "lab", "app")
    r = await registry.http.delete(ORG + "lab", headers=h)
    assert r.status_code == 204
    assert r.content == b""
    assert (await registry.http.get(ORG + "lab", headers=h)).status_code == 404
    async with registry.services.db.read() as s:
        jobs = (await s.execute(text("SELECT kind FROM jobs"))).scalars().all()
    assert "delete_namespace" in jobs
    assert await usage_logs(registry, "lab") == [("org_create", "alice"), ("org_delete", "alice")]
    await create_org(registry, "lab")  # the name is free at once


async def test_delete_refusals_change_nothing(registry: Berth, session_client) -> None:  # type: ignore[no-untyped-def]
    await create_org(registry, "lab")
    http = session_client()  # a browser session signed in long ago
    csrf = await sign_in(http, "alice")
    api = registry.app.state.api
    session = api.codec.load(http.cookies[api.cookie_name])
    http.cookies.set(api.cookie_name, api.codec.dump(replace(session, login_at=0)))
    before = await snapshot(registry)
    r = await http.delete(ORG + "lab", headers={"X-CSRF-Token": csrf})
    assert_problem(r, 401, "fresh_login_required", "Requires fresh login")
    for headers in (await auth(registry, "bob"), await auth(registry, "alice", NO_ORG_ADMIN)):
        r = await registry.http.delete(ORG + "lab", headers=headers)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.delete(ORG + "nothere", headers=await auth(registry, "alice"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "DELETE", ORG + "lab")
    assert await snapshot(registry) == before


# ------------------------------------------------------------------ members, collaborators


async def _org_with_people(registry: Berth) -> None:
    """lab: alice (owners), bob (devs, write on app via a direct permission too), robot
    lab+ci (devs), carol (no team; read on app: an outside collaborator)."""
    await add_users(registry, "carol")
    await create_org(registry, "lab")
    svc = registry.services
    await svc.teams.create_or_update("lab", "devs", role="member")
    await join_team(registry, "lab", "devs", "bob")
    await svc.robots.create("lab", "ci")
    await svc.teams.add_member("lab", "devs", "lab+ci")
    await add_repo(registry, "lab", "app")
    await svc.permissions.set_user_permission(RepoName("lab", "app"), "bob", "write")
    await svc.permissions.set_user_permission(RepoName("lab", "app"), "carol", "read")


async def test_members_and_collaborators(registry: Berth) -> None:
    await _org_with_people(registry)
    h = await auth(registry, "alice", ADMIN_ONLY)
    members = (await registry.http.get(ORG + "lab/members", headers=h)).json()["members"]
    assert [(m["name"], m["kind"], [t["name"] for t in m["teams"]], m["repositories"])
            for m in members] == [
        ("alice", "user", ["owners"], []),
        ("bob", "user", ["devs"], ["app"]),
    ]  # fmt: skip
    assert members[0]["teams"][0]["avatar"]["kind"] == "team"
    r = await registry.http.get(ORG + "lab/collaborators", headers=h)
    assert r.json() == {
        "collaborators": [
            {
                "kind": "user",
                "name": "carol",
                "avatar": r.json()["collaborators"][0]["avatar"],
                "repositories": ["app"],
            }
        ]
    }
    robot = (await registry.http.get(ORG + "lab/members/lab+ci", headers=h)).json()
    assert (robot["kind"], [t["name"] for t in robot["teams"]]) == ("robot", ["devs"])
    bob = (await registry.http.get(ORG + "lab/members/bob", headers=h)).json()
    assert (bob["kind"], bob["repositories"]) == ("user", ["app"])
    for name in ("carol", "nobody"):
        r = await registry.http.get(ORG + f"lab/members/{name}", headers=h)
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(ORG + "lab/members", headers=await auth(registry, "bob"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.get(ORG + "lab/collaborators")
    assert_problem(r, 401, "invalid_token", "Requires authentication")


async def test_remove_member_from_every_team_and_repository(registry: Berth) -> None:
    await _org_with_people(registry)
    h = await auth(registry, "alice", ADMIN_ONLY)
    before = await snapshot(registry)
    r = await registry.http.delete(ORG + "lab/members/alice", headers=h)
    assert r.status_code == 400
    assert r.json() == {"message": "Cannot remove user as they are the only organization admin"}
    for name in ("lab+ci", "nobody"):  # robots are not removed this way
        r = await registry.http.delete(ORG + f"lab/members/{name}", headers=h)
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.delete(ORG + "lab/members/bob", headers=await auth(registry, "bob"))
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert await snapshot(registry) == before
    assert (await registry.http.delete(ORG + "lab/members/bob", headers=h)).status_code == 204
    members = (await registry.http.get(ORG + "lab/members", headers=h)).json()["members"]
    assert [m["name"] for m in members] == ["alice"]
    perms = await registry.services.permissions.list_user_permissions(RepoName("lab", "app"))
    assert [p.name for p in perms] == ["carol"]
    assert ("org_remove_team_member", "alice") in await usage_logs(registry, "lab")


# -------------------------------------------------------------------- OAuth applications


async def test_application_lifecycle(registry: Berth) -> None:
    await create_org(registry, "lab")
    h = await auth(registry, "alice", ADMIN_ONLY)
    apps = ORG + "lab/applications"
    r = await registry.http.post(
        apps, headers=h, json={"name": "ci", "redirect_uri": "https://ci.x.test/cb"}
    )
    assert r.status_code == 200, r.text
    app = r.json()
    assert set(app) == {
        "name",
        "description",
        "application_uri",
        "client_id",
        "client_secret",
        "redirect_uri",
        "avatar_email",
    }
    assert (app["name"], app["redirect_uri"], app["description"]) == (
        "ci",
        "https://ci.x.test/cb",
        "",
    )
    assert len(app["client_secret"]) == 40
    one = f"{apps}/{app['client_id']}"
    assert (await registry.http.get(apps, headers=h)).json() == {"applications": [app]}
    assert (await registry.http.get(one, headers=h)).json() == app

    update = {"name": "ci2", "redirect_uri": "https://ci2/cb", "application_uri": "https://ci2"}
    r = await registry.http.put(one, headers=h, json={**update, "description": "CI"})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["description"], r.json()["client_secret"]) == (
        "ci2",
        "CI",
        app["client_secret"],
    )
    r = await registry.http.post(one + "/resetclientsecret", headers=h)
    assert r.status_code == 200
    assert r.json()["client_secret"] != app["client_secret"]
    assert r.json()["client_id"] == app["client_id"]

    info = await registry.http.get(f"/api/v1/app/{app['client_id']}")  # anonymous
    assert info.status_code == 200
    body = info.json()
    assert (body["name"], body["description"], body["uri"]) == ("ci2", "CI", "https://ci2")
    assert body["avatar"]["kind"] == "app"
    assert body["organization"]["name"] == "lab"
    assert (body["organization"]["teams"], body["organization"]["ordered_teams"]) == ({}, [])

    assert (await registry.http.delete(one, headers=h)).status_code == 204
    for method in ("GET", "DELETE"):
        r = await registry.http.request(method, one, headers=h)
        assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(f"/api/v1/app/{app['client_id']}")
    assert_problem(r, 404, "not_found", "Not Found")
    kinds = [k for k, _ in await usage_logs(registry, "lab")]
    assert kinds[1:] == [
        "create_application",
        "update_application",
        "reset_application_client_secret",
        "delete_application",
    ]


async def test_application_refusals_change_nothing(registry: Berth) -> None:
    await create_org(registry, "lab")
    await create_org(registry, "other", owner="bob")
    h = await auth(registry, "alice")
    r = await registry.http.post(ORG + "lab/applications", headers=h, json={"name": "ci"})
    mine = r.json()["client_id"]
    r = await registry.http.post(
        ORG + "other/applications", headers=await auth(registry, "bob"), json={"name": "x"}
    )
    theirs = r.json()["client_id"]
    before = await snapshot(registry)
    r = await registry.http.put(f"{ORG}lab/applications/{mine}", headers=h, json={"name": "n"})
    assert r.status_code == 400
    assert r.json()["error_type"] == "invalid_request"  # redirect_uri, application_uri needed
    r = await registry.http.post(ORG + "lab/applications", headers=h, json={"description": "d"})
    assert r.status_code == 400
    r = await registry.http.delete(f"{ORG}lab/applications/{theirs}", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")  # another organization's application
    for headers in (await auth(registry, "bob"), await auth(registry, "alice", NO_ORG_ADMIN)):
        r = await registry.http.post(
            ORG + "lab/applications", headers=headers, json={"name": "evil"}
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        r = await registry.http.post(
            f"{ORG}lab/applications/{mine}/resetclientsecret", headers=headers
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        r = await registry.http.get(ORG + "lab/applications", headers=headers)
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    await anonymous_write_refused(registry, "DELETE", f"{ORG}lab/applications/{mine}")
    assert await snapshot(registry) == before
