"""Repositories over /api/v1: create, list, get, description, visibility, state, delete.

Callers come from the identity scenario (tests/integration/identity_scenario.py): in the
organization ``acme``, ``reader``/``writer``/``repoadmin`` hold that role on ``acme/app``,
``orgadmin`` is in the owners team, ``creator`` in a creator team, ``member`` in a member
team; ``bob`` is unrelated; ``root`` is a superuser.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.integration.api.conftest import ALL_SCOPES, bearer, oauth_token
from tests.integration.api.test_framework import CSRF_BODY, NOT_FOUND_BODY, assert_problem
from tests.integration.conftest import (
    OCI_MANIFEST,
    Berth,
    assert_error,
    digest_of,
    random_bytes,
    token_access,
)
from tests.integration.identity_scenario import APP, PASSWORD, PUB, build

API = "/api/v1"
BAD_REQUEST = {
    "message": "The browser (or proxy) sent a request that this server could not understand."
}
LIST_KEYS = {"namespace", "name", "description", "is_public", "kind", "state"}
DETAIL_KEYS = {
    "namespace", "name", "kind", "description", "is_public", "is_organization", "is_starred",
    "status_token", "trust_enabled", "tag_expiration_s", "is_free_account", "state", "tags",
    "can_write", "can_admin",
}  # fmt: skip


async def auth(registry: Berth, who: str, scope: str = ALL_SCOPES) -> dict[str, str]:
    return bearer(await oauth_token(registry, who, scope))


async def scalar(registry: Berth, sql: str, **params: Any) -> Any:
    async with registry.services.db.read() as s:
        return (await s.execute(text(sql), params)).scalar()


async def repo_row(registry: Berth, full: str) -> dict[str, Any] | None:
    namespace, _, name = full.partition("/")
    async with registry.services.db.read() as s:
        row = (
            await s.execute(
                text(
                    "SELECT r.id, r.description, r.is_public, r.state FROM repositories r "
                    "JOIN namespaces n ON n.id = r.namespace_id WHERE n.name = :ns AND r.name = :n"
                ),
                {"ns": namespace, "n": name},
            )
        ).first()
    return {**row._mapping, "is_public": bool(row.is_public)} if row else None


async def log_kinds(registry: Berth, namespace: str) -> list[str]:
    async with registry.services.db.read() as s:
        rows = await s.execute(
            text("SELECT kind FROM log_entries WHERE namespace = :ns ORDER BY id"),
            {"ns": namespace},
        )
        return list(rows.scalars())


async def create(
    registry: Berth, headers: dict[str, str], name: str, **body: Any
) -> httpx.Response:
    payload = {"repository": name, "visibility": "private", "description": "", **body}
    return await registry.http.post(f"{API}/repository", json=payload, headers=headers)


async def listing(registry: Berth, headers: dict[str, str] | None = None, **params: Any) -> Any:
    r = await registry.http.get(f"{API}/repository", params=params, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


def names(body: dict[str, Any]) -> list[str]:
    return [f"{r['namespace']}/{r['name']}" for r in body["repositories"]]


# -------------------------------------------------------------------------------- create


async def test_create_returns_201_and_defaults_to_the_callers_namespace(registry: Berth) -> None:
    h = await auth(registry, "alice")
    r = await create(registry, h, "web", description="the *web* app", visibility="public")
    assert r.status_code == 201, r.text
    assert r.json() == {"namespace": "alice", "name": "web", "kind": "image"}
    r = await create(registry, h, "team/tool", namespace="alice", repo_kind=None)
    assert r.status_code == 201, r.text
    assert r.json() == {"namespace": "alice", "name": "team/tool", "kind": "image"}
    r = await registry.http.get(f"{API}/repository/alice/web", headers=h)
    body = r.json()
    assert set(body) == DETAIL_KEYS
    assert body["description"] == "the *web* app"
    assert body["is_public"] is True
    assert body["tags"] == {}
    assert (body["can_write"], body["can_admin"]) == (True, True)
    assert (await repo_row(registry, "alice/team/tool"))["is_public"] is False  # type: ignore[index]
    assert await log_kinds(registry, "alice") == ["create_repo", "create_repo"]
    # The repository is usable at once by the registry protocol.
    pushed = await registry.client("alice").push_image("alice/web", "v1")
    r = await registry.client(None).get(
        "/v2/alice/web/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert r.status_code == 200
    assert r.content == pushed.manifest


async def test_create_in_an_org_makes_the_creator_admin_and_applies_prototypes(
    registry: Berth,
) -> None:
    """Scenario 7 (Ansible): creator-team member creates through the API, prototypes apply."""
    await build(registry)
    perms = registry.services.permissions
    await perms.create_prototype("acme", "read", delegate_team="devs")
    await perms.create_prototype("acme", "write", delegate_user="reader")
    r = await create(registry, await auth(registry, "creator"), "built", namespace="acme")
    assert r.status_code == 201, r.text
    built = registry.services.registry.name("acme/built")
    users = {p.name: p.role for p in await perms.list_user_permissions(built)}
    assert users == {"creator": "admin", "reader": "write"}
    assert {t.name: t.role for t in await perms.list_team_permissions(built)} == {"devs": "read"}
    r = await registry.http.get(
        f"{API}/repository/acme/built", headers=await auth(registry, "reader")
    )
    assert (r.json()["can_write"], r.json()["is_organization"]) == (True, True)


@pytest.mark.parametrize(
    ("who", "scope", "status"),
    [
        ("orgadmin", ALL_SCOPES, 201),
        ("creator", "repo:create", 201),
        ("creator", "repo:read repo:write repo:admin", 403),  # no repo:create on the token
        ("member", ALL_SCOPES, 403),
        ("writer", ALL_SCOPES, 403),  # write on acme/app is no create right in acme
        ("bob", ALL_SCOPES, 403),
        ("root", ALL_SCOPES, 403),  # superuser powers need FEATURE_SUPERUSERS_FULL_ACCESS
    ],
)
async def test_create_rights(registry: Berth, who: str, scope: str, status: int) -> None:
    await build(registry)
    r = await create(registry, await auth(registry, who, scope), "made", namespace="acme")
    assert r.status_code == status, r.text
    if status == 403:
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        assert await repo_row(registry, "acme/made") is None


async def test_create_refusals_change_nothing(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    h = await auth(registry, "alice")
    assert (await create(registry, h, "app", description="first")).status_code == 201
    r = await registry.http.post(f"{API}/repository", json={"repository": "x"})
    assert (r.status_code, r.json()) == (403, CSRF_BODY)  # anonymous write: CSRF
    r = await create(registry, h, "app", description="second")
    assert_problem(r, 400, "invalid_request", "Repository already exists")
    for bad in ("Upper", "has space", "-dash", "a//b", "x" * 260, ""):
        r = await create(registry, h, bad)
        assert_problem(r, 400, "invalid_request", "Invalid repository name")
    r = await create(registry, h, "new", visibility="secret")
    assert_problem(r, 400, "invalid_request", '\'secret\' is not one of ["public","private"]')
    r = await registry.http.post(
        f"{API}/repository", json={"repository": "new", "visibility": "private"}, headers=h
    )
    assert_problem(r, 400, "invalid_request", "'description' is a required property")
    r = await create(registry, h, "new", namespace="nosuchns")
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await create(registry, h, "new", namespace="bob")
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    assert names(await listing(registry, h, namespace="alice")) == ["alice/app"]
    assert (await repo_row(registry, "alice/app"))["description"] == "first"  # type: ignore[index]
    assert await repo_row(registry, "bob/new") is None
    assert await log_kinds(registry, "alice") == ["create_repo"]
    async with configured(FEATURE_EXTENDED_REPOSITORY_NAMES=False) as b:
        r = await create(b, await auth(b, "alice"), "team/tool")
        assert_problem(r, 400, "invalid_request", "Invalid repository name")


async def test_superuser_with_full_access_creates_anywhere(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_SUPERUSERS_FULL_ACCESS=True) as b:
        r = await create(b, await auth(b, "root"), "ops", namespace="alice")
        assert r.status_code == 201, r.text
        perms = await b.services.permissions.list_user_permissions(
            b.services.registry.name("alice/ops")
        )
        assert {p.name: p.role for p in perms} == {"root": "admin"}
        h = await auth(b, "root")
        r = await b.http.post(
            f"{API}/repository/alice/ops/changevisibility", json={"visibility": "public"}, headers=h
        )
        assert r.status_code == 200
        r = await b.http.get(f"{API}/repository/alice/ops", headers=h)
        assert (r.json()["is_public"], r.json()["can_admin"]) == (True, True)
        await create(b, await auth(b, "alice"), "secret")  # private, alice's
        assert names(await listing(b, h, namespace="alice")) == ["alice/ops", "alice/secret"]
        assert (await b.http.delete(f"{API}/repository/alice/ops", headers=h)).status_code == 204
        assert await repo_row(b, "alice/ops") is None


# ---------------------------------------------------------------------------------- list


async def test_list_needs_a_filter(registry: Berth) -> None:
    r = await registry.http.get(f"{API}/repository", headers=await auth(registry, "alice"))
    assert_problem(
        r, 400, "invalid_request", "namespace, starred or public are required for this API call"
    )
    r = await registry.http.get(f"{API}/repository?namespace=")
    assert r.status_code == 400
    r = await registry.http.get(f"{API}/repository?starred=true")
    assert (r.status_code, r.json()) == (400, BAD_REQUEST)  # starred needs a user


@pytest.mark.parametrize(
    ("who", "params", "expected"),
    [
        (None, {"namespace": "acme", "public": "true"}, ["acme/pub"]),
        (None, {"namespace": "acme"}, []),
        (None, {"public": "true"}, ["acme/pub"]),
        ("bob", {"namespace": "acme"}, []),
        ("bob", {"namespace": "acme", "public": "True"}, ["acme/pub"]),
        ("reader", {"namespace": "acme"}, ["acme/app"]),
        ("reader", {"namespace": "acme", "public": "1"}, ["acme/app", "acme/pub"]),
        ("member", {"namespace": "acme"}, ["acme/app"]),  # devs team has write on acme/app
        ("orgadmin", {"namespace": "acme"}, ["acme/app", "acme/pub"]),
        ("root", {"namespace": "acme"}, []),  # superuser, but no full access: its roles
    ],
)
async def test_list_shows_what_the_caller_may_read(
    registry: Berth, who: str | None, params: dict[str, str], expected: list[str]
) -> None:
    await build(registry)
    headers = await auth(registry, who) if who else None
    body = await listing(registry, headers, **params)
    assert names(body) == expected
    assert "next_page" not in body
    for item in body["repositories"]:
        assert set(item) == (LIST_KEYS | {"is_starred"} if who else LIST_KEYS)
        assert item["kind"] == "image"
        assert item["state"] == "NORMAL"
        assert item["is_public"] == (item["name"] == "pub")


async def test_list_scope_and_anonymous_access(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    await build(registry)
    # A token that can't read repositories sees public ones only.
    h = await auth(registry, "orgadmin", "org:admin")
    assert names(await listing(registry, h, namespace="acme", public="true")) == [PUB.full]
    assert names(await listing(registry, h, namespace="acme", repo_kind="application")) == []
    async with configured(FEATURE_ANONYMOUS_ACCESS=False) as b:
        r = await b.http.get(f"{API}/repository?namespace=alice&public=true")
        assert (r.status_code, r.json()) == (401, {"error": "Anonymous access is not allowed"})


async def test_list_pages_by_100_with_next_page(registry: Berth) -> None:
    repos = registry.services.repos
    alice = await registry.services.auth.authenticate_basic("alice", "alice-password")
    expected = [f"alice/r{i:03d}" for i in range(205)]
    for full in expected:
        await repos.create(
            registry.services.registry.name(full), creator=alice, description="", public=True
        )
    for who in ("alice", None):  # the owner; anonymous callers with public=true
        h = await auth(registry, who) if who else None
        seen: list[str] = []
        sizes = []
        params: dict[str, str] = {"namespace": "alice", "public": "true"}
        while True:
            body = await listing(registry, h, **params)
            seen += names(body)
            sizes.append(len(body["repositories"]))
            if "next_page" not in body:
                break
            params["next_page"] = body["next_page"]
        assert sizes == [100, 100, 5]
        assert seen == expected
    # A token that can't be opened is the first page, as in Quay.
    body = await listing(registry, None, namespace="alice", public="true", next_page="garbage")
    assert names(body)[0] == "alice/r000"


async def test_list_last_modified_popularity_and_quota(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    alice = registry.client("alice")
    before = int(time.time())
    await alice.push_image("alice/app", "v1")
    h = await auth(registry, "alice")
    assert (await create(registry, h, "empty")).status_code == 201
    for _ in range(3):
        r = await alice.get("/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200
    await registry.flush_pulls()
    async with registry.services.db.write() as s:
        await s.execute(text("UPDATE repositories SET size_bytes = 4321 WHERE name = 'app'"))
    plain = await listing(registry, h, namespace="alice")
    assert all(set(item) == LIST_KEYS | {"is_starred"} for item in plain["repositories"])
    body = await listing(
        registry, h, namespace="alice", last_modified="true", popularity="true", quota="true"
    )
    app, empty = body["repositories"]
    assert before <= app["last_modified"] <= int(time.time())
    assert empty["last_modified"] is None
    assert (app["popularity"], empty["popularity"]) == (3.0, 0.0)
    assert app["quota_report"] == {"quota_bytes": 4321, "configured_quota": None}
    assert empty["quota_report"] == {"quota_bytes": 0, "configured_quota": None}
    async with configured(  # no QUOTA_BACKFILL: it would recount the 4321 set above
        FEATURE_QUOTA_MANAGEMENT=True,
        DEFAULT_SYSTEM_REJECT_QUOTA_BYTES=10_000_000,
        QUOTA_BACKFILL=False,
    ) as b:
        assert (await create(b, await auth(b, "alice"), "q")).status_code == 201
        body = await listing(b, await auth(b, "alice"), namespace="alice")
        reports = {item["name"]: item["quota_report"] for item in body["repositories"]}
        assert reports == {
            "app": {"quota_bytes": 4321, "configured_quota": 10_000_000},
            "empty": {"quota_bytes": 0, "configured_quota": 10_000_000},
            "q": {"quota_bytes": 0, "configured_quota": 10_000_000},
        }


# ----------------------------------------------------------------------------------- get


async def test_get_shows_tags_as_an_object_keyed_by_name(registry: Berth) -> None:
    """Scenario 4: a robot's push creates a private repository; GET shows it and its tag."""
    sc = await build(registry)
    robot = registry.client("acme+writer", password=sc.tokens["acme+writer"])
    await registry.services.teams.create_or_update("acme", "bots", role="creator")
    await registry.services.teams.add_member("acme", "bots", "acme+writer", performer="orgadmin")
    first = await robot.push_image("acme/newrepo", "v1")
    await robot.push_manifest("acme/newrepo", "stable", first.manifest, first.media_type)
    second = await robot.push_image("acme/newrepo", "v2")
    await robot.push_image("acme/newrepo", None)  # by digest only: no tag to show
    expires = int(time.time()) + 86400
    async with registry.services.db.write() as s:
        await s.execute(
            text("UPDATE tags SET end_ts = :e WHERE name = 'v2'"), {"e": expires * 1000}
        )
    h = await auth(registry, "orgadmin")
    r = await registry.http.get(f"{API}/repository/acme/newrepo", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == DETAIL_KEYS
    assert body["is_public"] is False
    assert body["is_organization"] is True
    assert body["state"] == "NORMAL"
    assert body["tag_expiration_s"] == 1209600
    assert set(body["tags"]) == {"v1", "stable", "v2"}
    v1, v2 = body["tags"]["v1"], body["tags"]["v2"]
    assert set(v1) == {"name", "size", "last_modified", "manifest_digest"}
    assert v1["name"] == "v1"
    assert v1["manifest_digest"] == first.digest == body["tags"]["stable"]["manifest_digest"]
    assert v1["size"] == sum(len(b) for b in first.blobs)  # config and layers
    assert v1["last_modified"].endswith(" -0000")
    assert v2["manifest_digest"] == second.digest
    assert v2["expiration"].endswith(" -0000")
    perms = await registry.services.permissions.list_user_permissions(
        registry.services.registry.name("acme/newrepo")
    )
    assert {p.name: p.role for p in perms}["acme+writer"] == "admin"
    r = await registry.http.get(f"{API}/repository/acme/newrepo?includeTags=false", headers=h)
    assert "tags" not in r.json()
    r = await registry.http.get(f"{API}/repository/acme%2Fnewrepo", headers=h)
    assert set(r.json()["tags"]) == {"v1", "stable", "v2"}


async def test_get_shows_at_most_500_tags_the_newest(registry: Berth) -> None:
    await registry.client("alice").push_image("alice/app", "v0")
    async with registry.services.db.write() as s:
        manifest_id, repo_id = (
            await s.execute(text("SELECT manifest_id, repository_id FROM tags WHERE name = 'v0'"))
        ).one()
        await s.execute(
            text(
                "INSERT INTO tags (repository_id, name, manifest_id, start_ts, hidden, "
                "reversion, immutable) VALUES (:r, :n, :m, :t, false, false, false)"
            ),
            [{"r": repo_id, "n": f"t{i}", "m": manifest_id, "t": 10**12 + i} for i in range(520)],
        )
    r = await registry.http.get(
        f"{API}/repository/alice/app", headers=await auth(registry, "alice")
    )
    tags = r.json()["tags"]
    assert len(tags) == 500
    assert "v0" in tags  # pushed now: the newest
    assert {f"t{i}" for i in range(21, 520)} <= set(tags)
    assert "t20" not in tags


async def test_get_stats_count_usage_log_entries_per_day(registry: Berth) -> None:
    """Quay's action counts: every usage-log entry of the repository, per day."""
    alice = registry.client("alice")
    await alice.push_image("alice/app", "v1")
    await alice.get("/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    await registry.flush_pulls()
    r = await registry.http.get(
        f"{API}/repository/alice/app?includeStats=true", headers=await auth(registry, "alice")
    )
    stats = r.json()["stats"]
    assert len(stats) == 92
    assert stats[-1] == {"date": time.strftime("%Y-%m-%d", time.gmtime()), "count": 3}
    assert sum(day["count"] for day in stats) == 3  # create_repo, push_repo, pull_repo


@pytest.mark.parametrize(
    ("who", "status", "can_write", "can_admin"),
    [
        (None, 401, None, None),
        ("bob", 403, None, None),
        ("member", 200, True, False),  # through the devs team
        ("reader", 200, False, False),
        ("writer", 200, True, False),
        ("repoadmin", 200, True, True),
        ("orgadmin", 200, True, True),
        ("root", 403, None, None),  # a superuser's powers need FEATURE_SUPERUSERS_FULL_ACCESS
    ],
)
async def test_get_private_repository_by_role(
    registry: Berth, who: str | None, status: int, can_write: bool, can_admin: bool
) -> None:
    await build(registry)
    headers = await auth(registry, who) if who else {}
    r = await registry.http.get(f"{API}/repository/{APP.full}", headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert (r.json()["can_write"], r.json()["can_admin"]) == (can_write, can_admin)
        assert set(r.json()["tags"]) == {"v1"}
    elif status == 401:
        assert_problem(r, 401, "invalid_token", "Requires authentication")
    else:
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")


async def test_missing_repository_permission_before_existence(registry: Berth, configured) -> None:  # type: ignore[no-untyped-def]
    """Quay 8.6: 401 anonymous, 403 without rights on the namespace, 404 for its admins."""
    await build(registry)
    url = f"{API}/repository/acme/nothere"
    cases = [
        # who, GET, PUT (anonymous writes meet CSRF first; superusers need full access)
        (None, 401, 403),
        ("bob", 403, 403),
        ("reader", 403, 403),
        ("orgadmin", 404, 404),
        ("root", 403, 403),
    ]
    for who, get_status, put_status in cases:
        headers = await auth(registry, who) if who else {}
        assert (await registry.http.get(url, headers=headers)).status_code == get_status, who
        r = await registry.http.put(url, json={"description": "x"}, headers=headers)
        assert r.status_code == put_status, who
    r = await registry.http.get(url, headers=await auth(registry, "orgadmin"))
    assert_problem(r, 404, "not_found", "Not Found")
    r = await registry.http.get(f"{API}/repository/{PUB.full}")
    assert r.status_code == 200
    assert (r.json()["can_write"], r.json()["can_admin"], r.json()["is_starred"]) == (
        False,
        False,
        False,
    )
    async with configured(FEATURE_ANONYMOUS_ACCESS=False) as b:
        assert (await b.http.get(f"{API}/repository/alice/x")).status_code == 401


# ---------------------------------------------------------------------- update / visibility


async def test_update_description(registry: Berth) -> None:
    await build(registry)
    url = f"{API}/repository/{APP.full}"
    r = await registry.http.put(
        url, json={"description": "new"}, headers=await auth(registry, "writer")
    )
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert (await repo_row(registry, APP.full))["description"] == "new"  # type: ignore[index]
    for who, status in (("reader", 403), ("bob", 403)):
        r = await registry.http.put(
            url, json={"description": "no"}, headers=await auth(registry, who)
        )
        assert r.status_code == status
    r = await registry.http.put(
        url, json={"description": "no"}, headers={"Authorization": "Bearer x"}
    )
    assert (r.status_code, r.json()) == (403, CSRF_BODY)
    r = await registry.http.put(
        url, json={"description": 5}, headers=await auth(registry, "writer")
    )
    assert_problem(r, 400, "invalid_request", "5 is not of type 'string'")
    r = await registry.http.put(url, json={}, headers=await auth(registry, "writer"))
    assert_problem(r, 400, "invalid_request", "'description' is a required property")
    assert (await repo_row(registry, APP.full))["description"] == "new"  # type: ignore[index]
    assert (await log_kinds(registry, "acme")).count("set_repo_description") == 1


async def test_change_visibility(registry: Berth) -> None:
    """Scenario 5: public, then listed to anonymous callers (the RDO pruner)."""
    await build(registry)
    url = f"{API}/repository/{APP.full}/changevisibility"
    for who in ("writer", "bob"):
        r = await registry.http.post(
            url, json={"visibility": "public"}, headers=await auth(registry, who)
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    h = await auth(registry, "repoadmin")
    r = await registry.http.post(url, json={"visibility": "open"}, headers=h)
    assert_problem(r, 400, "invalid_request", '\'open\' is not one of ["public","private"]')
    assert names(await listing(registry, None, namespace="acme", public="true")) == [PUB.full]
    r = await registry.http.post(url, json={"visibility": "public"}, headers=h)
    assert (r.status_code, r.json()) == (200, {"success": True})
    body = await listing(registry, None, namespace="acme", public="true")
    assert names(body) == [APP.full, PUB.full]
    assert body["repositories"][0]["is_public"] is True
    r = await registry.client(None).get(
        f"/v2/{APP.full}/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert r.status_code == 200
    r = await registry.http.post(url, json={"visibility": "private"}, headers=h)
    assert r.status_code == 200
    assert names(await listing(registry, None, namespace="acme", public="true")) == [PUB.full]
    gone = f"{API}/repository/acme/gone/changevisibility"
    r = await registry.http.post(gone, json={"visibility": "public"}, headers=h)
    assert_problem(r, 403, "insufficient_scope", "Unauthorized")  # no admin role in acme
    r = await registry.http.post(
        gone, json={"visibility": "public"}, headers=await auth(registry, "orgadmin")
    )
    assert_problem(r, 404, "not_found", "Not Found")
    assert (await log_kinds(registry, "acme")).count("change_repo_visibility") == 3  # build: 1


# --------------------------------------------------------------------------------- state


async def test_change_state_refuses_pushes_until_normal(configured) -> None:  # type: ignore[no-untyped-def]
    async with configured(FEATURE_REPO_MIRROR=True) as b:
        alice = b.client("alice")
        await alice.push_image("alice/app", "v1")
        early = b.client("alice")
        await early.login("alice/app", "pull", "push")  # a push token from before the change
        h = await auth(b, "alice")
        url = f"{API}/repository/alice/app/changestate"
        for state, message in (
            ("READ_ONLY", "alice/app is in read-only mode."),
            ("MIRROR", "Repository alice/app is a mirror. Mirrored repositories cannot be "
             "modified directly."),
        ):  # fmt: skip
            r = await b.http.put(url, json={"state": state}, headers=h)
            assert (r.status_code, r.json()) == (200, {"success": True})
            r = await b.http.get(f"{API}/repository/alice/app", headers=h)
            assert (r.json()["state"], r.json()["can_write"], r.json()["can_admin"]) == (
                state,
                False,
                True,
            )
            # A new token leaves push out; an older one is refused with Quay's 405.
            tok = (await b.client("alice").token("repository:alice/app:pull,push")).json()
            assert token_access(tok["token"]) == {"alice/app": {"pull"}}
            r = await early.post("/v2/alice/app/blobs/uploads/")
            err = assert_error(r, 405, "DENIED")
            assert err["message"] == message
            pushed = await b.client("alice").get(
                "/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST}
            )
            assert pushed.status_code == 200  # pulls go on
        r = await b.http.put(url, json={"state": "FROZEN"}, headers=h)
        assert_problem(
            r, 400, "invalid_request", '\'FROZEN\' is not one of ["NORMAL","READ_ONLY","MIRROR"]'
        )
        assert (await repo_row(b, "alice/app"))["state"] == "MIRROR"  # type: ignore[index]
        r = await b.http.put(url, json={"state": "NORMAL"}, headers=await auth(b, "bob"))
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
        r = await b.http.put(url, json={"state": "NORMAL"}, headers=h)
        assert r.status_code == 200
        await b.client("alice").push_image("alice/app", "v2")
        assert (await log_kinds(b, "alice")).count("change_repo_state") == 3


async def test_changestate_needs_repo_mirror(registry: Berth) -> None:
    h = await auth(registry, "alice")
    await registry.client("alice").push_image("alice/app", "v1")
    r = await registry.http.put(
        f"{API}/repository/alice/app/changestate", json={"state": "READ_ONLY"}, headers=h
    )
    assert (r.status_code, r.json()) == (404, NOT_FOUND_BODY)
    assert (await repo_row(registry, "alice/app"))["state"] == "NORMAL"  # type: ignore[index]


# -------------------------------------------------------------------------------- delete


async def wait_gone(registry: Berth, repository_id: int) -> None:
    """The delete job runs in the server's own worker; wait for it to finish (two minutes at
    most: the long lane runs one job at a time, after the sweeps scheduled at start-up, and
    twice in a full run on a loaded machine a minute was not enough). On a timeout the
    message lists the jobs, to tell a slow lane from a failing job."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (
            await scalar(
                registry, "SELECT count(*) FROM repositories WHERE id = :i", i=repository_id
            )
            == 0
        ):
            return
        await asyncio.sleep(0.05)
    async with registry.services.db.read() as s:
        jobs = (
            await s.execute(
                text("SELECT kind, lane, state, attempts, run_at, last_error FROM jobs")
            )
        ).all()
    raise AssertionError(f"repository {repository_id} still has its row; jobs: {jobs}")


async def test_delete_hides_at_once_frees_the_name_and_the_job_removes_the_rows(
    registry: Berth,
) -> None:
    alice = registry.client("alice")
    h = await auth(registry, "alice")
    old = await alice.push_image("alice/app", "v1", layers=[random_bytes(2048)])
    await alice.push_image("alice/app", "v2")
    await alice.start_upload("alice/app")  # an upload session left open
    r = await registry.http.post(
        f"{API}/user/starred", json={"namespace": "alice", "repository": "app"}, headers=h
    )
    assert r.status_code == 201
    old_id = (await repo_row(registry, "alice/app"))["id"]  # type: ignore[index]
    old_blobs = await scalar(
        registry, "SELECT count(*) FROM repository_blobs WHERE repository_id = :i", i=old_id
    )
    assert old_blobs > 0

    for who in ("bob",):
        r = await registry.http.delete(
            f"{API}/repository/alice/app", headers=await auth(registry, who)
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    r = await registry.http.delete(f"{API}/repository/alice/app")
    assert (r.status_code, r.json()) == (403, CSRF_BODY)
    assert await repo_row(registry, "alice/app") is not None

    r = await registry.http.delete(f"{API}/repository/alice/app", headers=h)
    assert r.status_code == 204
    assert r.content == b""
    # Gone at once: API, list, stars, /v2 (even with a token from before) and the catalog.
    r = await registry.http.get(f"{API}/repository/alice/app", headers=h)
    assert_problem(r, 404, "not_found", "Not Found")
    assert names(await listing(registry, h, namespace="alice")) == []
    assert (await registry.http.get(f"{API}/user/starred", headers=h)).json() == {
        "repositories": []
    }
    r = await alice.get("/v2/alice/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert_error(r, 404, "NAME_UNKNOWN")
    r = await alice.get(f"/v2/alice/app/blobs/{digest_of(old.layers[0])}")
    assert r.status_code == 404
    for who in ("alice", "root"):  # the owner; a superuser (who sees every repository)
        tok = (await registry.client(who).token()).json()["token"]
        r = await registry.http.get("/v2/_catalog", headers={"Authorization": f"Bearer {tok}"})
        assert r.json()["repositories"] == [], who
    # Deleting again (or something that never existed) is 204, as in Quay.
    assert (await registry.http.delete(f"{API}/repository/alice/app", headers=h)).status_code == 204
    assert (await log_kinds(registry, "alice")).count("delete_repo") == 1

    # The name is reusable at once, by a push.
    fresh = registry.client("alice")
    new = await fresh.push_image("alice/app", "v3")
    r = await fresh.get("/v2/alice/app/tags/list")
    assert r.json()["tags"] == ["v3"]
    r = await fresh.get(f"/v2/alice/app/blobs/{digest_of(old.layers[0])}")
    assert r.status_code == 404  # the old repository's content is not part of the new one
    r = await registry.http.get(f"{API}/repository/alice/app", headers=h)
    assert set(r.json()["tags"]) == {"v3"}
    assert r.json()["tags"]["v3"]["manifest_digest"] == new.digest
    assert r.json()["is_starred"] is False

    # The job removes every row of the old repository; its blobs are GC's business.
    await wait_gone(registry, old_id)
    for table in ("tags", "manifests", "repository_blobs", "uploads", "repository_permissions"):
        left = await scalar(
            registry,
            f"SELECT count(*) FROM {table} WHERE repository_id = :i",  # noqa: S608
            i=old_id,
        )
        assert left == 0, table
    still_linked = await scalar(
        registry,
        "SELECT count(*) FROM blobs b WHERE b.digest = :d AND (EXISTS (SELECT 1 FROM "
        "manifest_blobs mb WHERE mb.blob_id = b.id) OR EXISTS (SELECT 1 FROM repository_blobs "
        "rb WHERE rb.blob_id = b.id))",
        d=digest_of(old.layers[0]),
    )
    assert still_linked == 0
    assert (
        await scalar(
            registry, "SELECT count(*) FROM blobs WHERE digest = :d", d=digest_of(old.layers[0])
        )
        == 1
    )


async def test_delete_permissions_and_popularity_of_a_reused_name(registry: Berth) -> None:
    await build(registry)
    for who in ("writer", "reader", "member"):
        r = await registry.http.delete(
            f"{API}/repository/{APP.full}", headers=await auth(registry, who)
        )
        assert_problem(r, 403, "insufficient_scope", "Unauthorized")
    orgadmin = registry.client("orgadmin", password=PASSWORD)
    await orgadmin.get(f"/v2/{APP.full}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    await registry.flush_pulls()
    devs = f"{API}/organization/acme/team/devs/permissions"
    orgadmin_h = await auth(registry, "orgadmin")
    assert len((await registry.http.get(devs, headers=orgadmin_h)).json()["permissions"]) == 1
    r = await registry.http.delete(
        f"{API}/repository/{APP.full}", headers=await auth(registry, "repoadmin")
    )
    assert r.status_code == 204
    # Its permissions went with it at once: listings don't show the hidden repository.
    assert (await registry.http.get(devs, headers=orgadmin_h)).json()["permissions"] == []
    await registry.client("orgadmin", password=PASSWORD).push_image(APP.full, "v1")
    body = await listing(
        registry, await auth(registry, "orgadmin"), namespace="acme", popularity="1"
    )
    assert body["repositories"][-1]["name"] == "app"
    assert body["repositories"][-1]["popularity"] == 0.0  # pulls of the old repository don't count
    # The re-created repository got the prototypes, not the old one's permissions.
    perms = await registry.services.permissions.list_user_permissions(APP)
    assert {p.name for p in perms} == {"orgadmin"}
